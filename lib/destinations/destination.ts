import type { EventRecord } from '../events/event-record';
import type { SignalNotice } from '../signals/signal-notices';

/**
 * Why a record is sent: `insert` when it was first stored, `replay` when a replay of a time range sends it again.
 * A receiver deduplicates on {@link DeliveredEvent.record_id} either way.
 */
export type DeliveryOrigin = 'insert' | 'replay';

/**
 * What every destination receives for one stored record (the SQS message body, the HTTP request body, the
 * EventBridge `detail`). A contract: fields are only ever added.
 *
 * A record may be delivered more than once (a retried batch, a replay resumed after an interruption, a replay of
 * a range already sent): `record_id` is the same on every delivery of one record and never shared by two
 * records, so a receiver that keeps the ids it has handled is idempotent.
 */
export interface DeliveredEvent {
  /** The stored record's id (`record.id`), the key to deduplicate on. */
  record_id: string;
  origin: DeliveryOrigin;
  /** The record as `events query --json` prints it: every field, absent ones `null`. */
  record: EventRecord;
}

/** @returns what a destination sends for `record`. */
export function deliveredEvent(record: EventRecord, origin: DeliveryOrigin): DeliveredEvent {
  return { record_id: record.id, origin, record };
}

/**
 * A place records are sent to. `send` returns once every record given has been accepted by the destination, at
 * least once; it throws when some could not be (after its own retries), and records of the call may then have
 * been sent or not: the caller sends the whole call again.
 */
export interface Destination {
  /** `reaction`, `eventbridge`, `sqs` or `http`. */
  readonly kind: DestinationKind;
  /** Where it sends, for messages: the module, the bus, the queue or the URL. */
  readonly target: string;
  send(records: readonly EventRecord[], origin: DeliveryOrigin): Promise<void>;
  /**
   * Sends signal notices, each as its document ({@link SignalNotice}), at least once, as `send` sends records.
   * Absent on a destination that takes no notices (a reaction).
   * @throws {DestinationError} naming the notices not known to be accepted (by `notice_id`).
   */
  sendNotices?(notices: readonly SignalNotice[]): Promise<void>;
  /** Lets go of connections and clients. */
  close?(): Promise<void> | void;
}

/** The kinds of destination, as `events replay --to` and the replay function's `to` name them. */
export const DESTINATION_KINDS = ['reaction', 'eventbridge', 'sqs', 'http'] as const;
/** One of {@link DESTINATION_KINDS}. */
export type DestinationKind = (typeof DESTINATION_KINDS)[number];

/** Some records could not be sent: the destination kept refusing them, or could not be reached. */
export class DestinationError extends Error {
  constructor(
    message: string,
    /** The ids of the records (or the notices) not known to be accepted. */
    readonly recordIds: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DestinationError';
  }
}

/** Waits `ms`. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The pause before try `attempt` (2, 3, …): `baseMs` doubled at each try, at most `maxMs`, with full jitter, as
 * AWS's retry guidance advises, so that senders that failed together do not come back together.
 */
export function backoff(attempt: number, baseMs: number, maxMs = 20_000): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 2));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}
