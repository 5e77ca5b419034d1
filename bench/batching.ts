// Batch sizes Lambda's SQS event source forms at a given rate, and POST → stored latency, measured against the
// local SQS-API server: messages sent at the rate (Poisson arrivals, as independent senders make them), received
// by the project's local poller (local/sqs-poller.ts) for a setting without a batching window, or by the
// windowed model (windowed-poller.ts) for one with a window, which the local poller does not have.
//
// The process function is played by a handler that takes as long as the deployed one would in AWS for a batch
// of its size (see `HandlerModel`): a batch's duration decides how many messages wait for the next receive, and
// a local DynamoDB-API server on a shared machine runs neither at AWS's latency nor at 1,000 events/s. Write
// units for the batches measured here come from the real consumer, replayed (see writes.ts).
import { randomUUID } from 'node:crypto';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { createLogger } from '../lib/log';
import { startSqs } from '../local/aws-servers';
import { localClientConfig } from '../local/local-stack';
import { SqsPoller } from '../local/sqs-poller';
import { percentile } from '../scripts/load';
import { WindowedPoller } from './windowed-poller';
import { random } from './workload';

/** An event source setting: Lambda's `batchSize` and `maximumBatchingWindow`. */
export interface BatchSetting {
  name: string;
  batchSize: number;
  windowSeconds: number;
}

/** How long the deployed process function takes for a batch of `n` messages, in AWS (ms). */
export type HandlerModel = (n: number) => number;

export interface BatchingFigures {
  setting: BatchSetting;
  ratePerSecond: number;
  seconds: number;
  events: number;
  batches: number;
  meanBatch: number;
  /** Batches of each size. */
  histogram: Record<string, number>;
  /** Batch sizes in the order formed (for the write-unit replay). */
  sizes: number[];
  /** POST → stored: the receive function's part (assumed, see `postMs`) plus send → handler done (measured). */
  latencyMs: { p50: number; p99: number; max: number };
  /** Process invocations running at once, on average from the first send to the last store, and at most. */
  meanConcurrent: number;
  maxConcurrent: number;
  /** Receives that returned messages, per batch. */
  receivesPerBatch: number;
  /** What the poller was: the local poller, or the windowed model. */
  poller: string;
  /** Pollers, long-poll wait, and the handler's modelled duration for batches of 1, 10 and 100. */
  pollers: number;
  handlerMs: { at1: number; at10: number; at100: number };
  postMs: number;
}

export interface BatchingOptions {
  setting: BatchSetting;
  ratePerSecond: number;
  seconds: number;
  /** Message bodies to send, in turn (queue messages as the receive function builds them). */
  bodies: string[];
  handlerMs: HandlerModel;
  /** Pollers (Lambda's event source starts with five, and `maxConcurrency` caps the invocations). */
  pollers: number;
  /** API Gateway and the receive function before its send, in AWS (assumed). */
  postMs: number;
  seed?: number;
}

const quantile = (xs: number[], p: number) => Number(percentile(xs, p).toFixed(1));

/** Sends at the rate, lets the poller form batches, and measures what it formed. */
export async function measureBatching(options: BatchingOptions): Promise<BatchingFigures> {
  const { setting, ratePerSecond, seconds, handlerMs, pollers, postMs } = options;
  const server = await startSqs();
  const sqs = new SQSClient(localClientConfig(server.endpoint));
  const queue = await createQueue(sqs);
  const total = Math.round(ratePerSecond * seconds);
  const tally = new BatchTally(total, handlerMs, postMs);
  const windowed = setting.windowSeconds > 0 || setting.batchSize > 10;
  const poller = newPoller(sqs, queue, tally, setting, pollers, windowed);
  poller.start();
  try {
    const start = await sendAtRate(sqs, queue.queueUrl, tally, options);
    await tally.allStored(120_000);
    const { sizes, stored } = tally;
    if (stored < total) throw new Error(`only ${stored} of ${total} messages were stored`);
    const histogram: Record<string, number> = {};
    for (const n of sizes) histogram[n] = (histogram[n] ?? 0) + 1;
    return {
      setting,
      ratePerSecond,
      seconds,
      events: total,
      batches: sizes.length,
      meanBatch: total / sizes.length,
      histogram,
      sizes,
      latencyMs: {
        p50: quantile(tally.latencies, 0.5),
        p99: quantile(tally.latencies, 0.99),
        max: quantile(tally.latencies, 1),
      },
      meanConcurrent: tally.busyMs / (tally.lastStoredAt - start),
      maxConcurrent: tally.maxConcurrent,
      // The local poller hands over what one receive returns.
      receivesPerBatch: poller instanceof WindowedPoller ? poller.receives / sizes.length : 1,
      poller: windowed
        ? 'windowed model (bench/windowed-poller.ts): the local poller has no batching window'
        : 'the local poller (local/sqs-poller.ts)',
      pollers,
      handlerMs: { at1: handlerMs(1), at10: handlerMs(10), at100: handlerMs(100) },
      postMs,
    };
  } finally {
    await poller.stop();
    sqs.destroy();
    await server.stop();
  }
}

/** A queue of the local SQS-API server, its URL and ARN. */
async function createQueue(sqs: SQSClient): Promise<{ queueUrl: string; queueArn: string }> {
  const { QueueUrl: queueUrl = '' } = await sqs.send(
    new CreateQueueCommand({
      QueueName: `batching-${randomUUID()}`,
      // Well above any batch's time here, so no message comes back while its batch runs.
      Attributes: { VisibilityTimeout: '180' },
    }),
  );
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  return { queueUrl, queueArn: Attributes.QueueArn ?? '' };
}

/**
 * The process function played by a handler that takes as long as the model says for its batch, and what the
 * batches were: their sizes, each message's latency, the invocations at once.
 */
class BatchTally {
  /** When each message was sent, by its index. */
  readonly sentAt: Float64Array;
  readonly latencies: number[] = [];
  readonly sizes: number[] = [];
  maxConcurrent = 0;
  busyMs = 0;
  stored = 0;
  lastStoredAt = 0;
  private inFlight = 0;
  private resolveStored: () => void = () => {};
  private readonly storedAll = new Promise<void>((resolve) => {
    this.resolveStored = resolve;
  });

  constructor(
    readonly total: number,
    private readonly handlerMs: HandlerModel,
    private readonly postMs: number,
  ) {
    this.sentAt = new Float64Array(total);
  }

  readonly handler = async (event: SQSEvent) => {
    const n = event.Records.length;
    this.sizes.push(n);
    this.inFlight++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.inFlight);
    const duration = this.handlerMs(n);
    await new Promise((resolve) => setTimeout(resolve, duration));
    this.busyMs += duration;
    this.inFlight--;
    const now = performance.now();
    for (const record of event.Records) {
      const index = Number(record.body.slice(0, record.body.indexOf('|')));
      this.latencies.push(now - (this.sentAt[index] ?? now) + this.postMs);
    }
    this.stored += n;
    this.lastStoredAt = now;
    if (this.stored >= this.total) this.resolveStored();
    return { batchItemFailures: [] };
  };

  /** Resolves once every message is stored, or after `timeoutMs` (then {@link stored} says how many were). */
  async allStored(timeoutMs: number): Promise<void> {
    const timeout = setTimeout(() => this.resolveStored(), timeoutMs);
    await this.storedAll;
    clearTimeout(timeout);
  }
}

/** The windowed model for a setting with a window (or batches over 10), else the local poller. */
function newPoller(
  sqs: SQSClient,
  queue: { queueUrl: string; queueArn: string },
  tally: BatchTally,
  setting: BatchSetting,
  pollers: number,
  windowed: boolean,
): WindowedPoller | SqsPoller {
  const { queueUrl, queueArn } = queue;
  if (windowed) {
    return new WindowedPoller({
      client: sqs,
      queueUrl,
      queueArn,
      handler: tally.handler,
      batchSize: setting.batchSize,
      windowSeconds: setting.windowSeconds,
      concurrency: pollers,
    });
  }
  return new SqsPoller({
    client: sqs,
    queueUrl,
    queueArn,
    handler: tally.handler,
    logger: createLogger('bench', 'error'),
    batchSize: setting.batchSize,
    // Lambda's pollers long-poll for 20 s.
    waitTimeSeconds: 20,
    concurrency: pollers,
  });
}

/**
 * Sends the messages at the rate, Poisson arrivals (exponential gaps, from a seed), each message's index before
 * its body.
 * @returns when the sending started (`performance.now`).
 */
async function sendAtRate(sqs: SQSClient, queueUrl: string, tally: BatchTally, options: BatchingOptions) {
  const { total, sentAt } = tally;
  const { ratePerSecond, bodies } = options;
  const next = random(options.seed ?? 11);
  const due: number[] = [];
  let t = 0;
  for (let i = 0; i < total; i++) {
    t += (-Math.log(1 - next()) * 1000) / ratePerSecond;
    due.push(t);
  }
  const start = performance.now();
  const sends: Promise<unknown>[] = [];
  let i = 0;
  while (i < total) {
    const now = performance.now() - start;
    while (i < total && (due[i] as number) <= now) {
      sentAt[i] = performance.now();
      sends.push(
        sqs.send(
          new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: `${i}|${bodies[i % bodies.length]}` }),
        ),
      );
      i++;
    }
    if (i < total) await new Promise((resolve) => setTimeout(resolve, Math.max(0, (due[i] as number) - now)));
  }
  await Promise.all(sends);
  return start;
}
