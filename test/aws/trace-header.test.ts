/**
 * A delivery can be followed from its POST to its stored record: the receive function's `SendMessage` carries the
 * invocation's X-Ray trace header (`_X_AMZN_TRACE_ID`, which Lambda sets for each invocation when tracing is on)
 * as the message's `AWSTraceHeader` system attribute, which SQS hands to the consumer. Against moto's SQS (the
 * local SQS server keeps no system attributes), our signed request verified by moto.
 */
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { sqsSendMessage } from '../../lib/receive/services';
import { uniqueName } from '../support/local-aws';
import { MOTO_REGION } from './support/iam';
import { moto } from './support/moto';

const TRACE = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';

async function sentHeader(env: Record<string, string>) {
  const sqs = new SQSClient({ region: MOTO_REGION, endpoint: moto().endpoint, credentials: moto().admin });
  const { QueueUrl: queueUrl = '' } = await sqs.send(
    new CreateQueueCommand({ QueueName: uniqueName('trace') }),
  );
  const send = sqsSendMessage(
    MOTO_REGION,
    { credentials: () => moto().admin },
    { AWS_ENDPOINT_URL_SQS: moto().endpoint, ...env },
  );
  await send({ QueueUrl: queueUrl, MessageBody: '{"n":1}' });
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MessageSystemAttributeNames: ['AWSTraceHeader'],
      WaitTimeSeconds: 1,
    }),
  );
  expect(Messages).toHaveLength(1);
  return Messages[0]?.Attributes?.AWSTraceHeader;
}

describe("the receive function's SendMessage", () => {
  it("carries the invocation's trace header as the message's AWSTraceHeader", async () => {
    expect(await sentHeader({ _X_AMZN_TRACE_ID: TRACE })).toBe(TRACE);
  });

  it('sends none outside a traced invocation', async () => {
    expect(await sentHeader({})).toBeUndefined();
  });
});
