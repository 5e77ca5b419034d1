import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { findProvider, providerNames } from '../providers';
import {
  BREAKDOWNS,
  type CounterItem,
  campaignDayFamily,
  EVENT_SORT_PREFIX,
  fromEventItem,
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
  breakdowns: { platform: BreakdownRow[]; country: BreakdownRow[]; material: BreakdownRow[] };
  /** The day's latest events by `created_at`, newest first, as `query --json` prints them. */
  latest: StoredEvent[];
}

/** How many latest events the dashboard lists. */
export const LATEST_EVENTS = 20;

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
 * and the day's latest events from the table. Only reads.
 */
export class DashboardReader {
  private readonly stats: CampaignStats;

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
        material: rows(breakdowns.material),
      },
      latest: await this.latest(day, items),
    };
  }

  /** The day's newest events: each campaign's partitions and each provider's other event types, merged. */
  private async latest(day: string, items: CounterItem[]): Promise<StoredEvent[]> {
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
      .sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id))
      .slice(0, LATEST_EVENTS);
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
