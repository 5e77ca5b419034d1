import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { CountedKind } from '../events/event-record';
import {
  type CounterKey,
  campaignDayFamily,
  countedAsOf,
  EVENT_SORT_PREFIX,
  fromEventItem,
  RECORDS_TABLE,
  type StoredEvent,
  shardKeys,
  type TableLayout,
  typeDayFamily,
} from '../table/records-table';
import { burstEntry } from '../table/signal-attributes';
import { type Item, queryItems, queryPages } from '../table/table-io';
import { countryOf, LOGIN_EVENTS } from './facts';
import type { SignalThresholds } from './thresholds';

/** A campaign event's fact with its campaign-day (see `CampaignFact`). */
export interface CampaignEventFact {
  key: CounterKey;
  event: string;
  /** What the event counted as when received (see `EventPolicy.counted_as`). */
  kind: CountedKind | undefined;
  /** For a click: the impression types it is matched with, as received (see `EventPolicy.pairs_with`). */
  pairsWith: readonly string[];
  activity: string | null;
  device: string | null;
  at: string;
}

/** A login's fact (see `LoginFact`). */
export interface LoginEventFact {
  provider: string;
  device: string;
  account: string | null;
  country: string | null;
  at: string;
}

/** What a fold's facts change in one campaign-day's signals. */
export interface CampaignSignalChange {
  key: CounterKey;
  /** Clicks of the fold with no impression of their activity found: `[created_at, activity]`. */
  orphans: [string, string][];
  /** Impressions of the fold that take an orphan click of their activity off, if it is there. */
  resolves: [string, string][];
  /** Devices over the clicks-per-minute threshold (`<minute> <device>`). */
  bursts: string[];
}

/** What a fold's logins change in one provider-day's signals. */
export interface LoginSignalChange {
  provider: string;
  day: string;
  accounts: string[];
  countries: string[];
}

const MINUTE_MS = 60_000;
/** Events a click's impression lookup reads per call and shard (each page is a few read units at most). */
const LOOKUP_PAGE = 100;
/** Clicks whose impression the fold looks up at once. */
const LOOKUP_CONCURRENCY = 8;

/** `work` over `items`, {@link LOOKUP_CONCURRENCY} at a time. @returns the results, in order. */
async function eachBounded<T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(LOOKUP_CONCURRENCY, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i] as T);
      }
    }),
  );
  return results;
}
const shift = (at: string, minutes: number) => new Date(Date.parse(at) + minutes * MINUTE_MS).toISOString();
const dayOf = (at: string) => at.slice(0, 10);
const keyId = (key: CounterKey) => JSON.stringify([key.provider, key.campaignId, key.day]);

/** The UTC days from `from`'s to `to`'s, inclusive. */
function daysBetween(from: string, to: string): string[] {
  const days: string[] = [];
  for (let day = Date.parse(dayOf(from)); day <= Date.parse(dayOf(to)); day += 86_400_000)
    days.push(new Date(day).toISOString().slice(0, 10));
  return days;
}

/**
 * What a stored event counts as when its item was stored before items said (see `countedAsOf`): what its
 * provider's current code counts it as.
 */
export type LegacyKindOf = (provider: string, event: string) => CountedKind | undefined;

/**
 * Computes what a fold's first inserts change in the signals, reading the table (never writing): every signal
 * is a fact about the records stored, so it is read from them when the fold folds the record that may change
 * it. A record is folded once, after it is stored, so the last fold to touch a signal reads every record it
 * depends on; a fold taken over reads them again and finds the same or more, and the signals only grow (bar an
 * orphan click, taken off by the fold of its impression).
 */
export class SignalFold {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly layout: TableLayout,
    private readonly thresholds: SignalThresholds,
    private readonly legacyKindOf: LegacyKindOf,
  ) {}

  /** The changes to the campaign-days' signals that a fold's campaign events make. */
  async campaignChanges(facts: readonly CampaignEventFact[]): Promise<Map<string, CampaignSignalChange>> {
    const changes = new Map<string, CampaignSignalChange>();
    const change = (key: CounterKey) => {
      const id = keyId(key);
      let found = changes.get(id);
      if (!found) {
        found = { key, orphans: [], resolves: [], bursts: [] };
        changes.set(id, found);
      }
      return found;
    };
    const clicks = facts.filter((f) => f.kind === 'clicks');
    const impressions = facts.filter((f) => f.kind === 'impressions');
    await this.orphans(clicks, impressions, change);
    await this.bursts(clicks, change);
    return changes;
  }

  /**
   * Clicks whose activity has no impression within the window, from the fold's own impressions and the stored
   * ones; and, for each impression of the fold, the campaign-days whose orphan clicks it may take off (an
   * impression stored after its click).
   */
  private async orphans(
    clicks: CampaignEventFact[],
    impressions: CampaignEventFact[],
    change: (key: CounterKey) => CampaignSignalChange,
  ) {
    const window = this.thresholds.impressionMinutes;
    const near = (a: string, b: string) => Math.abs(Date.parse(a) - Date.parse(b)) <= window * MINUTE_MS;
    const campaignOf = (f: CampaignEventFact) => JSON.stringify([f.key.provider, f.key.campaignId]);
    const seen = new Map<string, string[]>();
    const add = (campaign: string, activity: string, at: string) => {
      const id = JSON.stringify([campaign, activity]);
      seen.set(id, [...(seen.get(id) ?? []), at]);
    };
    for (const f of impressions) if (f.activity) add(campaignOf(f), f.activity, f.at);
    const matched = (f: CampaignEventFact) =>
      (seen.get(JSON.stringify([campaignOf(f), f.activity])) ?? []).some((at) => near(at, f.at));
    const open = clicks.filter((f) => f.activity && !matched(f));
    const found = await eachBounded(open, (f) => this.impressionNear(f));
    open.forEach((f, i) => {
      if (!found[i]) change(f.key).orphans.push([f.at, f.activity as string]);
    });
    for (const f of impressions) {
      if (!f.activity) continue;
      for (const day of daysBetween(shift(f.at, -window), shift(f.at, window)))
        change({ ...f.key, day }).resolves.push([f.at, f.activity]);
    }
  }

  /** Devices with more clicks than the threshold in a minute of a campaign, counted from the stored records. */
  private async bursts(clicks: CampaignEventFact[], change: (key: CounterKey) => CampaignSignalChange) {
    const minutes = new Map<string, { key: CounterKey; minute: string }>();
    for (const f of clicks) {
      if (!f.device) continue;
      const minute = f.at.slice(0, 16);
      minutes.set(JSON.stringify([keyId(f.key), minute]), { key: f.key, minute });
    }
    for (const { key, minute } of minutes.values()) {
      const family = campaignDayFamily(key.provider, key.campaignId, key.day);
      const perDevice = new Map<string, number>();
      for (const item of await this.itemsBetween(family, `${minute}`, `${minute}\uffff`)) {
        const record = fromEventItem(item);
        if (!record.device_id || this.countedAs(item, record) !== 'clicks') continue;
        perDevice.set(record.device_id, (perDevice.get(record.device_id) ?? 0) + 1);
      }
      for (const [device, count] of perDevice) {
        if (count > this.thresholds.clicksPerMinute) change(key).bursts.push(burstEntry(minute, device));
      }
    }
  }

  /**
   * The devices of a fold's logins that signed in from two countries within the threshold's minutes, read from
   * the stored logins around them, per provider-day of the fold's login.
   */
  async countryChanges(logins: readonly LoginEventFact[]): Promise<Map<string, LoginSignalChange>> {
    const changes = new Map<string, LoginSignalChange>();
    const byProvider = new Map<string, LoginEventFact[]>();
    for (const f of logins)
      if (f.country) byProvider.set(f.provider, [...(byProvider.get(f.provider) ?? []), f]);
    const window = this.thresholds.countryMinutes;
    for (const [provider, list] of byProvider) {
      const times = list.map((f) => f.at).sort();
      const from = shift(times[0] as string, -window);
      const to = shift(times[times.length - 1] as string, window);
      const stored = new Map<string, { at: string; country: string }[]>();
      for (const day of daysBetween(from, to)) {
        for (const event of LOGIN_EVENTS) {
          for (const record of await this.eventsBetween(typeDayFamily(provider, event, day), from, to)) {
            const country = countryOf(record);
            if (!record.device_id || !country) continue;
            stored.set(record.device_id, [
              ...(stored.get(record.device_id) ?? []),
              { at: record.created_at, country },
            ]);
          }
        }
      }
      for (const f of list) {
        const hop = (stored.get(f.device) ?? []).some(
          (other) =>
            other.country !== f.country &&
            Math.abs(Date.parse(other.at) - Date.parse(f.at)) <= window * MINUTE_MS,
        );
        if (!hop) continue;
        const day = dayOf(f.at);
        const id = JSON.stringify([provider, day]);
        const found = changes.get(id) ?? { provider, day, accounts: [], countries: [] };
        found.countries.push(f.device);
        changes.set(id, found);
      }
    }
    return changes;
  }

  /**
   * Whether an impression of a click's activity is stored within the window either side of it. Read from the
   * click outwards, a page of {@link LOOKUP_PAGE} events at a time, every shard in turn, and only until it is
   * found: a campaign is clicked while it is displayed, so an impression a few seconds before its click costs a
   * few events read, and only a click without one reads the whole window.
   */
  private async impressionNear(click: CampaignEventFact): Promise<boolean> {
    const { provider, campaignId } = click.key;
    const impressions = click.pairsWith;
    if (impressions.length === 0 || !click.activity) return false;
    const window = this.thresholds.impressionMinutes;
    const legs: [string, string, boolean][] = [
      [shift(click.at, -window), click.at, false],
      [click.at, shift(click.at, window), true],
    ];
    for (const [from, to, forward] of legs) {
      const days = daysBetween(from, to);
      for (const day of forward ? days : days.reverse()) {
        const pages = shardKeys(campaignDayFamily(provider, campaignId, day), this.layout).map((pk) =>
          queryPages(this.client, {
            TableName: this.tableName,
            KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
            FilterExpression: `#activity = :activity AND #event IN (${impressions.map((_, i) => `:e${i}`).join(', ')})`,
            ExpressionAttributeNames: {
              '#pk': RECORDS_TABLE.partitionKey,
              '#sk': RECORDS_TABLE.sortKey,
              '#activity': 'activity_id',
              '#event': 'event',
            },
            ExpressionAttributeValues: {
              ':pk': { S: pk },
              ':from': { S: `${EVENT_SORT_PREFIX}${from}` },
              ':to': { S: `${EVENT_SORT_PREFIX}${to}\uffff` },
              ':activity': { S: click.activity as string },
              ...Object.fromEntries(impressions.map((event, i) => [`:e${i}`, { S: event }])),
            },
            ProjectionExpression: '#pk',
            ScanIndexForward: forward,
            Limit: LOOKUP_PAGE,
            ConsistentRead: true,
          }),
        );
        // Every shard a page at a time: the impression is on one of them, at a distance the others do not know.
        while (pages.length > 0) {
          for (const [i, shard] of [...pages.entries()].reverse()) {
            const page = await shard.next();
            if (!page.done && page.value.length > 0) {
              await Promise.all(pages.map((other) => other.return(undefined)));
              return true;
            }
            if (page.done) pages.splice(i, 1);
          }
        }
      }
    }
    return false;
  }

  /**
   * What a stored event counts as: as its item says, or, for an item stored before items said, as its provider
   * counts it now.
   */
  private countedAs(item: Item, record: StoredEvent): CountedKind | undefined {
    const kept = countedAsOf(item);
    return kept === undefined ? this.legacyKindOf(record.provider, record.event) : (kept ?? undefined);
  }

  /** The events of a partition family created from `from` to `to` (ISO 8601, inclusive), read consistently. */
  private async eventsBetween(family: string, from: string, to: string): Promise<StoredEvent[]> {
    return (await this.itemsBetween(family, from, to)).map(fromEventItem);
  }

  /** The event items of a partition family created from `from` to `to` (ISO 8601, inclusive), read consistently. */
  private async itemsBetween(family: string, from: string, to: string): Promise<Item[]> {
    const records: Item[] = [];
    for (const pk of shardKeys(family, this.layout)) {
      const items = await queryItems(this.client, {
        TableName: this.tableName,
        KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
        ExpressionAttributeNames: { '#pk': RECORDS_TABLE.partitionKey, '#sk': RECORDS_TABLE.sortKey },
        ExpressionAttributeValues: {
          ':pk': { S: pk },
          ':from': { S: `${EVENT_SORT_PREFIX}${from}` },
          ':to': { S: `${EVENT_SORT_PREFIX}${to}\uffff` },
        },
        ConsistentRead: true,
      });
      records.push(...items);
    }
    return records;
  }
}
