import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Logger } from '../lib/log';

export interface SqsPollerOptions {
  client: SQSClient;
  queueUrl: string;
  queueArn: string;
  handler: (event: SQSEvent) => Promise<SQSBatchResponse | undefined>;
  logger: Logger;
  /** Messages per batch, as Lambda's event source `batchSize` (SQS caps one receive at 10). */
  batchSize?: number;
  /** Long-polling wait per receive, in seconds. */
  waitTimeSeconds?: number;
  /** Parallel polling loops, as Lambda's concurrent invocations. */
  concurrency?: number;
  /** While this says so, nothing is received: messages wait in the queue rather than fail their receives. */
  paused?: () => boolean;
}

function toSqsRecord(message: Message, queueArn: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: queueArn.split(':')[3] ?? 'us-east-1',
  };
}

/**
 * Plays Lambda's SQS event source locally: long-polls the queue, hands batches to the handler, deletes what
 * it processed and leaves the `batchItemFailures` to reappear after the visibility timeout, so the queue's
 * redrive policy moves a message that keeps failing to the DLQ after `maxReceiveCount` receives.
 */
export class SqsPoller {
  private running = false;
  private loops: Promise<void>[] = [];
  private abort = new AbortController();
  private inFlight = 0;

  constructor(private readonly options: SqsPollerOptions) {}

  /** `true` while the polling loops run. */
  get ready(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    const concurrency = this.options.concurrency ?? 2;
    this.loops = Array.from({ length: concurrency }, () => this.loop());
  }

  /** Stops polling; a batch being processed finishes first. */
  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    await Promise.allSettled(this.loops);
    this.loops = [];
  }

  /** Receives and processes one batch. @returns how many messages it received. */
  async pollOnce(signal?: AbortSignal): Promise<number> {
    const { client, queueUrl } = this.options;
    const received = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: Math.min(this.options.batchSize ?? 10, 10),
        WaitTimeSeconds: this.options.waitTimeSeconds ?? 1,
        MessageSystemAttributeNames: ['All'],
      }),
      { abortSignal: signal },
    );
    const messages = received.Messages ?? [];
    if (messages.length === 0) return 0;
    this.inFlight++;
    try {
      await this.deliver(messages);
    } finally {
      this.inFlight--;
    }
    return messages.length;
  }

  /** `true` when no batch is being processed. */
  get idle(): boolean {
    return this.inFlight === 0;
  }

  private async deliver(messages: Message[]): Promise<void> {
    const { client, queueUrl, queueArn, handler, logger } = this.options;
    const records = messages.map((message) => toSqsRecord(message, queueArn));
    let failed: Set<string>;
    try {
      const response = await handler({ Records: records });
      failed = new Set((response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
    } catch (error) {
      // A handler that throws fails the whole batch, as in Lambda.
      logger.error('batch handler threw; every message will be redelivered', { error });
      return;
    }
    const done = records.filter((record) => !failed.has(record.messageId));
    if (done.length === 0) return;
    await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: done.map((record, i) => ({ Id: String(i), ReceiptHandle: record.receiptHandle })),
      }),
    );
  }

  private async loop(): Promise<void> {
    while (this.running) {
      if (this.options.paused?.()) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        continue;
      }
      try {
        await this.pollOnce(this.abort.signal);
      } catch (error) {
        if (!this.running) return;
        this.options.logger.warn('polling failed; retrying in 1 s', { error });
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  }
}
