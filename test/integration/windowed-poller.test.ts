import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { WindowedPoller } from '../../bench/windowed-poller';
import { queueDepth } from '../../local/local-stack';
import { createTestQueues, eventually, localClients } from '../support/local-aws';

const { sqs } = localClients();
const pollers: WindowedPoller[] = [];
afterEach(async () => {
  await Promise.all(pollers.splice(0).map((poller) => poller.stop()));
});

async function send(queueUrl: string, count: number) {
  for (let i = 0; i < count; i += 10) {
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Array.from({ length: Math.min(10, count - i) }, (_, j) => ({
          Id: String(j),
          MessageBody: `m${i + j}`,
        })),
      }),
    );
  }
}

async function start(batchSize: number, windowSeconds: number) {
  const { queueUrl, queueArn } = await createTestQueues(sqs, { visibilityTimeout: 60 });
  const batches: string[][] = [];
  const poller = new WindowedPoller({
    client: sqs,
    queueUrl,
    queueArn,
    handler: async (event: SQSEvent) => {
      batches.push(event.Records.map((record) => record.body));
      return { batchItemFailures: [] };
    },
    batchSize,
    windowSeconds,
    concurrency: 1,
  });
  pollers.push(poller);
  return { queueUrl, batches, poller };
}

describe("the bench's model of Lambda's batching window", () => {
  it('hands a batch over once it holds the batch size, gathered from receives of at most 10, and deletes it', async () => {
    // A window of 20 s cannot pass while this test runs: only a full batch is handed over.
    const { queueUrl, batches, poller } = await start(25, 20);
    await send(queueUrl, 60);
    poller.start();
    await eventually(async () => (batches.length >= 2 ? true : undefined), 15_000, 'two full batches');
    expect(batches.slice(0, 2).map((batch) => batch.length)).toEqual([25, 25]);
    expect(new Set(batches.flat()).size).toBe(50);
    expect(poller.receives).toBeGreaterThanOrEqual(6);
    await eventually(async () => ((await queueDepth(sqs, queueUrl)) <= 10 ? true : undefined), 15_000);
  });

  it('hands over what it holds when the window has passed, without waiting for a full batch', async () => {
    const { queueUrl, batches, poller } = await start(100, 1);
    poller.start();
    await send(queueUrl, 3);
    await eventually(async () => (batches.length >= 1 ? true : undefined), 15_000, 'a batch');
    expect(batches.map((batch) => [...batch].sort())).toEqual([['m0', 'm1', 'm2']]);
    await eventually(async () => ((await queueDepth(sqs, queueUrl)) === 0 ? true : undefined), 15_000);
  });
});
