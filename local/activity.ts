import type { SQSClient } from '@aws-sdk/client-sqs';
import type { EventRecord } from '../lib/events/event-record';
import type { StoredBatch } from '../lib/ingest/ingest';
import { providerNames } from '../lib/providers';
import {
  type PipelineHealth,
  type PipelineHealthFigures,
  queueMessageCount,
  queueNameOf,
  type RefusedFigures,
  rangeOfDays,
} from '../lib/queries/pipeline-health';

const MINUTE_MS = 60_000;

/** What the local dashboard shows besides the counters: the latest stored events and events per minute. */
export class Activity {
  private readonly latest: EventRecord[] = [];
  private readonly perMinute = new Map<number, number>();
  /** The refusals the local API Gateway answers (it counts them here when given them). */
  readonly refusals: RefusalCounts;

  constructor(
    private readonly keep = 50,
    private readonly minutes = 30,
    private readonly now = Date.now,
  ) {
    this.refusals = new RefusalCounts(now);
  }

  /** Notes the events a batch stored for the first time (a listener of the ingest port's `onStored`). */
  noteStored({ inserted }: StoredBatch): void {
    for (const { message } of inserted) if (message.kind === 'event') this.add(message.record);
  }

  /** Notes an event stored for the first time. */
  add(record: EventRecord): void {
    this.latest.unshift(record);
    this.latest.length = Math.min(this.latest.length, this.keep);
    const minute = Math.floor(this.now() / MINUTE_MS);
    this.perMinute.set(minute, (this.perMinute.get(minute) ?? 0) + 1);
    for (const key of this.perMinute.keys()) if (key <= minute - this.minutes) this.perMinute.delete(key);
  }

  /** @returns the latest events (newest first) and a count for each of the last `minutes` minutes, oldest first. */
  snapshot(limit = 20): { latest: EventRecord[]; perMinute: { minute: string; events: number }[] } {
    const current = Math.floor(this.now() / MINUTE_MS);
    const perMinute = Array.from({ length: this.minutes }, (_, i) => {
      const minute = current - this.minutes + 1 + i;
      return {
        minute: new Date(minute * MINUTE_MS).toISOString().slice(11, 16),
        events: this.perMinute.get(minute) ?? 0,
      };
    });
    return { latest: this.latest.slice(0, limit), perMinute };
  }
}

/** Days of refusals kept: the dashboard's longest range, and a little more. */
const REFUSAL_DAYS_KEPT = 100;

/**
 * The refusals the local API Gateway answered since the stack started (any 4xx of a webhook route), per UTC day:
 * in all, and per provider served. Kept in memory only, as the local stack's other live figures are.
 */
export class RefusalCounts {
  private readonly days = new Map<string, { total: number; byProvider: Map<string, number> }>();

  constructor(private readonly now = Date.now) {}

  /** Notes one refusal, of `provider`'s delivery when it names a provider served. */
  note(provider?: string): void {
    const day = new Date(this.now()).toISOString().slice(0, 10);
    let counts = this.days.get(day);
    if (!counts) {
      counts = { total: 0, byProvider: new Map() };
      this.days.set(day, counts);
      const oldest = new Date(this.now() - REFUSAL_DAYS_KEPT * 86_400_000).toISOString().slice(0, 10);
      for (const kept of this.days.keys()) if (kept < oldest) this.days.delete(kept);
    }
    counts.total += 1;
    if (provider !== undefined) counts.byProvider.set(provider, (counts.byProvider.get(provider) ?? 0) + 1);
  }

  /**
   * The refusals of the UTC days `from` to `to` (both `YYYY-MM-DD`, included): in all, and for each of
   * `providers` (0 when none).
   */
  over(from: string, to: string, providers: readonly string[]): RefusedFigures {
    const byProvider = Object.fromEntries(providers.map((provider) => [provider, 0]));
    let total = 0;
    for (const [day, counts] of this.days) {
      if (day < from || day > to) continue;
      total += counts.total;
      for (const [provider, count] of counts.byProvider)
        if (Object.hasOwn(byProvider, provider)) byProvider[provider] = (byProvider[provider] ?? 0) + count;
    }
    return { total, by_provider: byProvider };
  }
}

/** What {@link LocalPipelineHealth} reads. */
export interface LocalPipelineHealthOptions {
  /** The refusals the local API Gateway counts (the `refusals` given to `startApiGatewayServer`). */
  refusals: RefusalCounts;
  sqs: SQSClient;
  queueUrl: string;
  dlqUrl: string;
  /** The local SQS server, whose inspection tells when each message was sent; without it the age is `null`. */
  sqsEndpoint?: string;
  now?: () => number;
}

/** A message as the SQS server's inspection shows it (fauxqs keeps when each was sent). */
interface InspectedMessage {
  sentTimestamp?: unknown;
}

/**
 * The local stack's delivery health: refusals the local API Gateway counted since the stack started, in the
 * range; dead letters in the local DLQ now; the age of the oldest message in the local events queue now, from
 * the time the SQS server says it was sent (a message the delivery journal put back at a start counts from
 * then), `null` when the server does not say.
 */
export class LocalPipelineHealth implements PipelineHealth {
  private readonly now: () => number;

  constructor(private readonly options: LocalPipelineHealthOptions) {
    this.now = options.now ?? Date.now;
  }

  async read(from: string, to: string): Promise<PipelineHealthFigures> {
    rangeOfDays(from, to);
    const [deadLetters, age] = await Promise.all([
      queueMessageCount(this.options.sqs, this.options.dlqUrl).catch(() => null),
      this.oldestMessageAge().catch(() => null),
    ]);
    return {
      refused: this.options.refusals.over(from, to, providerNames()),
      dead_letters: deadLetters,
      oldest_message_age_s: age,
    };
  }

  private async oldestMessageAge(): Promise<number | null> {
    const endpoint = this.options.sqsEndpoint;
    if (!endpoint) return null;
    const name = queueNameOf(this.options.queueUrl);
    const response = await fetch(`${endpoint}/_fauxqs/queues/${encodeURIComponent(name)}`);
    if (!response.ok) return null;
    const { messages } = (await response.json()) as {
      messages?: {
        ready?: InspectedMessage[];
        delayed?: InspectedMessage[];
        inflight?: { message?: InspectedMessage }[];
      };
    };
    if (!messages?.ready || !messages.delayed || !messages.inflight) return null;
    const sent = [
      ...messages.ready,
      ...messages.delayed,
      ...messages.inflight.map((entry) => entry.message ?? {}),
    ].map((message) => message.sentTimestamp);
    // A message whose sending time the server does not give makes the oldest unknowable.
    if (!sent.every((time): time is number => typeof time === 'number' && Number.isFinite(time))) return null;
    if (sent.length === 0) return 0;
    return Math.max(0, Math.floor((this.now() - Math.min(...sent)) / 1000));
  }
}
