import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type QueryCommandInput,
  ResourceInUseException,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { QueueMessage } from '../events/event-record';
import type { StateUpdate } from '../providers/provider';
import {
  campaignPartitionKey,
  DEFAULT_LAYOUT,
  devicePartitionKey,
  fromEventItem,
  fromQuarantineItem,
  PROJECTED_ATTRIBUTES,
  QUARANTINE_PARTITION,
  quarantinePartitionKey,
  RECORD_SORT_KEY,
  RECORDS_TABLE,
  type StoredEvent,
  type StoredQuarantine,
  statePartitionKey,
  type TableLayout,
  toItem,
  typeDayPartitionKey,
} from '../table/records-table';

/** What storing one message did. A duplicate is a success: the event is already there. */
export type StoreOutcome = 'stored' | 'duplicate';

/** Filters of `npm run events -- query`; every one optional, combined with AND. */
export interface EventQuery {
  provider: string;
  campaign?: string | undefined;
  device?: string | undefined;
  type?: string | undefined;
  /** Inclusive lower bound on `created_at`, ISO 8601. */
  since?: string | undefined;
  /** Inclusive upper bound on `created_at`, ISO 8601. */
  until?: string | undefined;
  limit: number;
}

const DAY_MS = 86_400_000;
/** How far back `--type` looks when no `--since` is given, and the most days one query walks. */
export const TYPE_QUERY_DEFAULT_DAYS = 7;
export const TYPE_QUERY_MAX_DAYS = 366;

/**
 * Writes an item unless one with its key exists: the one write that both stores and deduplicates.
 * @returns `stored` on first insert, `duplicate` when the key existed.
 * @throws the SDK's error for anything else (throttling, unavailability).
 */
export async function putItemIfAbsent(
  client: DynamoDBClient,
  tableName: string,
  item: Record<string, AttributeValue>,
): Promise<StoreOutcome> {
  try {
    await client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: item,
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': RECORDS_TABLE.partitionKey },
      }),
    );
    return 'stored';
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return 'duplicate';
    throw error;
  }
}

/** Reads and writes the records table. Knows DynamoDB, nothing of Lambda or HTTP. */
export class RecordsRepository {
  constructor(
    private readonly client: DynamoDBClient,
    readonly tableName: string,
    readonly layout: TableLayout = DEFAULT_LAYOUT,
  ) {}

  /**
   * Stores the record a queue message carries, unless an item with its key is already there.
   * @returns `stored` on first insert, `duplicate` when the key existed.
   * @throws the SDK's error for anything else (throttling, unavailability): the caller retries the message.
   */
  async store(message: QueueMessage): Promise<StoreOutcome> {
    return this.putIfAbsent(toItem(message, this.layout));
  }

  /**
   * Writes an item unless one with its key exists: the one write that both stores and deduplicates.
   * @returns `stored` on first insert, `duplicate` when the key existed.
   * @throws the SDK's error for anything else.
   */
  async putIfAbsent(item: Record<string, AttributeValue>): Promise<StoreOutcome> {
    return putItemIfAbsent(this.client, this.tableName, item);
  }

  /**
   * Moves a provider's current-state item forward, never back: it changes only when the update's rank is
   * higher, or equal with a later `updated_at`.
   * @returns `false` when the stored state was newer and stays as it is.
   */
  async applyState(provider: string, update: StateUpdate): Promise<boolean> {
    const names: Record<string, string> = {
      '#pk': RECORDS_TABLE.partitionKey,
      '#rank': 'rank',
      '#at': 'updated_at',
    };
    const values: Record<string, AttributeValue> = {
      ':rank': { N: String(update.rank) },
      ':at': { S: update.fields.updated_at ?? '' },
      ':kind': { S: 'state' },
      ':provider': { S: provider },
      ':key': { S: update.key },
    };
    const sets = ['#rank = :rank', '#kind = :kind', '#provider = :provider', '#key = :key'];
    Object.assign(names, { '#kind': 'kind', '#provider': 'provider', '#key': 'state_key' });
    Object.entries(update.fields).forEach(([field, value], i) => {
      names[`#f${i}`] = field;
      values[`:f${i}`] = value === null ? { NULL: true } : { S: value };
      sets.push(`#f${i} = :f${i}`);
    });
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { pk: { S: statePartitionKey(provider, update.key) }, sk: { S: RECORD_SORT_KEY } },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: 'attribute_not_exists(#pk) OR #rank < :rank OR (#rank = :rank AND #at <= :at)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** @returns a provider's current-state item for `key`, or `undefined`. */
  async getState(provider: string, key: string): Promise<Record<string, string | number | null> | undefined> {
    const { Item } = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: statePartitionKey(provider, key) }, sk: { S: RECORD_SORT_KEY } },
        ConsistentRead: true,
      }),
    );
    if (!Item) return undefined;
    const state: Record<string, string | number | null> = {};
    for (const [name, value] of Object.entries(Item)) {
      if (name === 'pk' || name === 'sk' || name === 'kind') continue;
      state[name] = value.S ?? (value.N !== undefined ? Number(value.N) : null);
    }
    return state;
  }

  /**
   * Finds events, newest first. Uses the campaign index when a campaign is given, else the device index, else
   * the type-and-day index (one query per day); with no filter it scans, which suits small tables only.
   */
  async queryEvents(query: EventQuery): Promise<StoredEvent[]> {
    const since = query.since ?? '0000';
    const until = `${query.until ?? '9999'}\uffff`;
    const filters: Filter[] = [];
    if (query.type) filters.push(['event', query.type]);
    if (query.device) filters.push(['device_id', query.device]);
    if (query.campaign) filters.push(['campaign_id', query.campaign]);

    const shards = Array.from({ length: this.layout.shards }, (_, shard) => shard);
    if (query.campaign) {
      const campaign = query.campaign;
      const index = RECORDS_TABLE.indexes.byCampaign;
      const keys = shards.map((shard) => campaignPartitionKey(query.provider, campaign, shard));
      return this.queryIndex(index, keys, since, until, without(filters, 'campaign_id'), query.limit);
    }
    if (query.device) {
      const index = RECORDS_TABLE.indexes.byDevice;
      const keys = [devicePartitionKey(query.provider, query.device)];
      return this.queryIndex(index, keys, since, until, without(filters, 'device_id'), query.limit);
    }
    if (query.type) {
      const type = query.type;
      const index = RECORDS_TABLE.indexes.byTypeAndDay;
      const results: StoredEvent[] = [];
      for (const day of daysNewestFirst(query.since, query.until)) {
        const keys = shards.map((shard) => typeDayPartitionKey(query.provider, type, day, shard));
        const remaining = query.limit - results.length;
        results.push(
          ...(await this.queryIndex(index, keys, since, until, without(filters, 'event'), remaining)),
        );
        if (results.length >= query.limit) break;
      }
      return results;
    }
    return this.scanEvents(query.provider, since, until, query.limit);
  }

  /** @returns quarantined deliveries, oldest first, with their reasons and raw bodies. */
  async listQuarantine(limit: number): Promise<StoredQuarantine[]> {
    const index = RECORDS_TABLE.indexes.byCampaign;
    const listed = await this.paginate(
      {
        TableName: this.tableName,
        IndexName: index.name,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': index.partitionKey },
        ExpressionAttributeValues: { ':pk': { S: QUARANTINE_PARTITION } },
      },
      limit,
    );
    // The index leaves raw bodies out; fetch them from the table, 100 keys per BatchGetItem.
    const ids = listed.map((item) => item.id?.S ?? '');
    const byId = new Map<string, Record<string, AttributeValue>>();
    for (let start = 0; start < ids.length; start += 100) {
      let keys: Record<string, AttributeValue>[] | undefined = ids.slice(start, start + 100).map((id) => ({
        [RECORDS_TABLE.partitionKey]: { S: quarantinePartitionKey(id) },
        [RECORDS_TABLE.sortKey]: { S: RECORD_SORT_KEY },
      }));
      while (keys && keys.length > 0) {
        const page: BatchGetItemCommandOutput = await this.client.send(
          new BatchGetItemCommand({ RequestItems: { [this.tableName]: { Keys: keys } } }),
        );
        for (const item of page.Responses?.[this.tableName] ?? []) byId.set(item.id?.S ?? '', item);
        keys = page.UnprocessedKeys?.[this.tableName]?.Keys;
      }
    }
    return listed.map((item) => fromQuarantineItem(byId.get(item.id?.S ?? '') ?? item));
  }

  /** Queries each partition (one per shard), newest first, and merges them. */
  private async queryIndex(
    index: { name: string; partitionKey: string; sortKey: string },
    partitionKeys: string[],
    since: string,
    until: string,
    filters: Filter[],
    limit: number,
  ): Promise<StoredEvent[]> {
    const filter = filterExpression(filters);
    const pages = await Promise.all(
      partitionKeys.map((partitionKey) =>
        this.paginate(
          {
            TableName: this.tableName,
            IndexName: index.name,
            KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :since AND :until',
            ScanIndexForward: false,
            ...filter.expression,
            ExpressionAttributeNames: { '#pk': index.partitionKey, '#sk': index.sortKey, ...filter.names },
            ExpressionAttributeValues: {
              ':pk': { S: partitionKey },
              ':since': { S: since },
              ':until': { S: until },
              ...filter.values,
            },
          },
          limit,
        ),
      ),
    );
    const sortKey = (item: Record<string, AttributeValue>) => item[index.sortKey]?.S ?? '';
    return pages
      .flat()
      .sort((a, b) => sortKey(b).localeCompare(sortKey(a)))
      .slice(0, limit)
      .map(fromEventItem);
  }

  private async scanEvents(
    provider: string,
    since: string,
    until: string,
    limit: number,
  ): Promise<StoredEvent[]> {
    const items: Record<string, AttributeValue>[] = [];
    let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: '#kind = :event AND #provider = :provider AND #created BETWEEN :since AND :until',
          ExpressionAttributeNames: { '#kind': 'kind', '#provider': 'provider', '#created': 'created_at' },
          ExpressionAttributeValues: {
            ':event': { S: 'event' },
            ':provider': { S: provider },
            ':since': { S: since },
            ':until': { S: until },
          },
          ExclusiveStartKey,
        }),
      );
      items.push(...(page.Items ?? []));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return items
      .map(fromEventItem)
      .sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id))
      .slice(0, limit);
  }

  private async paginate(input: QueryCommandInput, limit: number): Promise<Record<string, AttributeValue>[]> {
    const items: Record<string, AttributeValue>[] = [];
    let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
    while (items.length < limit) {
      const page = await this.client.send(new QueryCommand({ ...input, ExclusiveStartKey }));
      items.push(...(page.Items ?? []));
      ExclusiveStartKey = page.LastEvaluatedKey;
      if (!ExclusiveStartKey) break;
    }
    return items.slice(0, limit);
  }
}

type Filter = [attribute: string, value: string];

const without = (filters: Filter[], attribute: string) => filters.filter(([name]) => name !== attribute);

function filterExpression(filters: Filter[]) {
  if (filters.length === 0) return { expression: {}, names: {}, values: {} };
  const names: Record<string, string> = {};
  const values: Record<string, AttributeValue> = {};
  const terms = filters.map(([attribute, value], i) => {
    names[`#f${i}`] = attribute;
    values[`:f${i}`] = { S: value };
    return `#f${i} = :f${i}`;
  });
  return { expression: { FilterExpression: terms.join(' AND ') }, names, values };
}

/** The UTC days from `since` to `until` (default: the last seven days up to today), newest first. */
export function daysNewestFirst(
  since: string | undefined,
  until: string | undefined,
  now = Date.now(),
): string[] {
  const end = until ? Date.parse(until) : now;
  const start = since ? Date.parse(since) : end - (TYPE_QUERY_DEFAULT_DAYS - 1) * DAY_MS;
  const days: string[] = [];
  const first = Math.floor(start / DAY_MS);
  for (let day = Math.floor(end / DAY_MS); day >= first && days.length < TYPE_QUERY_MAX_DAYS; day--) {
    days.push(new Date(day * DAY_MS).toISOString().slice(0, 10));
  }
  return days;
}

/**
 * Creates the records table with its indexes (local stack and tests; in AWS the CDK stack owns it).
 * An existing table is left as it is.
 */
export async function ensureRecordsTable(client: DynamoDBClient, tableName: string): Promise<void> {
  const { partitionKey, sortKey, indexes } = RECORDS_TABLE;
  const attributes = [
    partitionKey,
    sortKey,
    ...Object.values(indexes).flatMap((i) => [i.partitionKey, i.sortKey]),
  ];
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: attributes.map((AttributeName) => ({ AttributeName, AttributeType: 'S' })),
        KeySchema: [
          { AttributeName: partitionKey, KeyType: 'HASH' },
          { AttributeName: sortKey, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: Object.values(indexes).map((index) => ({
          IndexName: index.name,
          KeySchema: [
            { AttributeName: index.partitionKey, KeyType: 'HASH' },
            { AttributeName: index.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: PROJECTED_ATTRIBUTES },
        })),
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  // A new table takes a moment to become ACTIVE (locally too: writes before that fail as ResourceNotFound).
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    if (Date.now() > deadline)
      throw new Error(`table ${tableName} is still ${Table?.TableStatus} after 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
