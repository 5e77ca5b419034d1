/**
 * With tracing on, the record keeps the trace id of the POST that delivered it: the receive function reads it
 * from the trace header Lambda sets for each traced invocation (`_X_AMZN_TRACE_ID`), and it is stored and read
 * back with the record. Against the local SQS-API and DynamoDB-API servers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createReceiveHandler, traceIdOf } from '../../functions/receive-webhook/receive-webhook';
import type { QueueMessage } from '../../lib/events/event-record';
import { storeBatch } from '../../lib/ingest/store-batch';
import { RecordsRepository } from '../../lib/queries/records-repository';
import { EventQueue } from '../../lib/queue/event-queue';
import { sdkSendMessage } from '../../lib/queue/sdk-send-message';
import { StaticSigningSecrets } from '../../lib/signature/signing-secrets';
import { hexSignature, memoryLogger, soriPayload, webhookEvent } from '../support/deliveries';
import { createTestQueues, createTestTable, localClients, takeMessages } from '../support/local-aws';

const SECRET = 'sk_trace_0123456789';
const HEADER = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
const { sqs, dynamodb } = localClients();
const saved = process.env._X_AMZN_TRACE_ID;

afterEach(() => {
  if (saved === undefined) delete process.env._X_AMZN_TRACE_ID;
  else process.env._X_AMZN_TRACE_ID = saved;
});

/** One signed SORI impression through the receive handler; the message it queued. */
async function receiveOne(activity: string): Promise<QueueMessage> {
  const { queueUrl } = await createTestQueues(sqs);
  const handler = createReceiveHandler({
    queue: new EventQueue(sdkSendMessage(sqs), queueUrl),
    secrets: new StaticSigningSecrets({ sori: { current: SECRET, previous: null } }),
    maxBodyBytes: 262_144,
    logger: memoryLogger().logger,
  });
  const body = JSON.stringify({ ...soriPayload('impression'), activity_id: activity });
  const answer = (await handler(
    webhookEvent({ body, headers: { 'x-sori-signature': hexSignature(body, SECRET) } }),
    {} as never,
  )) as { statusCode: number };
  expect(answer.statusCode).toBe(202);
  const [message] = (await takeMessages(sqs, queueUrl)).map((text) => JSON.parse(text) as QueueMessage);
  return message as QueueMessage;
}

describe('the trace id on a record', () => {
  it('is the Root of the invocation’s trace header, kept through the queue and the table', async () => {
    process.env._X_AMZN_TRACE_ID = HEADER;
    const message = await receiveOne('act_traced');
    expect(message.record).toMatchObject({ trace_id: '1-5759e988-bd862e3fe1be46a994272793' });
    const { tableName, writer, counters } = await createTestTable(dynamodb);
    await storeBatch(writer, counters, [message]);
    const [stored] = await new RecordsRepository(dynamodb, tableName).queryEvents({
      provider: 'sori',
      campaign: 'cmp_1234',
      limit: 10,
    });
    expect(stored).toMatchObject({ id: message.record.id, trace_id: '1-5759e988-bd862e3fe1be46a994272793' });
  });

  it('is absent outside a traced invocation', async () => {
    delete process.env._X_AMZN_TRACE_ID;
    const message = await receiveOne('act_untraced');
    expect(message.record).toMatchObject({ trace_id: null });
  });

  it('is absent when the invocation’s trace was not recorded (Sampled=0), kept through the queue and the table', async () => {
    process.env._X_AMZN_TRACE_ID = HEADER.replace('Sampled=1', 'Sampled=0');
    const message = await receiveOne('act_unsampled');
    expect(message.record).toMatchObject({ trace_id: null });
    const { tableName, writer, counters } = await createTestTable(dynamodb);
    await storeBatch(writer, counters, [message]);
    const [stored] = await new RecordsRepository(dynamodb, tableName).queryEvents({
      provider: 'sori',
      campaign: 'cmp_1234',
      limit: 10,
    });
    expect(stored).toMatchObject({ id: message.record.id, trace_id: null });
  });

  it('is read from a well-formed Root of a sampled trace only, in any order of the fields', () => {
    expect(traceIdOf(HEADER)).toBe('1-5759e988-bd862e3fe1be46a994272793');
    expect(traceIdOf('Parent=53995c3f42cd8ad8;Sampled=1;Root=1-5759e988-bd862e3fe1be46a994272793')).toBe(
      '1-5759e988-bd862e3fe1be46a994272793',
    );
    for (const header of [
      undefined,
      '',
      'Root=',
      'Root=1-xyz-abc',
      'Root=1-5759e988-bd862e3fe1be46a99427279;Sampled=1',
      'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0',
      'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?',
      'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8',
      'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=10',
    ]) {
      expect(traceIdOf(header), String(header)).toBeUndefined();
    }
  });
});
