import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { CountedKinds } from '../events/event-record';
import { findProvider } from '../providers';
import type { SignalledCounterItem } from '../signals/report';
import { dayCampaigns } from '../table/counter-items';
import { dayNumber, MAX_RANGE_DAYS, type ReachHistogram, uniqueOver } from '../table/reach';
import {
  type CounterItem,
  counterItemKey,
  fromCounterItem,
  RECORDS_TABLE,
  statsPartitionKey,
} from '../table/records-table';
import { campaignSignalsOf } from '../table/signal-attributes';
import { getItems, type Item, queryItems } from '../table/table-io';

/** A counter item as read, with the fraud and quality signals the fold keeps on it. */
export const counterItemOf = (item: Item): SignalledCounterItem => ({
  ...fromCounterItem(item),
  signals: campaignSignalsOf(item),
});

/** One campaign's counts for one UTC day. */
export interface CampaignDayStats {
  provider: string;
  campaign_id: string;
  day: string;
  impressions: number;
  clicks: number;
  unique_devices: number;
  /** clicks / impressions, `null` with no impressions. */
  ctr: number | null;
}

/**
 * What a counter item's event types count as: as its events counted when received, which the item keeps (see
 * `countedKindsOfItem`), so that a provider's counted map changed later changes nothing about the days counted
 * before; for an item no fold wrote since items kept it, as the provider's current code counts them (as the
 * high-CTR signal reads it). The dashboard reads them the same way, so its totals, hours and breakdowns agree
 * with `events stats`.
 */
export function countedKindsOfCounter(counter: SignalledCounterItem): CountedKinds {
  return counter.signals?.counted ?? findProvider(counter.provider)?.counted ?? {};
}

/**
 * A campaign-day's counts as its events counted when received: the counter items keep stored events per event
 * type, and what each type counted as (see {@link countedKindsOfCounter}).
 */
export function toCampaignDayStats(counter: SignalledCounterItem): CampaignDayStats {
  const counted = countedKindsOfCounter(counter);
  let impressions = 0;
  let clicks = 0;
  for (const [event, count] of Object.entries(counter.counts)) {
    // The provider's own entries only: an event type read back from an attribute name is not a property name.
    if (!Object.hasOwn(counted, event)) continue;
    if (counted[event] === 'impressions') impressions += count;
    if (counted[event] === 'clicks') clicks += count;
  }
  return {
    provider: counter.provider,
    campaign_id: counter.campaign_id,
    day: counter.day,
    impressions,
    clicks,
    unique_devices: counter.unique_devices,
    ctr: impressions > 0 ? clicks / impressions : null,
  };
}

/**
 * A counter item's reach histogram (see `reach.ts`). An item folded before histograms were kept has none: its
 * day's unique devices are then taken as devices new to any range, which over-counts a device seen on two of
 * its days but never under-counts.
 */
export function reachOf(item: CounterItem): ReachHistogram {
  if (item.reach.size > 0) return item.reach;
  return item.unique_devices > 0 ? new Map([[0, item.unique_devices]]) : new Map();
}

/**
 * How many reads a range runs at once: a 92-day range and its previous period are 184 provider-days per
 * provider, and DynamoDB's SDK client shares 50 sockets by default with whatever else the process does.
 */
export const READ_CONCURRENCY = 16;

/**
 * How many items read in one call cost about as much as one call more: a range's counter items are read by one
 * query per campaign when that takes fewer calls than batch reads by key would, counting this many items as one
 * call (a query reads a partition's items together, a batch read finds each by key; measured against the local
 * DynamoDB-API server, and in DynamoDB a query is also billed per 4 KB read rather than per item).
 */
export const ITEMS_PER_CALL = 32;

/**
 * Maps `inputs` through `read` with at most `limit` calls under way, in order; the first failure is thrown once
 * the calls under way have ended, and no call starts after it.
 */
export async function mapBounded<T, R>(
  inputs: readonly T[],
  limit: number,
  read: (input: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(inputs.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < inputs.length && !failure) {
      const at = next++;
      try {
        results[at] = await read(inputs[at] as T);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, inputs.length)) }, worker));
  if (failure) throw failure.error;
  return results;
}

/** One campaign's counts summed over a range of days. */
export interface CampaignRangeStats {
  provider: string;
  campaign_id: string;
  /** First and last UTC day of the range (`YYYY-MM-DD`, inclusive). */
  since: string;
  until: string;
  impressions: number;
  clicks: number;
  /**
   * Devices counted once over the range (exact up to {@link MAX_RANGE_DAYS} days); over a longer range, the sum
   * of each day's unique devices, where a device seen on two days counts twice (see `unique_devices_exact`).
   */
  unique_devices: number;
  /** `true` when `unique_devices` counts each device once over the range. */
  unique_devices_exact: boolean;
  /** clicks / impressions, `null` with no impressions. */
  ctr: number | null;
}

/** Orders rows most impressions first; then by campaign and provider, so that equal counts keep one order. */
export const byImpressions = <T extends { impressions: number; campaign_id: string; provider: string }>(
  a: T,
  b: T,
) =>
  b.impressions - a.impressions ||
  a.campaign_id.localeCompare(b.campaign_id) ||
  a.provider.localeCompare(b.provider);

/**
 * Reads the campaign counters. Only reads: a campaign-day left by a killed batch is settled by the consumer's
 * repair pass, never by a reader.
 */
export class CampaignStats {
  /**
   * @param options.consistent consistent reads of counter items (the default, as `stats` reads them); a view
   *   that reads again every few seconds (the dashboard) takes eventually consistent ones, at half the units.
   */
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly options: { consistent?: boolean } = {},
  ) {}

  private get consistent() {
    return this.options.consistent ?? true;
  }

  /** One campaign's counter items, day by day (`since`/`until` inclusive, `YYYY-MM-DD`). */
  async counterItems(
    provider: string,
    campaignId: string,
    since = '0000',
    until = '9999',
  ): Promise<CounterItem[]> {
    const items = await queryItems(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :since AND :until',
      ExpressionAttributeNames: { '#pk': RECORDS_TABLE.partitionKey, '#sk': RECORDS_TABLE.sortKey },
      ExpressionAttributeValues: {
        ':pk': { S: statsPartitionKey(provider, campaignId) },
        ':since': { S: since },
        ':until': { S: until },
      },
      ConsistentRead: this.consistent,
    });
    return items.map(counterItemOf);
  }

  /** One campaign's counts, day by day (`since`/`until` inclusive, `YYYY-MM-DD`), read consistently. */
  async campaignStats(
    provider: string,
    campaignId: string,
    since?: string,
    until?: string,
  ): Promise<CampaignDayStats[]> {
    return (await this.counterItems(provider, campaignId, since, until)).map(toCampaignDayStats);
  }

  /** The campaigns with a counter item on one day, as the `gsi3` index lists them (keys only). */
  private dayCampaigns(provider: string, day: string): Promise<string[]> {
    return dayCampaigns(this.client, this.tableName, provider, day);
  }

  /** Counter items by key: consistent batch reads of up to 100 keys. */
  private async itemsOn(provider: string, day: string, campaigns: string[]): Promise<CounterItem[]> {
    const keys = campaigns.map((campaignId) => counterItemKey({ provider, campaignId, day }));
    return (await getItems(this.client, this.tableName, keys, this.consistent)).map(counterItemOf);
  }

  /**
   * Every campaign's counter items on one day: the `gsi3` index lists them, the table gives their counts
   * (consistent reads; the index entries hold no counts, so moving a count never rewrites one).
   */
  async dayCounterItems(provider: string, day: string): Promise<CounterItem[]> {
    return this.itemsOn(provider, day, await this.dayCampaigns(provider, day));
  }

  /**
   * Every campaign's counter items on each of `days` (consecutive UTC days) for each of `providers`. Each
   * provider-day's campaigns are listed by one index query, {@link READ_CONCURRENCY} at once; the items are then
   * read the cheaper way: by key, in batches of 100 per provider-day, or, when the campaigns have items on many
   * of the days, by one query of each campaign's partition over the days (a query is billed per 4 KB of the
   * items it reads together, a batch read per item, and each call has a cost of its own; see
   * {@link ITEMS_PER_CALL}).
   */
  async daysCounterItems(providers: readonly string[], days: readonly string[]): Promise<CounterItem[]> {
    const providerDays = providers.flatMap((provider) => days.map((day) => ({ provider, day })));
    const listed = await mapBounded(providerDays, READ_CONCURRENCY, async ({ provider, day }) => ({
      provider,
      day,
      campaigns: await this.dayCampaigns(provider, day),
    }));
    const items = listed.reduce((total, { campaigns }) => total + campaigns.length, 0);
    const batches = listed.reduce((total, { campaigns }) => total + Math.ceil(campaigns.length / 100), 0);
    // Keyed by a Map on both parts: ids are the senders' and may be any string.
    const campaigns = new Map<string, { provider: string; campaignId: string }>();
    for (const { provider, campaigns: ids } of listed) {
      for (const campaignId of ids)
        campaigns.set(JSON.stringify([provider, campaignId]), { provider, campaignId });
    }
    if (campaigns.size < batches + items / ITEMS_PER_CALL) {
      const first = days.reduce((a, b) => (b < a ? b : a), days[0] ?? '');
      const last = days.reduce((a, b) => (b > a ? b : a), days[0] ?? '');
      const wanted = new Set(days);
      const read = await mapBounded([...campaigns.values()], READ_CONCURRENCY, ({ provider, campaignId }) =>
        this.counterItems(provider, campaignId, first, last),
      );
      return read.flat().filter((item) => wanted.has(item.day));
    }
    const read = await mapBounded(
      listed.filter(({ campaigns: ids }) => ids.length > 0),
      READ_CONCURRENCY,
      ({ provider, day, campaigns: ids }) => this.itemsOn(provider, day, ids),
    );
    return read.flat();
  }

  /** Every campaign's counts on one day, most impressions first. */
  async dayStats(provider: string, day: string): Promise<CampaignDayStats[]> {
    return (await this.dayCounterItems(provider, day)).map(toCampaignDayStats).sort(byImpressions);
  }

  /**
   * Every campaign's counts summed over `days`, most impressions first. A campaign is its provider and its id:
   * two providers may use the same id for campaigns that have nothing in common.
   */
  async rangeStats(providers: string[], days: string[]): Promise<CampaignRangeStats[]> {
    const since = days.reduce((first, day) => (day < first ? day : first), days[0] ?? '');
    const until = days.reduce((last, day) => (day > last ? day : last), days[0] ?? '');
    const exact = days.length > 0 && dayNumber(until) - dayNumber(since) < MAX_RANGE_DAYS;
    // Keyed by a Map on both parts: ids are the senders' and may be any string, `__proto__` included.
    const totals = new Map<
      string,
      Map<string, CampaignRangeStats & { reach: Map<string, ReachHistogram> }>
    >();
    for (const provider of providers) {
      const campaigns = new Map<string, CampaignRangeStats & { reach: Map<string, ReachHistogram> }>();
      totals.set(provider, campaigns);
      for (const day of days) {
        for (const item of await this.dayCounterItems(provider, day)) {
          const row = toCampaignDayStats(item);
          const total = campaigns.get(row.campaign_id) ?? {
            provider,
            campaign_id: row.campaign_id,
            since,
            until,
            impressions: 0,
            clicks: 0,
            unique_devices: 0,
            unique_devices_exact: exact,
            ctr: null,
            reach: new Map(),
          };
          total.impressions += row.impressions;
          total.clicks += row.clicks;
          total.unique_devices += row.unique_devices;
          total.reach.set(day, reachOf(item));
          campaigns.set(row.campaign_id, total);
        }
      }
    }
    return [...totals.values()]
      .flatMap((campaigns) => [...campaigns.values()])
      .map(({ reach, ...total }) => ({
        ...total,
        unique_devices: exact ? uniqueOver(reach, since, until) : total.unique_devices,
        ctr: total.impressions > 0 ? total.clicks / total.impressions : null,
      }))
      .sort(byImpressions);
  }
}
