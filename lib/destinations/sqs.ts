import { createHash } from 'node:crypto';
import {
  type BatchResultErrorEntry,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { EventRecord } from '../events/event-record';
import type { SignalNotice } from '../signals/signal-notices';
import {
  backoff,
  type DeliveryOrigin,
  type Destination,
  DestinationError,
  deliveredEvent,
  sleep,
} from './destination';

// SendMessageBatch takes at most 10 entries, and the messages' total size (bodies and attributes) is at most
// 256 KB (262,144 bytes).
const MAX_ENTRIES = 10;
const MAX_BATCH_BYTES = 262_144;

/** The queue an {@link SqsDestination} sends to, its client, and how often it tries. */
export interface SqsDestinationOptions {
  client: Pick<SQSClient, 'send'>;
  queueUrl: string;
  /** Calls for the entries SQS did not take, the first included (default 6). */
  attempts?: number;
  /** The first pause before entries are sent again (default 200 ms), doubled at each try. */
  backoffMs?: number;
}

/** A record's message: its body, and attributes a consumer can filter on without parsing the body. */
function entryOf(record: EventRecord, origin: DeliveryOrigin, id: string, fifo: boolean) {
  const entry: SendMessageBatchRequestEntry = {
    Id: id,
    MessageBody: JSON.stringify(deliveredEvent(record, origin)),
    MessageAttributes: {
      record_id: { DataType: 'String', StringValue: record.id },
      event: { DataType: 'String', StringValue: record.event },
      provider: { DataType: 'String', StringValue: record.provider },
    },
  };
  if (fifo) {
    // A FIFO queue drops a message whose deduplication id it saw in the last 5 minutes; the id is at most 128
    // characters, so it is the record id's hash. One group per campaign keeps a campaign's events in order.
    entry.MessageDeduplicationId = createHash('sha256').update(record.id).digest('hex');
    entry.MessageGroupId = record.campaign_id ?? record.provider;
  }
  return entry;
}

/**
 * A notice's message: the notice as the body, its id, signal and provider as attributes. On a FIFO queue one
 * group per provider, deduplicated on the notice id's hash.
 */
function noticeEntryOf(notice: SignalNotice, id: string, fifo: boolean) {
  const entry: SendMessageBatchRequestEntry = {
    Id: id,
    MessageBody: JSON.stringify(notice),
    MessageAttributes: {
      notice_id: { DataType: 'String', StringValue: notice.notice_id },
      signal: { DataType: 'String', StringValue: notice.signal },
      provider: { DataType: 'String', StringValue: notice.provider },
    },
  };
  if (fifo) {
    entry.MessageDeduplicationId = createHash('sha256').update(notice.notice_id).digest('hex');
    entry.MessageGroupId = notice.provider;
  }
  return entry;
}

/** The bytes SQS counts for a message: its body and each attribute's name, type and value. */
function messageBytes(entry: SendMessageBatchRequestEntry): number {
  let bytes = Buffer.byteLength(entry.MessageBody ?? '');
  for (const [name, value] of Object.entries(entry.MessageAttributes ?? {})) {
    bytes += Buffer.byteLength(name) + Buffer.byteLength(value.DataType ?? '');
    bytes += Buffer.byteLength(value.StringValue ?? '');
  }
  return bytes;
}

/**
 * Sends records to an SQS queue (standard or FIFO) with `SendMessageBatch`. SQS answers entry by entry, and a call
 * that succeeded may list failed entries: only those are sent again.
 */
export class SqsDestination implements Destination {
  readonly kind = 'sqs' as const;
  readonly target: string;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly fifo: boolean;

  constructor(private readonly options: SqsDestinationOptions) {
    this.target = options.queueUrl;
    this.attempts = Math.max(1, options.attempts ?? 6);
    this.backoffMs = options.backoffMs ?? 200;
    this.fifo = options.queueUrl.endsWith('.fifo');
  }

  /**
   * Sends every record to the queue, at least once.
   * @throws {DestinationError} naming the records SQS kept refusing (or a call that kept failing).
   */
  async send(records: readonly EventRecord[], origin: DeliveryOrigin): Promise<void> {
    await this.sendEntries(
      records.map((record, i) => ({ entry: entryOf(record, origin, String(i), this.fifo), id: record.id })),
      'record',
    );
  }

  /**
   * Sends every notice to the queue (see `noticeEntryOf`), at least once.
   * @throws {DestinationError} naming the notices SQS kept refusing.
   */
  async sendNotices(notices: readonly SignalNotice[]): Promise<void> {
    await this.sendEntries(
      notices.map((notice, i) => ({
        entry: noticeEntryOf(notice, String(i), this.fifo),
        id: notice.notice_id,
      })),
      'notice',
    );
  }

  private async sendEntries(entries: { entry: SendMessageBatchRequestEntry; id: string }[], what: string) {
    let batch: typeof entries = [];
    let bytes = 0;
    for (const item of entries) {
      const size = messageBytes(item.entry);
      if (size > MAX_BATCH_BYTES)
        throw new DestinationError(`${what} ${item.id} is over SQS's 256 KB message limit`, [item.id]);
      if (batch.length === MAX_ENTRIES || (batch.length > 0 && bytes + size > MAX_BATCH_BYTES)) {
        await this.sendBatch(batch);
        batch = [];
        bytes = 0;
      }
      batch.push(item);
      bytes += size;
    }
    if (batch.length > 0) await this.sendBatch(batch);
  }

  private async sendBatch(batch: { entry: SendMessageBatchRequestEntry; id: string }[]) {
    let pending = batch;
    let why = '';
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      if (attempt > 1) await sleep(backoff(attempt, this.backoffMs));
      let failed: BatchResultErrorEntry[];
      try {
        const answer = await this.options.client.send(
          new SendMessageBatchCommand({
            QueueUrl: this.options.queueUrl,
            Entries: pending.map((item) => item.entry),
          }),
        );
        failed = answer.Failed ?? [];
        const answered = new Set([...(answer.Successful ?? []).map((s) => s.Id), ...failed.map((f) => f.Id)]);
        // An entry the answer does not mention is not known to be sent: it is sent again.
        const unanswered = pending.filter((item) => !answered.has(item.entry.Id));
        const failedIds = new Set([...failed.map((f) => f.Id), ...unanswered.map((item) => item.entry.Id)]);
        pending = pending.filter((item) => failedIds.has(item.entry.Id));
        why = [...new Set(failed.map((f) => `${f.Code}: ${f.Message ?? ''}`.trim()))].join('; ');
      } catch (error) {
        why = String(error);
        if (attempt === this.attempts) throw this.failure(pending, why, error);
        continue;
      }
      if (pending.length === 0) return;
    }
    throw this.failure(pending, why);
  }

  private failure(pending: { id: string }[], why: string, cause?: unknown) {
    return new DestinationError(
      `queue ${this.options.queueUrl} did not take ${pending.length} message(s) after ${this.attempts} tries: ${why}`,
      pending.map((item) => item.id),
      { cause },
    );
  }
}
