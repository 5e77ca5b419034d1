import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { findProvider } from '../providers';
import {
  type CounterItem,
  counterItemKey,
  fromCounterItem,
  RECORDS_TABLE,
  statsDayPartitionKey,
  statsPartitionKey,
} from '../table/records-table';
import { getItems, queryItems } from '../table/table-io';

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
 * A campaign-day's counts as the provider counts them: the counter items keep stored events per event type,
 * and the provider's `counted` table says which types are impressions and which are clicks.
 */
export function toCampaignDayStats(counter: CounterItem): CampaignDayStats {
  const counted = findProvider(counter.provider)?.counted ?? {};
  let impressions = 0;
  let clicks = 0;
  for (const [event, count] of Object.entries(counter.counts)) {
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
 * Reads the campaign counters. Only reads: a campaign-day left by a killed batch is settled by the consumer's
 * repair pass, never by a reader.
 */
export class CampaignStats {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  /** One campaign's counter items, day by day (`since`/`until` inclusive, `YYYY-MM-DD`), read consistently. */
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
      ConsistentRead: true,
    });
    return items.map(fromCounterItem);
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

  /**
   * Every campaign's counter items on one day: the `gsi3` index lists them, the table gives their counts
   * (consistent reads; the index entries hold no counts, so moving a count never rewrites one).
   */
  async dayCounterItems(provider: string, day: string): Promise<CounterItem[]> {
    const index = RECORDS_TABLE.indexes.byTypeAndDay;
    const listed = await queryItems(this.client, {
      TableName: this.tableName,
      IndexName: index.name,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': index.partitionKey },
      ExpressionAttributeValues: { ':pk': { S: statsDayPartitionKey(provider, day) } },
    });
    const keys = listed.map((item) =>
      counterItemKey({ provider, campaignId: item[index.sortKey]?.S ?? '', day }),
    );
    return (await getItems(this.client, this.tableName, keys)).map(fromCounterItem);
  }

  /** Every campaign's counts on one day, most impressions first. */
  async dayStats(provider: string, day: string): Promise<CampaignDayStats[]> {
    return (await this.dayCounterItems(provider, day))
      .map(toCampaignDayStats)
      .sort((a, b) => b.impressions - a.impressions || a.campaign_id.localeCompare(b.campaign_id));
  }
}
