import { AwsJsonClient, type AwsJsonClientOptions, AwsServiceError } from '../aws/aws-json-client';
import type { EventRecord } from '../events/event-record';
import { NOTICE_DETAIL_TYPE, type SignalNotice } from '../signals/signal-notices';
import {
  backoff,
  type DeliveredEvent,
  type DeliveryOrigin,
  type Destination,
  DestinationError,
  deliveredEvent,
  sleep,
} from './destination';

/** The `source` of every event this receiver puts on a bus (no `aws.` prefix: EventBridge keeps those for AWS). */
export const EVENT_SOURCE = 'campaign-inbox';

/**
 * One stored record as it is put on an EventBridge bus: the contract rules, archives and targets are written
 * against. Fields are only ever added.
 *
 * On the bus, and so in a rule's pattern and in what a target receives, the entry's fields are named `source`,
 * `detail-type`, `time` and `detail`:
 *
 * ```json
 * {
 *   "source": "campaign-inbox",
 *   "detail-type": "campaign.click",
 *   "time": "2026-03-01T10:15:00Z",
 *   "detail": { "record_id": "…", "origin": "replay", "record": { "id": "…", "provider": "sori", … } }
 * }
 * ```
 *
 * A rule for one provider's clicks:
 * `{ "source": ["campaign-inbox"], "detail-type": ["campaign.click"], "detail": { "record": { "provider": ["sori"] } } }`.
 * A target may receive an event more than once (a replay, a retried call): deduplicate on `detail.record_id`.
 */
export interface BusEvent {
  /** Always {@link EVENT_SOURCE}. */
  Source: typeof EVENT_SOURCE;
  /** The record's event type, as its provider names it (`campaign.click`, `campaign.impression`, …). */
  DetailType: string;
  /** The record's `created_at`, in seconds since the epoch (the JSON protocol's timestamps). */
  Time: number;
  /** {@link DeliveredEvent} as JSON text: the record's id, why it is sent, the record. */
  Detail: string;
  /** The bus, by name or ARN. */
  EventBusName: string;
}

/** @returns the entry that puts `record` on `bus` (see {@link BusEvent}). */
export function busEvent(record: EventRecord, origin: DeliveryOrigin, bus: string): BusEvent {
  const detail: DeliveredEvent = deliveredEvent(record, origin);
  return {
    Source: EVENT_SOURCE,
    DetailType: record.event,
    Time: Date.parse(record.created_at) / 1000,
    Detail: JSON.stringify(detail),
    EventBusName: bus,
  };
}

/**
 * The entry that puts a signal notice on `bus`: `source` {@link EVENT_SOURCE}, `detail-type` `campaign-inbox
 * signal`, `time` when it was raised, the notice as `detail`. A rule for one signal:
 * `{ "source": ["campaign-inbox"], "detail-type": ["campaign-inbox signal"], "detail": { "signal": ["click_bursts"] } }`.
 */
export function noticeBusEvent(notice: SignalNotice, bus: string): BusEvent {
  return {
    Source: EVENT_SOURCE,
    DetailType: NOTICE_DETAIL_TYPE,
    Time: Date.parse(notice.raised_at) / 1000,
    Detail: JSON.stringify(notice),
    EventBusName: bus,
  };
}

/** The id a bus entry is known by in errors: its record's, or its notice's. */
const entryId = (entry: BusEvent) => {
  const detail = JSON.parse(entry.Detail) as Partial<DeliveredEvent> & { notice_id?: string };
  return detail.record_id ?? detail.notice_id ?? '';
};

/** PutEvents takes at most 10 entries a call. */
export const MAX_ENTRIES = 10;
/** The entries of one PutEvents call must total under 256 KB, as {@link entrySize} counts them. */
export const MAX_CALL_BYTES = 256 * 1024;

/**
 * An entry's size as EventBridge counts it against the 256 KB: 14 bytes for `Time`, then the UTF-8 bytes of
 * `Source`, `DetailType`, `Detail` and each resource (the bus's name is not counted).
 */
export function entrySize(entry: BusEvent): number {
  return (
    14 +
    Buffer.byteLength(entry.Source) +
    Buffer.byteLength(entry.DetailType) +
    Buffer.byteLength(entry.Detail)
  );
}

/** Entries in calls of at most {@link MAX_ENTRIES} and under {@link MAX_CALL_BYTES}, in their order. */
export function batchesOf(entries: readonly BusEvent[]): BusEvent[][] {
  const batches: BusEvent[][] = [];
  let batch: BusEvent[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = entrySize(entry);
    if (batch.length > 0 && (batch.length === MAX_ENTRIES || bytes + size >= MAX_CALL_BYTES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(entry);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/**
 * Where EventBridge's API is reached, the way the AWS SDK finds it: `AWS_ENDPOINT_URL_EVENTBRIDGE` (the service id
 * "EventBridge", upper-cased), else `AWS_ENDPOINT_URL`, else the region's `events` endpoint.
 */
export function eventBridgeEndpoint(region: string, env: NodeJS.ProcessEnv = process.env): string {
  const ignored = env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() === 'true';
  const override = ignored
    ? undefined
    : env.AWS_ENDPOINT_URL_EVENTBRIDGE || env.AWS_ENDPOINT_URL || undefined;
  if (override) return override;
  const suffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://events.${region}.${suffix}`;
}

/** Where and as whom an {@link EventBridgeDestination} puts events, and how often it tries. */
export type EventBridgeDestinationOptions = Pick<
  AwsJsonClientOptions,
  'credentials' | 'transport' | 'timeoutMs' | 'now'
> & {
  region: string;
  /** The bus's name or ARN (`default` is the account's default bus). */
  bus: string;
  env?: NodeJS.ProcessEnv;
  /** Calls for the entries EventBridge did not take, the first included (default 6). */
  attempts?: number;
  /** The first pause before entries are put again (default 200 ms), doubled at each try. */
  backoffMs?: number;
};

interface PutEventsAnswer {
  FailedEntryCount?: number;
  Entries?: { EventId?: string; ErrorCode?: string; ErrorMessage?: string }[];
}

/**
 * Puts records on an EventBridge bus with `PutEvents` (AWS JSON 1.1, `AWSEvents.PutEvents`, signed as `events`)
 * through the project's signed JSON client: no SDK client to load. EventBridge answers a call entry by entry, and
 * a call that succeeded may still have refused some entries (`FailedEntryCount`): only those are put again.
 */
export class EventBridgeDestination implements Destination {
  readonly kind = 'eventbridge' as const;
  readonly target: string;
  readonly endpoint: string;
  private readonly client: AwsJsonClient;
  private readonly attempts: number;
  private readonly backoffMs: number;

  constructor(private readonly options: EventBridgeDestinationOptions) {
    const { region, env, bus: _bus, attempts: _attempts, backoffMs: _backoff, ...tuning } = options;
    this.target = options.bus;
    this.endpoint = eventBridgeEndpoint(region, env);
    this.attempts = Math.max(1, options.attempts ?? 6);
    this.backoffMs = options.backoffMs ?? 200;
    this.client = new AwsJsonClient({
      service: 'events',
      region,
      endpoint: this.endpoint,
      targetPrefix: 'AWSEvents',
      jsonVersion: '1.1',
      timeoutMs: 10_000,
      ...tuning,
    });
  }

  /**
   * Puts every record on the bus, at least once.
   * @throws {DestinationError} naming the records EventBridge kept refusing (or a call that kept failing).
   */
  async send(records: readonly EventRecord[], origin: DeliveryOrigin): Promise<void> {
    const entries = records.map((record) => busEvent(record, origin, this.options.bus));
    const tooLarge = entries.find((entry) => entrySize(entry) >= MAX_CALL_BYTES);
    if (tooLarge) {
      const id = entryId(tooLarge);
      throw new DestinationError(`record ${id} is over EventBridge's 256 KB entry limit`, [id]);
    }
    for (const batch of batchesOf(entries)) await this.put(batch);
  }

  /**
   * Puts every notice on the bus (see {@link noticeBusEvent}), at least once. A notice is a few hundred bytes
   * to a few KB, far under an entry's 256 KB.
   * @throws {DestinationError} naming the notices EventBridge kept refusing.
   */
  async sendNotices(notices: readonly SignalNotice[]): Promise<void> {
    const entries = notices.map((notice) => noticeBusEvent(notice, this.options.bus));
    for (const batch of batchesOf(entries)) await this.put(batch);
  }

  private async put(batch: BusEvent[]): Promise<void> {
    let pending = batch;
    let lastErrors: string[] = [];
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      if (attempt > 1) await sleep(backoff(attempt, this.backoffMs));
      let answer: PutEventsAnswer;
      try {
        answer = await this.client.call<PutEventsAnswer>(
          'PutEvents',
          { Entries: pending },
          // An answer without one result per entry does not say which were put: the call is made again.
          { accept: (a) => Array.isArray(a.Entries) && a.Entries.length === pending.length },
        );
      } catch (error) {
        // A refusal another try would meet again (no permission, no such bus, a malformed call) ends it here.
        const final = error instanceof AwsServiceError && !error.retryable;
        if (final || attempt === this.attempts) throw this.failure(pending, attempt, String(error), error);
        lastErrors = [String(error)];
        continue;
      }
      const results = answer.Entries ?? [];
      const failed = pending.filter((_, i) => !results[i]?.EventId || results[i]?.ErrorCode);
      lastErrors = results
        .filter((result) => result.ErrorCode)
        .map((result) => `${result.ErrorCode}: ${result.ErrorMessage ?? ''}`.trim());
      pending = failed;
      if (pending.length === 0) return;
    }
    throw this.failure(pending, this.attempts, [...new Set(lastErrors)].join('; '));
  }

  private failure(pending: BusEvent[], tries: number, why: string, cause?: unknown) {
    const ids = pending.map(entryId);
    return new DestinationError(
      `EventBridge bus ${this.options.bus} did not take ${ids.length} event(s) after ${tries} ${tries === 1 ? 'try' : 'tries'}: ${why}`,
      ids,
      { cause },
    );
  }
}
