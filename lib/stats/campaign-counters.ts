import { randomBytes } from 'node:crypto';
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  campaignDayPartitionKey,
  countedEvents,
  RECORDS_TABLE,
  statsDayPartitionKey,
  statsPartitionKey,
  type TableLayout,
} from '../records/records-table';

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

/** What a batch adds to one campaign-day. */
export interface Tally {
  impressions: number;
  clicks: number;
  unique_devices: number;
}

export interface CounterKey {
  provider: string;
  campaignId: string;
  day: string;
}

/**
 * A claim a batch puts on a campaign-day before it writes records: `<epoch ms, base 36>_<random>`. Its time
 * tells when the claim is stale (its batch can no longer be running).
 */
export function newClaimToken(now = Date.now()): string {
  return `${now.toString(36)}_${randomBytes(6).toString('hex')}`;
}

const claimTime = (token: string) => Number.parseInt(token.split('_')[0] ?? '', 36);

/** Claims are top-level attributes, so one update can add one without a map to exist first. */
const CLAIM_PREFIX = 'claim_';

function claimsOf(item: Record<string, AttributeValue> | undefined): Record<string, number> {
  const claims: Record<string, number> = {};
  for (const [name, value] of Object.entries(item ?? {})) {
    if (name.startsWith(CLAIM_PREFIX)) claims[name.slice(CLAIM_PREFIX.length)] = Number(value.N);
  }
  return claims;
}

const N = (value: number): AttributeValue => ({ N: String(value) });
const num = (item: Record<string, AttributeValue> | undefined, name: string) => Number(item?.[name]?.N ?? 0);

function toStats(item: Record<string, AttributeValue>): CampaignDayStats {
  const impressions = num(item, 'impressions');
  const clicks = num(item, 'clicks');
  return {
    provider: item.provider?.S ?? '',
    campaign_id: item.campaign_id?.S ?? '',
    day: item.day?.S ?? item.sk?.S ?? '',
    impressions,
    clicks,
    unique_devices: num(item, 'unique_devices'),
    ctr: impressions > 0 ? clicks / impressions : null,
  };
}

/**
 * Exact per campaign-day counters (DESIGN.md decision 6) without transactions.
 *
 * A batch first puts a claim on each campaign-day it touches (`claim_<token>`), then writes its records and
 * device markers with conditional puts, then adds what it stored for the first time and drops its claim in one
 * conditional update: one increment per campaign-day per batch. A batch that dies between the two, or whose
 * writes ended in doubt, leaves its claim behind; once the claim is older than any batch can run
 * (`staleAfterMs`), the campaign-day is recounted from its records and markers with consistent reads, which is
 * exact by construction. A recount writes only if no live claim exists and nothing changed since it read
 * (`version`), so it never races a running batch.
 */
export class CampaignCounters {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly layout: TableLayout,
    readonly staleAfterMs = 60_000,
  ) {}

  private key(key: CounterKey) {
    return {
      [RECORDS_TABLE.partitionKey]: { S: statsPartitionKey(key.provider, key.campaignId) },
      [RECORDS_TABLE.sortKey]: { S: key.day },
    };
  }

  /**
   * Puts a batch's claim on a campaign-day (an attribute `claim_<token>`), creating its counter item if needed.
   * @returns the claims now on the item (token → epoch ms), this one included.
   */
  async claim(key: CounterKey, token: string, now = Date.now()): Promise<Record<string, number>> {
    const index = RECORDS_TABLE.indexes.byTypeAndDay;
    const output = await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: this.key(key),
        UpdateExpression:
          'SET #claim = :now, #kind = :kind, #provider = :provider, #campaign = :campaign, #day = :day, #ipk = :ipk, #isk = :isk ADD #version :one',
        ExpressionAttributeNames: {
          '#claim': `${CLAIM_PREFIX}${token}`,
          '#kind': 'kind',
          '#provider': 'provider',
          '#campaign': 'campaign_id',
          '#day': 'day',
          '#ipk': index.partitionKey,
          '#isk': index.sortKey,
          '#version': 'version',
        },
        ExpressionAttributeValues: {
          ':now': N(now),
          ':kind': { S: 'stats' },
          ':provider': { S: key.provider },
          ':campaign': { S: key.campaignId },
          ':day': { S: key.day },
          ':ipk': { S: statsDayPartitionKey(key.provider, key.day) },
          ':isk': { S: key.campaignId },
          ':one': N(1),
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return claimsOf(output.Attributes);
  }

  /**
   * Adds a batch's first inserts and, when its writes are all settled, drops its claim.
   * @returns `false` when the claim was already gone (a recount took it over, having counted from the records).
   */
  async apply(key: CounterKey, token: string, tally: Tally, release: boolean): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(key),
          UpdateExpression: `ADD #impressions :i, #clicks :c, #unique :u, #version :one${release ? ' REMOVE #claim' : ''}`,
          ConditionExpression: 'attribute_exists(#claim)',
          ExpressionAttributeNames: {
            '#impressions': 'impressions',
            '#clicks': 'clicks',
            '#unique': 'unique_devices',
            '#version': 'version',
            '#claim': `${CLAIM_PREFIX}${token}`,
          },
          ExpressionAttributeValues: {
            ':i': N(tally.impressions),
            ':c': N(tally.clicks),
            ':u': N(tally.unique_devices),
            ':one': N(1),
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * Recounts a campaign-day from its records and device markers (consistent reads over every shard) when it
   * carries stale claims, unless a live claim (other than `ownToken`, whose writes are settled) is on it.
   * @returns `true` when the counters were rewritten.
   */
  async recountIfStale(key: CounterKey, ownToken?: string, now = Date.now()): Promise<boolean> {
    const current = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: this.key(key), ConsistentRead: true }),
    );
    const item = current.Item;
    if (!item) return false;
    const claims = Object.keys(claimsOf(item));
    const stale = claims.filter((token) => token === ownToken || now - claimTime(token) >= this.staleAfterMs);
    if (stale.length === 0 || stale.length < claims.length) return false;

    const counts = await this.countFromRecords(key);
    const names: Record<string, string> = {
      '#impressions': 'impressions',
      '#clicks': 'clicks',
      '#unique': 'unique_devices',
      '#version': 'version',
    };
    stale.forEach((token, i) => {
      names[`#t${i}`] = `${CLAIM_PREFIX}${token}`;
    });
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(key),
          UpdateExpression: `SET #impressions = :i, #clicks = :c, #unique = :u REMOVE ${stale.map((_, i) => `#t${i}`).join(', ')} ADD #version :one`,
          ConditionExpression: '#version = :version',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: {
            ':i': N(counts.impressions),
            ':c': N(counts.clicks),
            ':u': N(counts.unique_devices),
            ':one': N(1),
            ':version': item.version ?? N(0),
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** Counts a campaign-day's stored events by type and its device markers, over every shard, consistently. */
  async countFromRecords(key: CounterKey): Promise<Tally> {
    const tally: Tally = { impressions: 0, clicks: 0, unique_devices: 0 };
    for (let shard = 0; shard < this.layout.shards; shard++) {
      const pk = campaignDayPartitionKey(key.provider, key.campaignId, key.day, shard);
      for (const [event, counter] of Object.entries(countedEvents(key.provider))) {
        tally[counter] += await this.count({
          KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :events)',
          FilterExpression: '#event = :event',
          ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk', '#event': 'event' },
          ExpressionAttributeValues: { ':pk': { S: pk }, ':events': { S: 'E#' }, ':event': { S: event } },
        });
      }
      tally.unique_devices += await this.count({
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :devices)',
        ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
        ExpressionAttributeValues: { ':pk': { S: pk }, ':devices': { S: 'D#' } },
      });
    }
    return tally;
  }

  private async count(input: Omit<QueryCommandInput, 'TableName'>): Promise<number> {
    let total = 0;
    let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          ...input,
          TableName: this.tableName,
          Select: 'COUNT',
          ConsistentRead: true,
          ExclusiveStartKey,
        }),
      );
      total += page.Count ?? 0;
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return total;
  }

  /**
   * One campaign's counters, day by day (`since`/`until` inclusive, `YYYY-MM-DD`). A day left with stale
   * claims is recounted first, so what comes back is exact.
   */
  async campaignStats(
    provider: string,
    campaignId: string,
    since = '0000',
    until = '9999',
  ): Promise<CampaignDayStats[]> {
    const read = () =>
      this.queryAll({
        KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :since AND :until',
        ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
        ExpressionAttributeValues: {
          ':pk': { S: statsPartitionKey(provider, campaignId) },
          ':since': { S: since },
          ':until': { S: until },
        },
        ConsistentRead: true,
      });
    let items = await read();
    let recounted = false;
    for (const item of items) {
      if (Object.keys(claimsOf(item)).length === 0) continue;
      recounted = (await this.recountIfStale({ provider, campaignId, day: item.sk?.S ?? '' })) || recounted;
    }
    if (recounted) items = await read();
    return items.map(toStats);
  }

  /** Every campaign's counters on one day (the `gsi3` index), most impressions first. */
  async dayStats(provider: string, day: string): Promise<CampaignDayStats[]> {
    const index = RECORDS_TABLE.indexes.byTypeAndDay;
    const items = await this.queryAll({
      IndexName: index.name,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': index.partitionKey },
      ExpressionAttributeValues: { ':pk': { S: statsDayPartitionKey(provider, day) } },
    });
    return items
      .map(toStats)
      .sort((a, b) => b.impressions - a.impressions || a.campaign_id.localeCompare(b.campaign_id));
  }

  private async queryAll(
    input: Omit<QueryCommandInput, 'TableName'>,
  ): Promise<Record<string, AttributeValue>[]> {
    const items: Record<string, AttributeValue>[] = [];
    let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({ ...input, TableName: this.tableName, ExclusiveStartKey }),
      );
      items.push(...(page.Items ?? []));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return items;
  }
}
