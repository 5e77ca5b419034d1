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
import { putItemIfAbsent } from '../queries/records-repository';
import {
  campaignDayPartitionKey,
  countedEvents,
  DEVICE_SORT_PREFIX,
  deviceMarkerItem,
  EVENT_SORT_PREFIX,
  fromEventItem,
  PENDING_COUNTERS_PARTITION,
  pendingCounterSortKey,
  RECORDS_TABLE,
  statsDayPartitionKey,
  statsPartitionKey,
  type TableLayout,
} from '../table/records-table';

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

/** What one repair pass did. */
export interface RepairSummary {
  /** Counter items claimed since the previous pass. */
  checked: number;
  /** Items left with only stale claims, recounted from their records. */
  recounted: number;
  /** Items with no claim left, taken off the list. */
  cleared: number;
}

/**
 * Exact per campaign-day counters, moved only by first inserts, without transactions.
 *
 * A batch first puts a claim on each campaign-day it touches (`claim_<token>`), then writes its records and
 * device markers with conditional puts, then adds what it stored for the first time and drops its claim in one
 * conditional update: one increment per campaign-day per batch. A batch that dies between the two, or whose
 * writes ended in doubt, leaves its claim behind. Once no batch can still be behind the claim (see
 * {@link CampaignCounters.isStale}), the campaign-day is recounted from its records with consistent reads,
 * which is exact by construction. A recount writes only if no live claim exists and nothing changed since it
 * read (`version`), so it never races a running batch.
 *
 * Nothing waits for traffic to come back: every claim also lists its item in a sparse index, and
 * {@link CampaignCounters.repair}, run on a schedule (every minute in AWS, every few seconds locally), settles
 * what is listed. Read paths only read.
 */
export class CampaignCounters {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly layout: TableLayout,
    readonly staleAfterMs = 60_000,
    private readonly deadBefore = 0,
  ) {}

  /**
   * The one staleness rule: a claim has no batch behind it any more when it is older than any batch runs
   * (`staleAfterMs`, above the consumer's timeout), or when it was made before `deadBefore` (the local stack
   * passes its start time: claims from before are a killed process's).
   * @param token a claim token, which carries the time it was made (see {@link newClaimToken}).
   */
  isStale(token: string, now = Date.now()): boolean {
    const claimedAt = claimTime(token);
    return claimedAt < this.deadBefore || now - claimedAt >= this.staleAfterMs;
  }

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
    const pending = RECORDS_TABLE.indexes.byDevice;
    const output = await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: this.key(key),
        UpdateExpression:
          'SET #claim = :now, #kind = :kind, #provider = :provider, #campaign = :campaign, #day = :day, #ipk = :ipk, #isk = :isk, #ppk = :ppk, #psk = :psk ADD #version :one',
        ExpressionAttributeNames: {
          '#claim': `${CLAIM_PREFIX}${token}`,
          '#kind': 'kind',
          '#provider': 'provider',
          '#campaign': 'campaign_id',
          '#day': 'day',
          '#ipk': index.partitionKey,
          '#isk': index.sortKey,
          '#ppk': pending.partitionKey,
          '#psk': pending.sortKey,
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
          ':ppk': { S: PENDING_COUNTERS_PARTITION },
          ':psk': { S: pendingCounterSortKey(key.provider, key.campaignId, key.day) },
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
   * Recounts a campaign-day from its records when it carries stale claims, unless a live claim (other than
   * `ownToken`, whose writes are settled) is on it. Drops the stale claims and takes the item off the repair
   * list in the same conditional write.
   * @returns `true` when the counters were rewritten.
   */
  async recountIfStale(key: CounterKey, ownToken?: string, now = Date.now()): Promise<boolean> {
    const item = await this.read(key);
    return item ? this.recountItem(key, item, ownToken, now) : false;
  }

  private async read(key: CounterKey) {
    const { Item } = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: this.key(key), ConsistentRead: true }),
    );
    return Item;
  }

  private async recountItem(
    key: CounterKey,
    item: Record<string, AttributeValue>,
    ownToken: string | undefined,
    now: number,
  ): Promise<boolean> {
    const claims = claimsOf(item);
    const stale = Object.keys(claims).filter((token) => token === ownToken || this.isStale(token, now));
    if (stale.length === 0 || stale.length < Object.keys(claims).length) return false;

    const counts = await this.countFromRecords(key);
    const pending = RECORDS_TABLE.indexes.byDevice;
    const names: Record<string, string> = {
      '#impressions': 'impressions',
      '#clicks': 'clicks',
      '#unique': 'unique_devices',
      '#version': 'version',
      '#ppk': pending.partitionKey,
      '#psk': pending.sortKey,
    };
    stale.forEach((token, i) => {
      names[`#t${i}`] = `${CLAIM_PREFIX}${token}`;
    });
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(key),
          UpdateExpression: `SET #impressions = :i, #clicks = :c, #unique = :u REMOVE ${stale.map((_, i) => `#t${i}`).join(', ')}, #ppk, #psk ADD #version :one`,
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

  /**
   * Counts a campaign-day from its stored events, over every shard, with consistent reads: impressions and
   * clicks by event, unique devices as the distinct `device_id`s among them. Device markers are made to match
   * the records first (a batch killed between a record and its marker leaves the marker missing), so a later
   * retry of such an event finds its marker and does not count the device a second time.
   */
  async countFromRecords(key: CounterKey): Promise<Tally> {
    const tally: Tally = { impressions: 0, clicks: 0, unique_devices: 0 };
    const counted = countedEvents(key.provider);
    const devices = new Map<string, Record<string, AttributeValue>>();
    const marked = new Map<string, Record<string, AttributeValue>>();
    for (let shard = 0; shard < this.layout.shards; shard++) {
      const pk = campaignDayPartitionKey(key.provider, key.campaignId, key.day, shard);
      const items = await this.queryAll({
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :events)',
        ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
        ExpressionAttributeValues: { ':pk': { S: pk }, ':events': { S: EVENT_SORT_PREFIX } },
        ConsistentRead: true,
      });
      for (const item of items) {
        const counter = counted[item.event?.S ?? ''];
        if (counter) tally[counter]++;
        const device = item.device_id?.S;
        if (device && !devices.has(device)) devices.set(device, item);
      }
      const markers = await this.queryAll({
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :devices)',
        ProjectionExpression: '#pk, #sk',
        ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
        ExpressionAttributeValues: { ':pk': { S: pk }, ':devices': { S: DEVICE_SORT_PREFIX } },
        ConsistentRead: true,
      });
      for (const marker of markers) marked.set(marker.sk?.S?.slice(DEVICE_SORT_PREFIX.length) ?? '', marker);
    }
    for (const [device, item] of devices) {
      if (marked.has(device)) continue;
      const record = fromEventItem(item);
      await putItemIfAbsent(
        this.client,
        this.tableName,
        deviceMarkerItem({ ...record, campaign_id: key.campaignId, device_id: device }, this.layout),
      );
    }
    tally.unique_devices = devices.size;
    return tally;
  }

  /**
   * One repair pass: settles every counter item claimed since the previous pass. An item whose claims are all
   * stale is recounted from its records; an item with no claim left is taken off the list (unless a batch
   * claimed it meanwhile); an item with a live claim stays listed for the next pass.
   * @returns what the pass did.
   * @throws the SDK's error when the table cannot be read; the next pass starts over.
   */
  async repair(now = Date.now()): Promise<RepairSummary> {
    const index = RECORDS_TABLE.indexes.byDevice;
    const listed = await this.queryAll({
      IndexName: index.name,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': index.partitionKey },
      ExpressionAttributeValues: { ':pk': { S: PENDING_COUNTERS_PARTITION } },
    });
    const summary: RepairSummary = { checked: listed.length, recounted: 0, cleared: 0 };
    for (const entry of listed) {
      const key = {
        provider: entry.provider?.S ?? '',
        campaignId: entry.campaign_id?.S ?? '',
        day: entry[RECORDS_TABLE.sortKey]?.S ?? '',
      };
      const item = await this.read(key);
      if (!item) continue;
      if (Object.keys(claimsOf(item)).length > 0) {
        if (await this.recountItem(key, item, undefined, now)) summary.recounted++;
      } else if (await this.unlist(key, item)) {
        summary.cleared++;
      }
    }
    return summary;
  }

  /** Takes a claim-free item off the repair list, unless a batch claimed it since it was read. */
  private async unlist(key: CounterKey, item: Record<string, AttributeValue>): Promise<boolean> {
    const pending = RECORDS_TABLE.indexes.byDevice;
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(key),
          UpdateExpression: 'REMOVE #ppk, #psk',
          ConditionExpression: '#version = :version',
          ExpressionAttributeNames: {
            '#ppk': pending.partitionKey,
            '#psk': pending.sortKey,
            '#version': 'version',
          },
          ExpressionAttributeValues: { ':version': item.version ?? N(0) },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * One campaign's counters, day by day (`since`/`until` inclusive, `YYYY-MM-DD`), read consistently. Only
   * reads: a campaign-day left by a killed batch is settled by {@link CampaignCounters.repair}.
   */
  async campaignStats(
    provider: string,
    campaignId: string,
    since = '0000',
    until = '9999',
  ): Promise<CampaignDayStats[]> {
    const items = await this.queryAll({
      KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :since AND :until',
      ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
      ExpressionAttributeValues: {
        ':pk': { S: statsPartitionKey(provider, campaignId) },
        ':since': { S: since },
        ':until': { S: until },
      },
      ConsistentRead: true,
    });
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
