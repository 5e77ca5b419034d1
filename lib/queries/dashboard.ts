import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { findProvider, providerNames } from '../providers';
import {
  BREAKDOWNS,
  type CounterItem,
  campaignDayFamily,
  counterFieldsOf,
  EVENT_SORT_PREFIX,
  fromEventItem,
  OTHER_VALUE,
  RECORDS_TABLE,
  type StoredEvent,
  shardKeys,
  type TableLayout,
  typeDayFamily,
} from '../table/records-table';
import { queryItems } from '../table/table-io';
import { byImpressions, CampaignStats, toCampaignDayStats } from './campaign-stats';

/** One campaign's row of the dashboard. */
export interface DashboardCampaign {
  provider: string;
  campaign_id: string;
  /** The day asked for (kept from the first version of this API). */
  day: string;
  campaign_name: string | null;
  impressions: number;
  clicks: number;
  /** clicks / impressions, `null` with no impressions. */
  ctr: number | null;
  unique_devices: number;
}

/** Impressions and clicks of one breakdown value (a platform, a country, a material). */
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

/** `GET /api/dashboard?day=YYYY-MM-DD`: the fields are a contract (extend, never rename). */
export interface Dashboard {
  day: string;
  campaigns: DashboardCampaign[];
  totals: {
    impressions: number;
    clicks: number;
    /** Summed over campaigns: a device seen by two campaigns counts in both. */
    unique_devices: number;
  };
  /** 24 entries, hour 0 to 23 (UTC) of `created_at`. */
  hourly: { hour: number; impressions: number; clicks: number }[];
  breakdowns: { platform: BreakdownRow[]; country: BreakdownRow[]; material: MaterialRow[] };
  /** The day's latest events by `created_at`, newest first, as `query --json` prints them. */
  latest: StoredEvent[];
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
const searchKey = (item: CounterItem, day: string, material: string) =>
  JSON.stringify([item.provider, item.campaign_id, day, material]);

/**
 * Which counter (if any) an event type moves for a provider. Only the provider's own entries: the event type is
 * read back from a counter attribute, and `constructor` or `toString` must not find what every object inherits.
 */
function counterOf(provider: string, event: string): 'impressions' | 'clicks' | undefined {
  const counted = findProvider(provider)?.counted;
  return counted && Object.hasOwn(counted, event) ? counted[event] : undefined;
}

/** An hour breakdown's value as a slot of the day, `undefined` for anything but `00` … `23`. */
const hourOf = (key: string) => (/^([01]\d|2[0-3])$/.test(key) ? Number(key) : undefined);

/**
 * Builds the dashboard of one day from the counter items (exact: the same per-batch updates as the counters)
 * and the day's latest events from the table, which also name the materials the counters know by id. Only reads.
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

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly layout: TableLayout,
  ) {
    this.stats = new CampaignStats(client, tableName);
  }

  /** @param day `YYYY-MM-DD` (UTC) */
  async read(day: string): Promise<Dashboard> {
    const items = (
      await Promise.all(providerNames().map((provider) => this.stats.dayCounterItems(provider, day)))
    ).flat();
    const campaigns = items
      .map((item) => {
        const { provider, campaign_id, impressions, clicks, ctr, unique_devices } = toCampaignDayStats(item);
        return {
          provider,
          campaign_id,
          day,
          campaign_name: item.name,
          impressions,
          clicks,
          ctr,
          unique_devices,
        };
      })
      .sort(byImpressions);
    const sum = (pick: (c: DashboardCampaign) => number) =>
      campaigns.reduce((total, c) => total + pick(c), 0);
    const hourly = Array.from({ length: 24 }, (_, hour) => ({ hour, impressions: 0, clicks: 0 }));
    const breakdowns = { platform: new Map(), country: new Map(), material: new Map() } as Record<
      'platform' | 'country' | 'material',
      Map<string, BreakdownRow>
    >;
    for (const item of items) addBreakdowns(item, hourly, breakdowns);
    const rows = (map: Map<string, BreakdownRow>) =>
      [...map.values()].sort((a, b) => b.impressions - a.impressions || a.key.localeCompare(b.key));
    const events = await this.dayEvents(day, items);
    this.learnNames(events);
    await this.nameMaterials(day, items);
    return {
      day,
      campaigns,
      totals: {
        impressions: sum((c) => c.impressions),
        clicks: sum((c) => c.clicks),
        unique_devices: sum((c) => c.unique_devices),
      },
      hourly,
      breakdowns: {
        platform: rows(breakdowns.platform),
        country: rows(breakdowns.country),
        material: rows(breakdowns.material).map((row) => ({ ...row, name: this.nameOf(items, row.key) })),
      },
      latest: events.slice(0, LATEST_EVENTS),
    };
  }

  /**
   * The day's newest events, newest first: up to {@link LATEST_EVENTS} of each of each campaign's partitions and
   * each provider's other event types (material events among them).
   */
  private async dayEvents(day: string, items: CounterItem[]): Promise<StoredEvent[]> {
    const families = [
      ...items.map((item) => campaignDayFamily(item.provider, item.campaign_id, day)),
      ...providerNames().flatMap((provider) =>
        (findProvider(provider)?.events ?? []).map((event) => typeDayFamily(provider, event, day)),
      ),
    ];
    const pages = await Promise.all(
      families.flatMap((family) =>
        shardKeys(family, this.layout).map((partitionKey) =>
          queryItems(
            this.client,
            {
              TableName: this.tableName,
              KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :events)',
              ScanIndexForward: false,
              Limit: LATEST_EVENTS,
              ExpressionAttributeNames: { '#pk': RECORDS_TABLE.partitionKey, '#sk': RECORDS_TABLE.sortKey },
              ExpressionAttributeValues: { ':pk': { S: partitionKey }, ':events': { S: EVENT_SORT_PREFIX } },
            },
            LATEST_EVENTS,
          ),
        ),
      ),
    );
    return pages
      .flat()
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
   * Looks for the names of the materials counted on `day` that no event read so far names: in the newest
   * {@link MATERIAL_NAME_EVENTS} events of each partition of each campaign-day that counts them, once per
   * campaign-day (a name sent later comes with the latest events).
   */
  private async nameMaterials(day: string, items: CounterItem[]) {
    if (this.searched.size > REMEMBERED) this.searched.clear();
    const unnamed = (item: CounterItem) =>
      Object.keys(item.breakdowns.material).filter(
        (material) =>
          material !== OTHER_VALUE &&
          !this.materialNames.has(materialKey(item.provider, material)) &&
          !this.searched.has(searchKey(item, day, material)),
      );
    const searches = items.filter((item) => unnamed(item).length > 0);
    const pages = await Promise.all(
      searches.flatMap((item) =>
        shardKeys(campaignDayFamily(item.provider, item.campaign_id, day), this.layout).map((partitionKey) =>
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
        ),
      ),
    );
    this.learnNames(pages.flat().map(fromEventItem));
    for (const item of searches) {
      for (const material of unnamed(item)) {
        this.searched.add(searchKey(item, day, material));
      }
    }
  }

  /** The name of a material row: the one known under the first provider whose counters count it. */
  private nameOf(items: CounterItem[], material: string): string | null {
    for (const item of items) {
      if (!Object.hasOwn(item.breakdowns.material, material)) continue;
      const known = this.materialNames.get(materialKey(item.provider, material));
      if (known) return known.name;
    }
    return null;
  }
}

function addBreakdowns(
  item: CounterItem,
  hourly: Dashboard['hourly'],
  breakdowns: Record<'platform' | 'country' | 'material', Map<string, BreakdownRow>>,
) {
  for (const breakdown of BREAKDOWNS) {
    for (const [key, byEvent] of Object.entries(item.breakdowns[breakdown])) {
      for (const [event, count] of Object.entries(byEvent)) {
        const counter = counterOf(item.provider, event);
        if (!counter) continue;
        if (breakdown === 'hour') {
          const hour = hourOf(key);
          const slot = hour === undefined ? undefined : hourly[hour];
          if (slot) slot[counter] += count;
          continue;
        }
        const rows = breakdowns[breakdown];
        const row = rows.get(key) ?? { key, impressions: 0, clicks: 0 };
        row[counter] += count;
        rows.set(key, row);
      }
    }
  }
}

const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

/** `true` for a real calendar day `YYYY-MM-DD`. */
export function isDay(value: string): boolean {
  const time = Date.parse(`${value}T00:00:00Z`);
  return (
    DAY_PATTERN.test(value) && !Number.isNaN(time) && new Date(time).toISOString().slice(0, 10) === value
  );
}
