// Lambda's SQS event source with a batching window, as AWS documents it, for the settings the local poller
// (local/sqs-poller.ts) cannot play: it hands over what one receive returns (at most 10 messages) and has no
// window.
//
// The model: each of `concurrency` pollers gathers a batch of its own. The window opens when the batch's first
// message arrives; the poller keeps receiving (up to 10 messages a receive) and hands the batch to the handler
// when it holds `batchSize` messages, when the window has passed, or when its bodies reach 6 MB (Lambda's
// invocation payload limit), whichever comes first. The handler's successes are deleted, as the local poller does.
// Before the first message a poller long-polls for 20 s; inside the window it long-polls for the whole seconds
// left and short-polls every 10 ms for the last fraction (WaitTimeSeconds takes whole seconds only).
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

const PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024;
const SHORT_POLL_MS = 10;

export interface WindowedPollerOptions {
  client: SQSClient;
  queueUrl: string;
  queueArn: string;
  handler: (event: SQSEvent) => Promise<SQSBatchResponse | undefined>;
  batchSize: number;
  windowSeconds: number;
  concurrency: number;
}

const toRecord = (message: Message, queueArn: string): SQSRecord => ({
  messageId: message.MessageId ?? '',
  receiptHandle: message.ReceiptHandle ?? '',
  body: message.Body ?? '',
  attributes: {
    ApproximateReceiveCount: message.Attributes?.ApproximateReceiveCount ?? '1',
    SentTimestamp: message.Attributes?.SentTimestamp ?? String(Date.now()),
    SenderId: 'local',
    ApproximateFirstReceiveTimestamp:
      message.Attributes?.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
  },
  messageAttributes: {},
  md5OfBody: message.MD5OfBody ?? '',
  eventSource: 'aws:sqs',
  eventSourceARN: queueArn,
  awsRegion: 'us-east-1',
});

export class WindowedPoller {
  private running = false;
  private loops: Promise<void>[] = [];
  private abort = new AbortController();
  /** Receives that returned at least one message. */
  receives = 0;

  constructor(private readonly options: WindowedPollerOptions) {}

  start(): void {
    this.running = true;
    this.abort = new AbortController();
    this.loops = Array.from({ length: this.options.concurrency }, () => this.loop());
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    await Promise.allSettled(this.loops);
  }

  private async receive(max: number, waitSeconds: number): Promise<Message[]> {
    const { Messages = [] } = await this.options.client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.options.queueUrl,
        MaxNumberOfMessages: Math.min(10, max),
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ['All'],
      }),
      { abortSignal: this.abort.signal },
    );
    if (Messages.length > 0) this.receives++;
    return Messages;
  }

  private async gather(): Promise<Message[]> {
    const { batchSize, windowSeconds } = this.options;
    const batch: Message[] = [];
    let bytes = 0;
    let opened = 0;
    while (this.running) {
      const left = opened === 0 ? 20_000 : opened + windowSeconds * 1000 - performance.now();
      if (opened !== 0 && left <= 0) break;
      const wait = Math.min(20, Math.floor(left / 1000));
      const messages = await this.receive(batchSize - batch.length, wait);
      if (messages.length > 0 && opened === 0) opened = performance.now();
      for (const message of messages) {
        batch.push(message);
        bytes += Buffer.byteLength(message.Body ?? '');
      }
      if (batch.length >= batchSize || bytes >= PAYLOAD_LIMIT_BYTES) break;
      if (messages.length === 0 && opened !== 0 && wait === 0) {
        await new Promise((resolve) => setTimeout(resolve, SHORT_POLL_MS));
      }
    }
    return batch;
  }

  private async loop(): Promise<void> {
    const { client, queueUrl, queueArn, handler } = this.options;
    while (this.running) {
      let messages: Message[];
      try {
        messages = await this.gather();
      } catch (error) {
        if (!this.running) return;
        throw error;
      }
      if (messages.length === 0) continue;
      const records = messages.map((message) => toRecord(message, queueArn));
      const response = await handler({ Records: records });
      const failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
      const done = records.filter((record) => !failed.has(record.messageId));
      // DeleteMessageBatch takes at most 10 entries.
      for (let i = 0; i < done.length; i += 10) {
        await client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: done
              .slice(i, i + 10)
              .map((record, j) => ({ Id: String(j), ReceiptHandle: record.receiptHandle })),
          }),
        );
      }
    }
  }
}
