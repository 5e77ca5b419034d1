import {
  CreateQueueCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  type SendMessageBatchCommandInput,
  type SendMessageBatchCommandOutput,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { describe, expect, inject, it } from 'vitest';
import { DestinationError } from '../../lib/destinations/destination';
import { SqsDestination } from '../../lib/destinations/sqs';
import type { EventRecord } from '../../lib/events/event-record';
import { localClientConfig } from '../../local/stack-info';
import { createTestQueues, localClients, uniqueName } from '../support/local-aws';

const { sqs } = localClients();

const record = (i: number): EventRecord => ({
  id: `sori_sqs_${i}`,
  provider: 'sori',
  event: 'campaign.click',
  account_id: null,
  campaign_id: 'cmp_1',
  campaign_name: null,
  material_id: null,
  material_name: null,
  activity_id: null,
  device_id: null,
  platform: null,
  created_at: '2026-03-01T10:00:00.000Z',
  received_at: '2026-03-01T10:00:01.000Z',
  metadata: null,
  geolocation: null,
});

/**
 * A client of the run's SQS server that, for the calls `refuse` picks, leaves the chosen entries out of the call
 * and answers them as failed. A fault injected, by necessity: the local server cannot be made to refuse chosen
 * entries of a batch. Every call's entry ids are kept.
 */
function refusingClient(refuse: (call: number, id: string) => boolean) {
  const client = new SQSClient(localClientConfig(inject('sqsEndpoint')));
  const calls: string[][] = [];
  client.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as SendMessageBatchCommandInput;
      const call = calls.push((input.Entries ?? []).map((entry) => entry.Id ?? ''));
      const refused = (input.Entries ?? []).filter((entry) => refuse(call, entry.Id ?? ''));
      const sent = (input.Entries ?? []).filter((entry) => !refused.includes(entry));
      const result = await next({ ...args, input: { ...input, Entries: sent } });
      const output = result.output as SendMessageBatchCommandOutput;
      output.Failed = [
        ...(output.Failed ?? []),
        ...refused.map((entry) => ({
          Id: entry.Id,
          Code: 'InternalError',
          SenderFault: false,
          Message: 'try again',
        })),
      ];
      return result;
    },
    { step: 'initialize', name: 'refuseEntries' },
  );
  return { client, calls };
}

/** The record ids of every message now in a queue, the messages taken off it. */
async function bodiesIn(queueUrl: string): Promise<string[]> {
  const ids: string[] = [];
  for (let empty = 0; empty < 2; ) {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 300,
      }),
    );
    if (!Messages?.length) empty++;
    for (const message of Messages ?? []) {
      ids.push((JSON.parse(message.Body ?? '{}') as { record_id: string }).record_id);
      // Taken off the queue: a FIFO queue gives a group's next message only once the one before is deleted.
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
    }
  }
  return ids;
}

describe('the SQS destination', () => {
  it('sends again only the entries SQS answered as failed, so each record reaches the queue once', async () => {
    const { queueUrl } = await createTestQueues(sqs);
    // The third and seventh entries of the first call fail; every later call succeeds.
    const { client, calls } = refusingClient((call, id) => call === 1 && (id === '2' || id === '6'));
    const destination = new SqsDestination({ client, queueUrl, backoffMs: 1 });
    await destination.send(
      Array.from({ length: 12 }, (_, i) => record(i)),
      'replay',
    );
    expect(calls).toEqual([
      ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
      ['2', '6'],
      ['10', '11'],
    ]);
    const ids = await bodiesIn(queueUrl);
    expect(ids.sort()).toEqual(Array.from({ length: 12 }, (_, i) => `sori_sqs_${i}`).sort());
  });

  it('names the records SQS kept refusing once its tries are spent', async () => {
    const { queueUrl } = await createTestQueues(sqs);
    const { client, calls } = refusingClient((_call, id) => id === '1');
    const destination = new SqsDestination({ client, queueUrl, backoffMs: 1, attempts: 3 });
    const failure = await destination.send([record(0), record(1)], 'replay').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DestinationError);
    expect((failure as DestinationError).recordIds).toEqual(['sori_sqs_1']);
    expect(calls).toEqual([['0', '1'], ['1'], ['1']]);
  });

  it('to a FIFO queue, a record sent twice (a replay run again) is one message: its deduplication id is its record id', async () => {
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({
        QueueName: `${uniqueName('replay')}.fifo`,
        Attributes: { FifoQueue: 'true' },
      }),
    );
    const queueUrl = QueueUrl as string;
    const destination = new SqsDestination({ client: sqs, queueUrl, backoffMs: 1 });
    const records = Array.from({ length: 4 }, (_, i) => record(i));
    await destination.send(records, 'replay');
    await destination.send(records, 'replay');
    expect((await bodiesIn(queueUrl)).sort()).toEqual(records.map((r) => r.id).sort());
  });
});
