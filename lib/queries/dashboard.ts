import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DEFAULT_APP, isAppName } from '../events/app-name';
import { type CountedKinds, MAX_TEXT_FIELD } from '../events/event-record';
import { allProviders, providerNames } from '../providers';
import { type SignalledCounterItem, type SignalReport, signalReport } from '../signals/report';
import { DEFAULT_SIGNAL_THRESHOLDS, type SignalThresholds } from '../signals/thresholds';
import { foldStateVersion, readFoldChanges } from '../table/counter-items';
import {
  fromProviderDayItem,
  type ProviderDay,
  providerDayKey,
  readProviderDays,
} from '../table/provider-days';
import {
  addInto,
  dayNumber,
  dayOfNumber,
  devicesOf,
  MAX_RANGE_DAYS,
  type ReachHistogram,
  uniqueOver,
} from '../table/reach';
import {
  BREAKDOWNS,
  type CounterItem,
  campaignDayFamily,
  counterFieldsOf,
  counterItemKey,
  countsEveryApp,
  EVENT_SORT_PREFIX,
  fromEventItem,
  OTHER_VALUE,
  RECORDS_TABLE,
  type StoredEvent,
  shardKeys,
  type TableLayout,
  typeDayFamily,
} from '../table/records-table';
import { getItems, type Item, queryItems, withoutUnusedSdkLogging } from '../table/table-io';
import {
  byImpressions,
  CampaignStats,
  countedKindsOfCounter,
  counterItemOf,
  mapBounded,
  READ_CONCURRENCY,
  reachOf,
  toCampaignDayStats,
} from './campaign-stats';
import type { PipelineHealth, PipelineHealthFigures } from './pipeline-health';

/** One campaign's row of the dashboard. */
export interface DashboardCampaign {
  provider: string;
  campaign_id: string;
  /** The range's last day (kept from the first version of this API, which read one day). */
  day: string;
  campaign_name: string | null;
  impressions: number;
  clicks: number;
  /** clicks / impressions, `null` with no impressions. */
  ctr: number | null;
  /** Devices counted once over the range; `null` under a breakdown filter (devices are not kept per value). */
  unique_devices: number | null;
}

/** Impressions and clicks of one breakdown value (a platform, a country, a material, an app). */
export interface BreakdownRow {
  key: string;
  impressions: number;
  clicks: number;
}

/** A material's row: its counts, and the name its events give it. */
export interface MaterialRow extends BreakdownRow {
  /**
   * The material's name in the newest event read that names it (the counters keep its id only); `null` when
   * none of the events read does.
   */
  name: string | null;
}

/** The breakdowns a dashboard can be filtered by (the hour is a chart of its own, not a filter). */
export const FILTER_BREAKDOWNS = ['platform', 'country', 'material', 'app'] as const;
/** One of {@link FILTER_BREAKDOWNS}. */
export type FilterBreakdown = (typeof FILTER_BREAKDOWNS)[number];

/** What one `GET /api/dashboard` asks for, checked by {@link parseDashboardQuery}. */
export interface DashboardQuery {
  /** First and last UTC day of the range, `YYYY-MM-DD`, inclusive, at most {@link MAX_RANGE_DAYS} days. */
  from: string;
  to: string;
  /** The IANA time zone the page shows times in; days are UTC whatever it is. */
  tz: string;
  /** One campaign only: both set or neither. */
  provider: string | null;
  campaign: string | null;
  /** One breakdown value only: both set or neither. */
  breakdown: FilterBreakdown | null;
  value: string | null;
}

/** One day of the range's series. */
export interface DailyRow {
  day: string;
  impressions: number;
  clicks: number;
  ctr: number | null;
  /** The day's unique devices (per provider, summed over providers); `null` under a breakdown filter. */
  unique_devices: number | null;
}

/** The figures of the period of the same length just before the range. */
export interface PreviousPeriod {
  from: string;
  to: string;
  impressions: number;
  clicks: number;
  ctr: number | null;
  unique_devices: number | null;
}

/** One provider's deliveries over the range; `null` for a figure its source cannot give. */
export interface ProviderDelivery {
  provider: string;
  received: number | null;
  stored: number | null;
  duplicates: number | null;
  quarantined: number | null;
  refused: number | null;
}

/** What the pipeline did with the range's deliveries, and its queues now; `null` for what no source gives. */
export interface Delivery {
  received: number | null;
  stored: number | null;
  duplicates: number | null;
  quarantined: number | null;
  refused: number | null;
  dead_letters: number | null;
  oldest_message_age_s: number | null;
  by_provider: ProviderDelivery[];
}

/** `GET /api/dashboard`: the fields are a contract (extend, never rename). */
export interface Dashboard {
  /** The range's last day (the first version of this API read one day, named here). */
  day: string;
  from: string;
  to: string;
  tz: string;
  /** Days are cut in UTC whatever `tz` is: the counters are kept per UTC day. */
  days_in: 'UTC';
  filter: {
    provider: string | null;
    campaign: string | null;
    breakdown: FilterBreakdown | null;
    value: string | null;
  };
  campaigns: DashboardCampaign[];
  totals: {
    impressions: number;
    clicks: number;
    /**
     * Devices counted once over the range across campaigns, per provider (two providers' devices are different
     * devices); `null` under a breakdown filter.
     */
    unique_devices: number | null;
  };
  /** 24 entries, hour 0 to 23 (UTC) of `created_at`, summed over the range; zeros under a breakdown filter. */
  hourly: { hour: number; impressions: number; clicks: number }[];
  /** `false` under a breakdown filter: the counters keep hours per campaign-day, not per breakdown value. */
  hourly_available: boolean;
  /**
   * Summed over the range; under a breakdown filter only that breakdown's row of the value, the others empty.
   * `app` is empty when {@link Dashboard.app_available} is `false`.
   */
  breakdowns: {
    platform: BreakdownRow[];
    country: BreakdownRow[];
    material: MaterialRow[];
    app: BreakdownRow[];
  };
  /**
   * `false` when a day of the range has events counted before the counters split them by app (see
   * {@link Dashboard.app_unavailable_days}): the range's app breakdown is then not known, and is left empty
   * rather than short.
   */
  app_available: boolean;
  /**
   * The days of the range and of the period before it, oldest first, with a counter item (of the campaign asked,
   * if one is) folded wholly or in part before the counters split events by app. Under `breakdown=app` every
   * figure leaves such a day's events out: a day listed here counts 0 because its apps are not known, not
   * because it had none.
   */
  app_unavailable_days: string[];
  /** The range's last day's latest events by `created_at`, newest first, as `query --json` prints them. */
  latest: StoredEvent[];
  /** One row per day of the range, oldest first. */
  daily: DailyRow[];
  previous: PreviousPeriod;
  delivery: Delivery;
  /**
   * The range's fraud and quality signals (see `SignalReport`), of the campaigns and providers the filter keeps
   * (a breakdown filter does not cut them: they are kept per campaign-day and provider-day).
   */
  signals: SignalReport;
}

/** Views whose counted items a reader keeps (see `countedItems`). */
const COUNTED_VIEWS = 8;
/**
 * Folds a reader may be behind and still read only what they wrote; a page polling every few seconds is at most
 * one behind, a page left in a background tab a few.
 */
const MAX_FOLDS_BEHIND = 5;

/** The counted items of a view, as of the fold state's `counted`; `settled` once checked against its fold. */
interface CountedView {
  version: number;
  settled: boolean;
  items: CounterItem[];
  providerDays: ProviderDay[];
}

/** How many latest events the dashboard lists. */
export const LATEST_EVENTS = 20;

/**
 * Newest events read, once, from each partition of a campaign-day whose material the day's latest events do not
 * name: a bound on what naming a material costs (a query reads whole items, about 13 read units per 100).
 */
export const MATERIAL_NAME_EVENTS = 100;

/** Material names and fruitless searches a reader keeps; past this many it forgets them and reads them again. */
const REMEMBERED = 10_000;

/** A material id under one provider (two providers may give one id to two materials); ids come from senders. */
const materialKey = (provider: string, material: string) => JSON.stringify([provider, material]);
/** A material of one campaign-day. */
const searchKey = (item: CounterItem, material: string) =>
  JSON.stringify([item.provider, item.campaign_id, item.day, material]);
/** A campaign: its provider and its id (two providers may use one id for unrelated campaigns). */
const campaignKey = (provider: string, campaign: string) => JSON.stringify([provider, campaign]);

/**
 * Which counter (if any) an event type moves. Only the kinds' own entries: the event type is read back from a
 * counter attribute, and `constructor` or `toString` must not find what every object inherits.
 */
function counterOf(kinds: CountedKinds, event: string): 'impressions' | 'clicks' | undefined {
  return Object.hasOwn(kinds, event) ? kinds[event] : undefined;
}

/** An hour breakdown's value as a slot of the day, `undefined` for anything but `00` … `23`. */
const hourOf = (key: string) => (/^([01]\d|2[0-3])$/.test(key) ? Number(key) : undefined);

const ctrOf = (impressions: number, clicks: number) => (impressions > 0 ? clicks / impressions : null);

/** The UTC days from `from` to `to`, inclusive, oldest first. */
export function daysOf(from: string, to: string): string[] {
  const first = dayNumber(from);
  return Array.from({ length: dayNumber(to) - first + 1 }, (_, i) => dayOfNumber(first + i));
}

/** The query of one whole UTC day, unfiltered: what `read(day)` has always read. */
export const dayQuery = (day: string): DashboardQuery => ({
  from: day,
  to: day,
  tz: 'UTC',
  provider: null,
  campaign: null,
  breakdown: null,
  value: null,
});

/** A counter item's impressions and clicks, or those of one breakdown value only. */
function countsOf(
  item: SignalledCounterItem,
  query: DashboardQuery,
): { impressions: number; clicks: number } {
  if (!query.breakdown || query.value === null) return toCampaignDayStats(item);
  const counts = { impressions: 0, clicks: 0 };
  const byEvent = Object.hasOwn(item.breakdowns[query.breakdown], query.value)
    ? item.breakdowns[query.breakdown][query.value]
    : undefined;
  const kinds = countedKindsOfCounter(item);
  for (const [event, count] of Object.entries(byEvent ?? {})) {
    const counter = counterOf(kinds, event);
    if (counter) counts[counter] += count;
  }
  return counts;
}

/**
 * `false` for an item the query's breakdown filter leaves out: it counted nothing under the value, or (an app
 * filter) it was folded before events were counted by app, so what it counted under the value is not known.
 */
const keeps = (item: CounterItem, query: DashboardQuery) =>
  !query.breakdown ||
  query.value === null ||
  (Object.hasOwn(item.breakdowns[query.breakdown], query.value) &&
    (query.breakdown !== 'app' || countsEveryApp(item)));

/** The range's hours and breakdown tables, each value's rows most impressions first. */
function breakdownTables(items: CounterItem[], query: DashboardQuery) {
  const hourly = Array.from({ length: 24 }, (_, hour) => ({ hour, impressions: 0, clicks: 0 }));
  const tables = { platform: new Map(), country: new Map(), material: new Map(), app: new Map() } as Record<
    FilterBreakdown,
    Map<string, BreakdownRow>
  >;
  for (const item of items) addBreakdowns(item, hourly, tables, query);
  const rows = (map: Map<string, BreakdownRow>) =>
    [...map.values()].sort((a, b) => b.impressions - a.impressions || a.key.localeCompare(b.key));
  return {
    hourly,
    breakdowns: {
      platform: rows(tables.platform),
      country: rows(tables.country),
      material: rows(tables.material),
      app: rows(tables.app),
    },
  };
}

/**
 * The figures of any period within the items read (the range and the period before it): impressions, clicks
 * and CTR summed by day, unique devices counted once over the period.
 */
function periodOf(allItems: CounterItem[], query: DashboardQuery, reach: ReachOf) {
  const byDay = new Map<string, { impressions: number; clicks: number }>();
  for (const item of allItems) {
    if (!keeps(item, query)) continue;
    const counts = countsOf(item, query);
    const day = byDay.get(item.day) ?? { impressions: 0, clicks: 0 };
    day.impressions += counts.impressions;
    day.clicks += counts.clicks;
    byDay.set(item.day, day);
  }
  return (first: string, last: string) => {
    let impressions = 0;
    let clicks = 0;
    for (const [day, counts] of byDay) {
      if (day < first || day > last) continue;
      impressions += counts.impressions;
      clicks += counts.clicks;
    }
    return {
      impressions,
      clicks,
      ctr: ctrOf(impressions, clicks),
      unique_devices: reach.unique(query, first, last),
    };
  };
}

/**
 * Whether the items read count their events by app: the days (of the range and the period before) with an item
 * folded, wholly or in part, before they did, and whether the range `[from, to]` has none.
 */
function appsCounted(items: CounterItem[], from: string, to: string) {
  const days = [...new Set(items.filter((item) => !countsEveryApp(item)).map((item) => item.day))].sort();
  return {
    app_available: !days.some((day) => day >= from && day <= to),
    app_unavailable_days: days,
  };
}

/**
 * Builds the dashboard of a range of UTC days from the counter items (exact: the same per-batch updates as the
 * counters), the provider-day items (reach across campaigns, deliveries) and the range's last day's latest
 * events from the table, which also name the materials the counters know by id. Only reads.
 */
export class DashboardReader {
  private readonly stats: CampaignStats;
  /**
   * Material names by provider and material as counters hold its id, with the time of the event that gave
   * each: the page asks every few seconds, and a name found once is not looked for again.
   */
  private readonly materialNames = new Map<string, { name: string; at: string }>();
  /** Campaign-days whose events were read for a material's name and did not give one (see `nameMaterials`). */
  private readonly searched = new Set<string>();

  /**
   * @param health where refusals, dead letters and the oldest message's age come from; without it those
   *   figures are `null`.
   */
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly layout: TableLayout,
    private readonly health?: PipelineHealth,
    /** The signals' thresholds: the CTR's applies when the page is read, the others when the fold ran. */
    private readonly thresholds: SignalThresholds = DEFAULT_SIGNAL_THRESHOLDS,
  ) {
    // A load parses thousands of counter items: the SDK's logger step would copy each answer for nothing.
    withoutUnusedSdkLogging(client);
    // Eventually consistent: a load a second behind the table shows the fold's counts at the next one.
    this.stats = new CampaignStats(client, tableName, { consistent: false });
  }

  /**
   * @param request a query checked by {@link parseDashboardQuery}, or one UTC day `YYYY-MM-DD` (the whole day,
   *   unfiltered).
   */
  async read(request: string | DashboardQuery): Promise<Dashboard> {
    const query = typeof request === 'string' ? dayQuery(request) : request;
    const { from, to } = query;
    const days = daysOf(from, to);
    const previousTo = dayOfNumber(dayNumber(from) - 1);
    const previousFrom = dayOfNumber(dayNumber(from) - days.length);
    const providers = providerNames();
    const [{ items: allItems, providerDays }, health] = await Promise.all([
      this.countedItems(query, previousFrom, to),
      this.health ? this.health.read(from, to) : undefined,
    ]);
    const items = allItems.filter((item) => item.day >= from && item.day <= to && keeps(item, query));
    const apps = appsCounted(allItems, from, to);
    const reach = new ReachOf(allItems, providerDays);
    const campaigns = this.campaignRows(items, query, reach);
    const { hourly, breakdowns } = breakdownTables(items, query);
    // The last day's campaigns whatever the breakdown filter: the events are not cut by breakdown value.
    const events = await this.dayEvents(
      to,
      allItems.filter((item) => item.day === to),
      query,
    );
    this.learnNames(events);
    await this.nameMaterials(items);
    const nameOf = this.namesOf(items);
    const period = periodOf(allItems, query, reach);
    return {
      day: to,
      from,
      to,
      tz: query.tz,
      days_in: 'UTC',
      filter: {
        provider: query.provider,
        campaign: query.campaign,
        breakdown: query.breakdown,
        value: query.value,
      },
      campaigns,
      totals: {
        impressions: campaigns.reduce((total, c) => total + c.impressions, 0),
        clicks: campaigns.reduce((total, c) => total + c.clicks, 0),
        unique_devices: reach.unique(query, from, to),
      },
      hourly,
      hourly_available: query.breakdown === null,
      breakdowns: {
        platform: breakdowns.platform,
        country: breakdowns.country,
        material: breakdowns.material.map((row) => ({ ...row, name: nameOf(row.key) })),
        app: apps.app_available ? breakdowns.app : [],
      },
      ...apps,
      latest: events.slice(0, LATEST_EVENTS),
      daily: days.map((day) => {
        const { impressions, clicks, ctr } = period(day, day);
        return { day, impressions, clicks, ctr, unique_devices: reach.daily(query, day) };
      }),
      previous: { from: previousFrom, to: previousTo, ...period(previousFrom, previousTo) },
      delivery: deliveryOf(providers, days, allItems, providerDays, health),
      signals: signalReport(
        allItems.filter(
          (item) =>
            item.day >= from &&
            item.day <= to &&
            (query.provider === null || item.provider === query.provider) &&
            (query.campaign === null || item.campaign_id === query.campaign),
        ),
        query.campaign === null
          ? providerDays.filter(
              (day) =>
                day.day >= from &&
                day.day <= to &&
                (query.provider === null || day.provider === query.provider),
            )
          : [],
        this.thresholds,
      ),
    };
  }

  /** Counted items read by earlier loads, by what they cover, with the fold state's `counted` they were read at. */
  private readonly counted = new Map<string, CountedView>();

  /**
   * The counter items and provider-day items from `first` to `last`. Only the repair's fold writes counts, and it
   * moves the fold state's `counted` whenever it writes (at least once a minute in AWS while events come):
   * - while `counted` is the one they were read at, the items of an earlier load are the table's: a page asking
   *   every few seconds reads one small item per load;
   * - when it moved by a few folds, each fold wrote down which items it wrote: only those are read again, by key
   *   and consistently;
   * - else (a first load, a reader far behind, a fold of very many items) every item is read again, eventually
   *   consistent. Such a read may miss a write made a moment before, so the next load reads the latest fold's
   *   items again consistently; earlier folds' writes are a fold interval old by then, far longer than
   *   DynamoDB takes to make a write visible to every read.
   */
  private async countedItems(query: DashboardQuery, first: string, last: string): Promise<CountedView> {
    const key = JSON.stringify([query.provider, query.campaign, first, last]);
    const version = await foldStateVersion(this.client, this.tableName);
    const known = this.counted.get(key);
    if (version !== undefined && known) {
      const updated = await this.updated(known, version, query, first, last);
      if (updated) return this.remember(key, updated);
    }
    const [items, providerDays] = await Promise.all([
      this.counterItems(query, first, last),
      Promise.all(
        providerNames().map((provider) =>
          readProviderDays(this.client, this.tableName, provider, first, last),
        ),
      ),
    ]);
    const read: CountedView = {
      version: version ?? -1,
      settled: false,
      items,
      providerDays: providerDays.flat(),
    };
    return version === undefined ? read : this.remember(key, read);
  }

  /** Keeps a few views at a time (a range, the period before, a drill-down or two); the oldest goes first. */
  private remember(key: string, view: CountedView): CountedView {
    this.counted.delete(key);
    if (this.counted.size >= COUNTED_VIEWS) this.counted.delete(this.counted.keys().next().value as string);
    this.counted.set(key, view);
    return view;
  }

  /**
   * `known` brought to `version` by reading again what the folds since wrote.
   * @returns `undefined` when that cannot be told (the folds' lists expired or were not kept): read everything.
   */
  private async updated(
    known: CountedView,
    version: number,
    query: DashboardQuery,
    first: string,
    last: string,
  ): Promise<CountedView | undefined> {
    if (known.version === version && known.settled) return known;
    const behind = version - known.version;
    if (behind < 0 || behind > MAX_FOLDS_BEHIND || (behind > 0 && !known.settled)) return undefined;
    const versions =
      behind === 0 ? [version] : Array.from({ length: behind }, (_, i) => known.version + 1 + i);
    const changes = await readFoldChanges(this.client, this.tableName, versions);
    // The latest fold's list is gone (written before lists were kept): the read stands, as it did before.
    if (behind === 0 && !changes) return { ...known, settled: true };
    if (!changes || changes.whole) return undefined;
    const served = new Set(providerNames());
    const within = (provider: string, day: string) => served.has(provider) && day >= first && day <= last;
    const counters = changes.counters.filter(
      (key) =>
        within(key.provider, key.day) &&
        (query.campaign === null || (key.provider === query.provider && key.campaignId === query.campaign)),
    );
    const providerDays = changes.providerDays.filter(({ provider, day }) => within(provider, day));
    const [items, days] = await Promise.all([
      getItems(this.client, this.tableName, counters.map(counterItemKey)),
      getItems(
        this.client,
        this.tableName,
        providerDays.map(({ provider, day }) => providerDayKey(provider, day)),
      ),
    ]);
    const counterId = (provider: string, campaign: string, day: string) =>
      JSON.stringify([provider, campaign, day]);
    const dayId = (provider: string, day: string) => JSON.stringify([provider, day]);
    const itemsBy = new Map(
      known.items.map((item) => [counterId(item.provider, item.campaign_id, item.day), item]),
    );
    for (const { provider, campaignId, day } of counters)
      itemsBy.delete(counterId(provider, campaignId, day));
    for (const item of items.map(counterItemOf)) {
      itemsBy.set(counterId(item.provider, item.campaign_id, item.day), item);
    }
    const daysBy = new Map(known.providerDays.map((day) => [dayId(day.provider, day.day), day]));
    for (const { provider, day } of providerDays) daysBy.delete(dayId(provider, day));
    for (const day of days.map(fromProviderDayItem)) daysBy.set(dayId(day.provider, day.day), day);
    return { version, settled: true, items: [...itemsBy.values()], providerDays: [...daysBy.values()] };
  }

  /**
   * The counter items from `first` to `last`: a campaign's in one query of its partition, else every campaign's
   * day by day through the day's index partition (the index lists a day's campaigns; a table query by day would
   * read every campaign's partition).
   */
  private counterItems(query: DashboardQuery, first: string, last: string): Promise<CounterItem[]> {
    if (query.provider !== null && query.campaign !== null) {
      return this.stats.counterItems(query.provider, query.campaign, first, last);
    }
    return this.stats.daysCounterItems(providerNames(), daysOf(first, last));
  }

  /** One row per campaign counted in the range, its figures summed over the range's items. */
  private campaignRows(items: CounterItem[], query: DashboardQuery, reach: ReachOf): DashboardCampaign[] {
    const rows = new Map<string, DashboardCampaign & { named: string }>();
    for (const item of items) {
      const key = campaignKey(item.provider, item.campaign_id);
      const row = rows.get(key) ?? {
        provider: item.provider,
        campaign_id: item.campaign_id,
        day: query.to,
        campaign_name: null,
        impressions: 0,
        clicks: 0,
        ctr: null,
        unique_devices: null,
        named: '',
      };
      const { impressions, clicks } = countsOf(item, query);
      row.impressions += impressions;
      row.clicks += clicks;
      // The newest day's name: a campaign renamed within the range shows its current name.
      if (item.name !== null && item.day >= row.named) {
        row.campaign_name = item.name;
        row.named = item.day;
      }
      rows.set(key, row);
    }
    return [...rows.values()]
      .map(({ named: _, ...row }) => ({
        ...row,
        ctr: ctrOf(row.impressions, row.clicks),
        unique_devices: query.breakdown
          ? null
          : reach.campaign(row.provider, row.campaign_id, query.from, query.to),
      }))
      .sort(byImpressions);
  }

  /**
   * The events read to find the day's {@link LATEST_EVENTS} newest, newest first (so those come first): from each
   * campaign's partitions and, unless one campaign is asked for, each provider's other event types (material
   * events among them). Read in two rounds, so that a day of many campaigns does not read {@link LATEST_EVENTS}
   * events of each: first the few newest of every partition, then the newest {@link LATEST_EVENTS} of the
   * partitions whose few newest all rank among the first round's {@link LATEST_EVENTS} newest. A partition whose
   * oldest event read is older than that many events read holds none of the day's newest beyond what was read.
   */
  private async dayEvents(day: string, items: CounterItem[], query: DashboardQuery): Promise<StoredEvent[]> {
    const families =
      query.provider !== null && query.campaign !== null
        ? [campaignDayFamily(query.provider, query.campaign, day)]
        : [
            ...items.map((item) => campaignDayFamily(item.provider, item.campaign_id, day)),
            // A provider whose events carry no time of their own keys them by id: none is in a type-day family.
            ...allProviders()
              .filter((provider) => !provider.timeIsReceipt)
              .flatMap((provider) =>
                provider.events.map((event) => typeDayFamily(provider.name, event, day)),
              ),
          ];
    const partitions = families.flatMap((family) => shardKeys(family, this.layout));
    const newest = (partitionKey: string, limit: number) =>
      queryItems(
        this.client,
        {
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :events)',
          ScanIndexForward: false,
          Limit: limit,
          ExpressionAttributeNames: { '#pk': RECORDS_TABLE.partitionKey, '#sk': RECORDS_TABLE.sortKey },
          ExpressionAttributeValues: { ':pk': { S: partitionKey }, ':events': { S: EVENT_SORT_PREFIX } },
        },
        limit,
      );
    const few = Math.min(LATEST_EVENTS, Math.max(2, Math.ceil((2 * LATEST_EVENTS) / partitions.length)));
    const first = await mapBounded(partitions, READ_CONCURRENCY, (partitionKey) => newest(partitionKey, few));
    // An event's sort key orders a partition's events by `created_at`, then id.
    const sortKey = (item: Item) => item[RECORDS_TABLE.sortKey]?.S ?? '';
    const read = first.flat().map(sortKey).sort().reverse();
    const threshold = read.length >= LATEST_EVENTS ? (read[LATEST_EVENTS - 1] as string) : '';
    const more = partitions.filter((_, i) => {
      const page = first[i] ?? [];
      return (
        page.length === few && few < LATEST_EVENTS && sortKey(page[page.length - 1] as Item) >= threshold
      );
    });
    const second = await mapBounded(more, READ_CONCURRENCY, (partitionKey) =>
      newest(partitionKey, LATEST_EVENTS),
    );
    const events = new Map<string, Item>();
    for (const item of [...first.flat(), ...second.flat()]) {
      events.set(JSON.stringify([item[RECORDS_TABLE.partitionKey]?.S, sortKey(item)]), item);
    }
    return [...events.values()]
      .map(fromEventItem)
      .sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id));
  }

  /** Keeps the material names `events` give, a newer event's name over an older one's. */
  private learnNames(events: StoredEvent[]) {
    if (this.materialNames.size > REMEMBERED) this.materialNames.clear();
    for (const event of events) {
      // The material as the counters hold its id: cut and cleaned as a counter attribute's name holds it.
      const material = counterFieldsOf(event)[4];
      if (!material || !event.material_name) continue;
      const key = materialKey(event.provider, material);
      const known = this.materialNames.get(key);
      if (!known || known.at < event.created_at) {
        this.materialNames.set(key, { name: event.material_name, at: event.created_at });
      }
    }
  }

  /**
   * Looks for the names of the materials counted in `items` that no event read so far names: in the newest
   * {@link MATERIAL_NAME_EVENTS} events of each partition of the newest campaign-day that counts each, once per
   * campaign-day (a name sent later comes with the latest events). One search per unnamed material at most,
   * however long the range.
   */
  private async nameMaterials(items: CounterItem[]) {
    if (this.searched.size > REMEMBERED) this.searched.clear();
    const newest = new Map<string, { item: CounterItem; material: string }>();
    for (const item of items) {
      for (const material of Object.keys(item.breakdowns.material)) {
        if (material === OTHER_VALUE || this.materialNames.has(materialKey(item.provider, material)))
          continue;
        const key = materialKey(item.provider, material);
        const known = newest.get(key);
        if (!known || known.item.day < item.day) newest.set(key, { item, material });
      }
    }
    const unsearched = [...newest.values()].filter(
      ({ item, material }) => !this.searched.has(searchKey(item, material)),
    );
    const searches = [...new Set(unsearched.map(({ item }) => item))];
    const partitions = searches.flatMap((item) =>
      shardKeys(campaignDayFamily(item.provider, item.campaign_id, item.day), this.layout),
    );
    const pages = await mapBounded(partitions, READ_CONCURRENCY, (partitionKey) =>
      queryItems(
        this.client,
        {
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :events)',
          ScanIndexForward: false,
          Limit: MATERIAL_NAME_EVENTS,
          ProjectionExpression: '#provider, #created, #material, #name',
          ExpressionAttributeNames: {
            '#pk': RECORDS_TABLE.partitionKey,
            '#sk': RECORDS_TABLE.sortKey,
            '#provider': 'provider',
            '#created': 'created_at',
            '#material': 'material_id',
            '#name': 'material_name',
          },
          ExpressionAttributeValues: { ':pk': { S: partitionKey }, ':events': { S: EVENT_SORT_PREFIX } },
        },
        MATERIAL_NAME_EVENTS,
      ),
    );
    this.learnNames(pages.flat().map(fromEventItem));
    for (const { item, material } of unsearched) this.searched.add(searchKey(item, material));
  }

  /**
   * The names of material rows: the one known under the first provider whose counters count each (the items'
   * providers gathered once per load: a range has thousands of items and hundreds of materials).
   */
  private namesOf(items: CounterItem[]): (material: string) => string | null {
    const providers = new Map<string, Set<string>>();
    for (const item of items) {
      for (const material of Object.keys(item.breakdowns.material)) {
        const known = providers.get(material) ?? new Set<string>();
        providers.set(material, known.add(item.provider));
      }
    }
    return (material) => {
      for (const provider of providers.get(material) ?? []) {
        const known = this.materialNames.get(materialKey(provider, material));
        if (known) return known.name;
      }
      return null;
    };
  }
}

/**
 * Unique devices of the items read: per campaign from its items' histograms, per provider from its provider-day
 * items, and for a day without a provider-day item (folded before they were kept) from the sum of that day's
 * campaign histograms, which counts a device seen by two campaigns twice.
 */
class ReachOf {
  private readonly byCampaign = new Map<string, Map<string, ReachHistogram>>();
  private readonly byProvider = new Map<string, Map<string, ReachHistogram>>();

  constructor(items: CounterItem[], providerDays: ProviderDay[]) {
    const summed = new Map<string, Map<string, Map<number, number>>>();
    for (const item of items) {
      const campaign = campaignKey(item.provider, item.campaign_id);
      const days = this.byCampaign.get(campaign) ?? new Map<string, ReachHistogram>();
      days.set(item.day, reachOf(item));
      this.byCampaign.set(campaign, days);
      const provider = summed.get(item.provider) ?? new Map<string, Map<number, number>>();
      const day = provider.get(item.day) ?? new Map<number, number>();
      addInto(day, reachOf(item));
      provider.set(item.day, day);
      summed.set(item.provider, provider);
    }
    for (const [provider, days] of summed) this.byProvider.set(provider, days);
    for (const day of providerDays) {
      const days = this.byProvider.get(day.provider) ?? new Map<string, ReachHistogram>();
      days.set(day.day, day.reach);
      this.byProvider.set(day.provider, days);
    }
  }

  /** One campaign's devices over `[from, to]`, each counted once. */
  campaign(provider: string, campaign: string, from: string, to: string): number {
    return uniqueOver(this.byCampaign.get(campaignKey(provider, campaign)) ?? new Map(), from, to);
  }

  /**
   * The query's devices over `[from, to]`: its campaign's, or every provider's summed (a device id is a
   * provider's: two providers' devices are different devices); `null` under a breakdown filter.
   */
  unique(query: DashboardQuery, from: string, to: string): number | null {
    if (query.breakdown) return null;
    if (query.provider !== null && query.campaign !== null) {
      return this.campaign(query.provider, query.campaign, from, to);
    }
    let total = 0;
    for (const days of this.byProvider.values()) total += uniqueOver(days, from, to);
    return total;
  }

  /** The query's devices on one day. */
  daily(query: DashboardQuery, day: string): number | null {
    if (query.breakdown) return null;
    if (query.provider !== null && query.campaign !== null) {
      const histogram = this.byCampaign.get(campaignKey(query.provider, query.campaign))?.get(day);
      return histogram ? devicesOf(histogram) : 0;
    }
    let total = 0;
    for (const days of this.byProvider.values()) {
      const histogram = days.get(day);
      if (histogram) total += devicesOf(histogram);
    }
    return total;
  }
}

/**
 * The range's deliveries per provider from its provider-day items, whatever the filter (they are the pipeline's,
 * not a campaign's). A provider's figures are `null` when one of the range's days has counter items read but no
 * provider-day item (that day was folded before they were kept, so what its deliveries came to is not known); a
 * day with neither had no deliveries. Refusals and the queues come from `health`, `null` without it, and a
 * provider's refusals `null` when `health` does not count them apart.
 */
function deliveryOf(
  providers: string[],
  days: string[],
  items: CounterItem[],
  providerDays: ProviderDay[],
  health: PipelineHealthFigures | undefined,
): Delivery {
  const inRange = new Set(days);
  const by_provider = providers.map((provider): ProviderDelivery => {
    const own = providerDays.filter((day) => day.provider === provider && inRange.has(day.day));
    const kept = new Set(own.map((day) => day.day));
    const unknown = items.some(
      (item) => item.provider === provider && inRange.has(item.day) && !kept.has(item.day),
    );
    const figure = (pick: (day: ProviderDay) => number) =>
      unknown ? null : own.reduce((total, day) => total + pick(day), 0);
    // The source lists every provider the stack serves; one it does not list is not counted apart.
    const refused =
      health && Object.hasOwn(health.refused.by_provider, provider)
        ? (health.refused.by_provider[provider] ?? null)
        : null;
    return {
      provider,
      received: figure((day) => day.received),
      stored: figure((day) => day.stored),
      duplicates: figure((day) => day.duplicates),
      quarantined: figure((day) => day.quarantined),
      refused,
    };
  });
  const total = (pick: (row: ProviderDelivery) => number | null) =>
    by_provider.reduce<number | null>((sum, row) => {
      const value = pick(row);
      return sum === null || value === null ? null : sum + value;
    }, 0);
  return {
    received: total((row) => row.received),
    stored: total((row) => row.stored),
    duplicates: total((row) => row.duplicates),
    quarantined: total((row) => row.quarantined),
    refused: health?.refused.total ?? null,
    dead_letters: health?.dead_letters ?? null,
    oldest_message_age_s: health?.oldest_message_age_s ?? null,
    by_provider,
  };
}

function addBreakdowns(
  item: SignalledCounterItem,
  hourly: Dashboard['hourly'],
  breakdowns: Record<FilterBreakdown, Map<string, BreakdownRow>>,
  query: DashboardQuery,
) {
  const kinds = countedKindsOfCounter(item);
  // A range's thousands of items each hold some forty values: `for…in` over their prototype-less objects (see
  // `fromCounterItem`) spares an array per value that `Object.entries` would make.
  for (const breakdown of BREAKDOWNS) {
    // Under a breakdown filter, only the value's own row: the counters do not cross one breakdown with another.
    if (query.breakdown && breakdown !== query.breakdown) continue;
    const values = item.breakdowns[breakdown];
    for (const key in values) {
      if (query.breakdown && key !== query.value) continue;
      const byEvent = values[key] as Record<string, number>;
      for (const event in byEvent) {
        const counter = counterOf(kinds, event);
        if (!counter) continue;
        const count = byEvent[event] as number;
        if (breakdown === 'hour') {
          const hour = hourOf(key);
          const slot = hour === undefined ? undefined : hourly[hour];
          if (slot) slot[counter] += count;
          continue;
        }
        const rows = breakdowns[breakdown];
        let row = rows.get(key);
        if (!row) {
          row = { key, impressions: 0, clicks: 0 };
          rows.set(key, row);
        }
        row[counter] += count;
      }
    }
  }
}

const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

/** The first day a range may start on. */
export const EARLIEST_DAY = '2000-01-01';

/** `true` for a real calendar day `YYYY-MM-DD`. */
export function isDay(value: string): boolean {
  const time = Date.parse(`${value}T00:00:00Z`);
  return (
    DAY_PATTERN.test(value) && !Number.isNaN(time) && new Date(time).toISOString().slice(0, 10) === value
  );
}

/**
 * `true` for a value the app breakdown can hold: an app's name is one URL segment, kept whole by the counters, so
 * any other value can match no app.
 */
const isAppValue = (value: string) => isAppName(value) || value === DEFAULT_APP || value === OTHER_VALUE;

/** {@link parseDashboardQuery}'s answer: the query, or the 400 message saying which parameter broke which rule. */
export type ParsedDashboardQuery = { ok: true; query: DashboardQuery } | { ok: false; message: string };

/** `true` for a time zone name the runtime knows (`Intl` throws a RangeError for any other). */
function isTimeZone(name: string): boolean {
  // IANA names start with a letter; this also keeps out offsets such as `+02:00`, which are not zone names.
  if (!/^[A-Za-z]/.test(name)) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks `GET /api/dashboard`'s query, the same for the local server and the deployed function.
 * A parameter given twice is read as API Gateway hands it over, its values joined by commas (so it is refused
 * as the value it then is). Parameters it does not know are left alone.
 * @param params the query string's parameters (`URLSearchParams`, or API Gateway's `queryStringParameters`)
 * @param today today's UTC day, `YYYY-MM-DD`: `to` when none is given
 */
export function parseDashboardQuery(
  params: URLSearchParams | Readonly<Record<string, string | undefined>>,
  today: string,
): ParsedDashboardQuery {
  const get = (name: string): string | undefined => {
    if (params instanceof URLSearchParams) {
      const values = params.getAll(name);
      return values.length > 0 ? values.join(',') : undefined;
    }
    return Object.hasOwn(params, name) ? params[name] : undefined;
  };
  const refuse = (message: string): ParsedDashboardQuery => ({ ok: false, message });
  const day = get('day');
  const fromAsked = get('from');
  const toAsked = get('to');
  for (const [name, value] of [
    ['day', day],
    ['from', fromAsked],
    ['to', toAsked],
  ] as const) {
    if (value !== undefined && !isDay(value)) return refuse(`${name} must be a calendar day, YYYY-MM-DD`);
    // Nothing is stored before it (event times are refused earlier), and the years before 1000 print unlike days.
    if (value !== undefined && value < EARLIEST_DAY)
      return refuse(`${name} must be ${EARLIEST_DAY} or later`);
  }
  if (day !== undefined && (fromAsked !== undefined || toAsked !== undefined)) {
    return refuse('day is one day: give either day, or from and to');
  }
  const to = day ?? toAsked ?? today;
  const from = day ?? fromAsked ?? to;
  if (from > to) {
    return refuse(
      `from must not be after to: ${from} is after ${to}${toAsked === undefined ? ' (today, as to was not given)' : ''}`,
    );
  }
  const length = dayNumber(to) - dayNumber(from) + 1;
  if (length > MAX_RANGE_DAYS) {
    return refuse(`from and to span at most ${MAX_RANGE_DAYS} days: ${from} to ${to} is ${length} days`);
  }
  const tz = get('tz') ?? 'UTC';
  if (!isTimeZone(tz)) return refuse('tz must be an IANA time zone name, such as UTC or Europe/Berlin');
  const provider = get('provider') ?? null;
  const campaign = get('campaign') ?? null;
  if ((provider === null) !== (campaign === null)) {
    return refuse(
      `provider and campaign go together: ${provider === null ? 'provider' : 'campaign'} is missing`,
    );
  }
  if (provider !== null && !providerNames().includes(provider)) {
    return refuse(`provider must be one of ${providerNames().join(', ')}`);
  }
  if (campaign === '') return refuse('campaign must not be empty');
  if (campaign !== null && campaign.length > MAX_TEXT_FIELD) {
    return refuse(
      `campaign must be at most ${MAX_TEXT_FIELD} characters (campaign ids are kept to that length)`,
    );
  }
  const breakdown = get('breakdown') ?? null;
  const value = get('value') ?? null;
  if ((breakdown === null) !== (value === null)) {
    return refuse(
      `breakdown and value go together: ${breakdown === null ? 'breakdown' : 'value'} is missing`,
    );
  }
  if (breakdown !== null && !(FILTER_BREAKDOWNS as readonly string[]).includes(breakdown)) {
    return refuse(`breakdown must be one of ${FILTER_BREAKDOWNS.join(', ')}`);
  }
  if (value === '') return refuse('value must not be empty');
  if (breakdown === 'app' && value !== null && !isAppValue(value)) {
    return refuse(
      `value must be an app name for breakdown app: ${DEFAULT_APP}, ${OTHER_VALUE}, or 1 to 32 lower-case letters, digits or hyphens`,
    );
  }
  return {
    ok: true,
    query: { from, to, tz, provider, campaign, breakdown: breakdown as FilterBreakdown | null, value },
  };
}
