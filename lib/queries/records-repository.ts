import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  type QueryCommandInput,
} from '@aws-sdk/client-dynamodb';
import { findProvider } from '../providers';
import {
  type CounterItem,
  campaignDayFamily,
  campaignIndexKeys,
  DEFAULT_LAYOUT,
  devicePartitionKey,
  EVENT_SORT_PREFIX,
  fromEventItem,
  fromQuarantineItem,
  markedFamily,
  QUARANTINE_PARTITION,
  quarantinePartitionKey,
  RECORD_SORT_KEY,
  RECORDS_TABLE,
  type StoredEvent,
  type StoredQuarantine,
  shardKeys,
  statePartitionKey,
  type TableLayout,
  typeDayFamily,
  typeDayIndexKeys,
} from '../table/records-table';
import { getItems, queryItems, queryPages, scanPages } from '../table/table-io';
import { CampaignStats } from './campaign-stats';

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
/** How far back `--type` looks when no `--since` is given, in days. */
export const TYPE_QUERY_DEFAULT_DAYS = 7;
/**
 * The most days one `--type` query walks, newest first: a year and its leap day, as long as records are kept
 * by default. Each day is one more partition read, so a wide range is cut rather than read without end.
 */
export const TYPE_QUERY_MAX_DAYS = 366;

/** Reads the records table for the CLI and the dashboard. Knows DynamoDB, nothing of Lambda or HTTP. */
export class RecordsRepository {
  private readonly stats: CampaignStats;

  constructor(
    private readonly client: DynamoDBClient,
    readonly tableName: string,
    readonly layout: TableLayout = DEFAULT_LAYOUT,
  ) {
    this.stats = new CampaignStats(client, tableName);
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
    // Keyed by the item's attribute names: no prototype, so that no name can be or reach an inherited one.
    const state: Record<string, string | number | null> = Object.create(null);
    for (const [name, value] of Object.entries(Item)) {
      if (name === RECORDS_TABLE.partitionKey || name === RECORDS_TABLE.sortKey || name === 'kind') continue;
      state[name] = value.S ?? (value.N !== undefined ? Number(value.N) : null);
    }
    return state;
  }

  /**
   * Finds events, newest first. A campaign's events are read day by day from its partitions (its counter items
   * say which days have any); a device's through its markers (which partitions it was seen in, day by day);
   * a type's from its own partitions and from the campaigns that counted it that day (one query per day);
   * with no filter, every type's and campaign's partitions day by day. Nothing scans the table. Events keyed
   * by id alone come from the indexes.
   */
  async queryEvents(query: EventQuery): Promise<StoredEvent[]> {
    const since = query.since ?? '0000';
    const until = `${query.until ?? '9999'}\uffff`;
    const filters: Filter[] = [];
    if (query.type) filters.push(['event', query.type]);
    if (query.device) filters.push(['device_id', query.device]);
    if (query.campaign) filters.push(['campaign_id', query.campaign]);
    const range = { since, until };
    const results = new Results(query.limit);
    if (query.campaign) await this.campaignEvents(query, query.campaign, range, filters, results);
    else if (query.device) await this.deviceEvents(query, query.device, range, filters, results);
    else if (query.type) await this.typeEvents(query, query.type, range, filters, results);
    else await this.allEvents(query, range, results);
    return results.sorted();
  }

  /** A campaign's events: its days, as its counter items list them, newest first, then its id-keyed ones. */
  private async campaignEvents(
    query: EventQuery,
    campaign: string,
    range: { since: string; until: string },
    filters: Filter[],
    results: Results,
  ): Promise<void> {
    const rest = without(filters, 'campaign_id');
    const days = await this.stats.counterItems(
      query.provider,
      campaign,
      range.since.slice(0, 10),
      range.until.slice(0, 10),
    );
    for (const { day } of days.reverse()) {
      if (results.full()) break;
      results.add(
        await this.queryFamily(campaignDayFamily(query.provider, campaign, day), range, rest, query.limit),
      );
    }
    const keys = campaignIndexKeys(query.provider, campaign, this.layout);
    results.add(await this.queryIndex(RECORDS_TABLE.indexes.byCampaign, keys, range, rest, query.limit));
  }

  /** A device's events: the families its markers name, day by day, newest first, then its id-keyed ones. */
  private async deviceEvents(
    query: EventQuery,
    deviceId: string,
    range: { since: string; until: string },
    filters: Filter[],
    results: Results,
  ): Promise<void> {
    const device = devicePartitionKey(query.provider, deviceId);
    const rest = without(filters, 'device_id');
    // The device's markers say which partition families hold its events, day by day.
    const markers = await queryItems(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :since AND :until',
      ScanIndexForward: false,
      ExpressionAttributeNames: { '#pk': RECORDS_TABLE.partitionKey, '#sk': RECORDS_TABLE.sortKey },
      ExpressionAttributeValues: {
        ':pk': { S: device },
        ':since': { S: range.since.slice(0, 10) },
        ':until': { S: range.until },
      },
    });
    let day: string | undefined;
    for (const marker of markers) {
      // Markers come newest day first; the families of one day are all read before the limit can stop it.
      const markerDay = marker[RECORDS_TABLE.sortKey]?.S?.slice(0, 10);
      if (results.full() && markerDay !== day) break;
      day = markerDay;
      results.add(await this.queryFamily(markedFamily(marker), range, filters, query.limit));
    }
    results.add(await this.queryIndex(RECORDS_TABLE.indexes.byDevice, [device], range, rest, query.limit));
  }

  /** A type's events, day by day, newest first: its own partitions, the campaigns that count it, its index. */
  private async typeEvents(
    query: EventQuery,
    type: string,
    range: { since: string; until: string },
    filters: Filter[],
    results: Results,
  ): Promise<void> {
    const rest = without(filters, 'event');
    const typeOnly: Filter[] = [['event', type]];
    for (const day of daysNewestFirst(query.since, query.until)) {
      if (results.full()) break;
      results.add(await this.queryFamily(typeDayFamily(query.provider, type, day), range, rest, query.limit));
      for (const counter of await this.stats.dayCounterItems(query.provider, day)) {
        if (!countsType(counter, type)) continue;
        const family = campaignDayFamily(query.provider, counter.campaign_id, day);
        results.add(await this.queryFamily(family, range, [...rest, ...typeOnly], query.limit));
      }
      const keys = typeDayIndexKeys(query.provider, type, day, this.layout);
      results.add(await this.queryIndex(RECORDS_TABLE.indexes.byTypeAndDay, keys, range, rest, query.limit));
    }
  }

  /** No filter: day by day, newest first, every event type's partitions and every campaign of the day. */
  private async allEvents(
    query: EventQuery,
    range: { since: string; until: string },
    results: Results,
  ): Promise<void> {
    const types = findProvider(query.provider)?.events ?? [];
    for (const day of daysNewestFirst(query.since, query.until)) {
      if (results.full()) break;
      for (const type of types) {
        results.add(await this.queryFamily(typeDayFamily(query.provider, type, day), range, [], query.limit));
        const keys = typeDayIndexKeys(query.provider, type, day, this.layout);
        results.add(await this.queryIndex(RECORDS_TABLE.indexes.byTypeAndDay, keys, range, [], query.limit));
      }
      for (const counter of await this.stats.dayCounterItems(query.provider, day)) {
        const family = campaignDayFamily(query.provider, counter.campaign_id, day);
        results.add(await this.queryFamily(family, range, [], query.limit));
      }
    }
  }

  /**
   * Every event a query matches, with no limit, page by page as DynamoDB returns them (an export of any size
   * holds one page in memory): a campaign's days and a type's days oldest first, a device's through its
   * markers; with no filter, a scan of the table. Within a day, events come shard by shard.
   * @param query as {@link queryEvents}; with `type`, `since` is required (every day from it is read).
   */
  async *streamEvents(query: Omit<EventQuery, 'limit'>): AsyncGenerator<StoredEvent[]> {
    const since = query.since ?? '0000';
    const until = `${query.until ?? '9999'}\uffff`;
    const range = { since, until };
    const filters: Filter[] = [];
    if (query.type) filters.push(['event', query.type]);
    if (query.device) filters.push(['device_id', query.device]);
    if (query.campaign) filters.push(['campaign_id', query.campaign]);
    const families: [string, Filter[]][] = [];
    const indexed: [IndexShape, string[], Filter[]][] = [];
    if (query.campaign) {
      const rest = without(filters, 'campaign_id');
      const days = await this.stats.counterItems(
        query.provider,
        query.campaign,
        since.slice(0, 10),
        until.slice(0, 10),
      );
      for (const { day } of days)
        families.push([campaignDayFamily(query.provider, query.campaign, day), rest]);
      indexed.push([
        RECORDS_TABLE.indexes.byCampaign,
        campaignIndexKeys(query.provider, query.campaign, this.layout),
        rest,
      ]);
    } else if (query.device) {
      const device = devicePartitionKey(query.provider, query.device);
      const markers = await queryItems(this.client, {
        TableName: this.tableName,
        KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :since AND :until',
        ExpressionAttributeNames: { '#pk': RECORDS_TABLE.partitionKey, '#sk': RECORDS_TABLE.sortKey },
        ExpressionAttributeValues: {
          ':pk': { S: device },
          ':since': { S: since.slice(0, 10) },
          ':until': { S: until },
        },
      });
      for (const marker of markers) families.push([markedFamily(marker), filters]);
      indexed.push([RECORDS_TABLE.indexes.byDevice, [device], without(filters, 'device_id')]);
    } else if (query.type) {
      if (!query.since) throw new Error('an export by type needs a first day (since)');
      const type = query.type;
      const rest = without(filters, 'event');
      for (const day of daysOldestFirst(query.since, query.until)) {
        families.push([typeDayFamily(query.provider, type, day), rest]);
        for (const counter of await this.stats.dayCounterItems(query.provider, day)) {
          if (countsType(counter, type)) {
            families.push([
              campaignDayFamily(query.provider, counter.campaign_id, day),
              [...rest, ['event', type]],
            ]);
          }
        }
        indexed.push([
          RECORDS_TABLE.indexes.byTypeAndDay,
          typeDayIndexKeys(query.provider, type, day, this.layout),
          rest,
        ]);
      }
    } else {
      for await (const page of scanPages(this.client, {
        TableName: this.tableName,
        FilterExpression: '#kind = :event AND #provider = :provider AND #created BETWEEN :since AND :until',
        ExpressionAttributeNames: { '#kind': 'kind', '#provider': 'provider', '#created': 'created_at' },
        ExpressionAttributeValues: {
          ':event': { S: 'event' },
          ':provider': { S: query.provider },
          ':since': { S: since },
          ':until': { S: until },
        },
      })) {
        if (page.length > 0) yield page.map(fromEventItem);
      }
      return;
    }
    for (const [family, familyFilters] of families) {
      for (const partitionKey of shardKeys(family, this.layout)) {
        for await (const page of queryPages(
          this.client,
          this.familyInput(partitionKey, range, familyFilters, false),
        )) {
          if (page.length > 0) yield page.map(fromEventItem);
        }
      }
    }
    for (const [index, keys, indexFilters] of indexed) {
      for (const partitionKey of keys) {
        for await (const page of queryPages(
          this.client,
          this.indexInput(index, partitionKey, range, indexFilters, false),
        )) {
          if (page.length > 0) yield await this.fromIndex(page);
        }
      }
    }
  }

  /** @returns quarantined deliveries, oldest first, with their reasons and raw bodies. */
  async listQuarantine(limit: number): Promise<StoredQuarantine[]> {
    const index = RECORDS_TABLE.indexes.byCampaign;
    const listed = await queryItems(
      this.client,
      {
        TableName: this.tableName,
        IndexName: index.name,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': index.partitionKey },
        ExpressionAttributeValues: { ':pk': { S: QUARANTINE_PARTITION } },
      },
      limit,
    );
    // The index leaves raw bodies out; fetch them from the table.
    const keys = listed.map((item) => ({
      [RECORDS_TABLE.partitionKey]: { S: quarantinePartitionKey(item.id?.S ?? '') },
      [RECORDS_TABLE.sortKey]: { S: RECORD_SORT_KEY },
    }));
    const byId = new Map(
      (await getItems(this.client, this.tableName, keys)).map((item) => [item.id?.S, item]),
    );
    return listed.map((item) => fromQuarantineItem(byId.get(item.id?.S) ?? item));
  }

  /** Queries every shard of a base-table partition family (a campaign's or a type's day), newest first. */
  private async queryFamily(family: string, range: Range, filters: Filter[], limit: number) {
    const pages = await Promise.all(
      shardKeys(family, this.layout).map((partitionKey) =>
        queryItems(this.client, this.familyInput(partitionKey, range, filters, true), limit),
      ),
    );
    return pages.flat().map(fromEventItem);
  }

  /** Queries an index's partitions (one per shard), newest first. */
  private async queryIndex(
    index: IndexShape,
    partitionKeys: string[],
    range: Range,
    filters: Filter[],
    limit: number,
  ): Promise<StoredEvent[]> {
    const pages = await Promise.all(
      partitionKeys.map((partitionKey) =>
        queryItems(this.client, this.indexInput(index, partitionKey, range, filters, true), limit),
      ),
    );
    return this.fromIndex(pages.flat());
  }

  /**
   * The events of index entries, read whole from the table: the indexes project a fixed list of attributes (part
   * of their deployed definition), which leaves out the record's `normalizer` and `app`. Eventually consistent
   * reads, as the index's own are; an entry whose item is gone meanwhile is taken as the index has it.
   */
  private async fromIndex(entries: Record<string, AttributeValue>[]): Promise<StoredEvent[]> {
    if (entries.length === 0) return [];
    const key = (item: Record<string, AttributeValue>) =>
      JSON.stringify([item[RECORDS_TABLE.partitionKey]?.S, item[RECORDS_TABLE.sortKey]?.S]);
    const items = await getItems(
      this.client,
      this.tableName,
      [...new Map(entries.map((entry) => [key(entry), entry])).values()].map((entry) => ({
        [RECORDS_TABLE.partitionKey]: entry[RECORDS_TABLE.partitionKey] as AttributeValue,
        [RECORDS_TABLE.sortKey]: entry[RECORDS_TABLE.sortKey] as AttributeValue,
      })),
      false,
    );
    const byKey = new Map(items.map((item) => [key(item), item]));
    return entries.map((entry) => fromEventItem(byKey.get(key(entry)) ?? entry));
  }

  /** The query of one base-table partition's events in a time range. */
  private familyInput(
    partitionKey: string,
    range: Range,
    filters: Filter[],
    newestFirst: boolean,
  ): QueryCommandInput {
    const filter = filterExpression(filters);
    return {
      TableName: this.tableName,
      KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :since AND :until',
      ScanIndexForward: !newestFirst,
      ...filter.expression,
      ExpressionAttributeNames: {
        '#pk': RECORDS_TABLE.partitionKey,
        '#sk': RECORDS_TABLE.sortKey,
        ...filter.names,
      },
      ExpressionAttributeValues: {
        ':pk': { S: partitionKey },
        ':since': { S: `${EVENT_SORT_PREFIX}${range.since}` },
        ':until': { S: `${EVENT_SORT_PREFIX}${range.until}` },
        ...filter.values,
      },
    };
  }

  /** The query of one index partition's events (keyed by id) in a time range. */
  private indexInput(
    index: IndexShape,
    partitionKey: string,
    range: Range,
    filters: Filter[],
    newestFirst: boolean,
  ): QueryCommandInput {
    const filter = filterExpression(filters);
    return {
      TableName: this.tableName,
      IndexName: index.name,
      KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :since AND :until',
      ScanIndexForward: !newestFirst,
      ...filter.expression,
      ExpressionAttributeNames: { '#pk': index.partitionKey, '#sk': index.sortKey, ...filter.names },
      ExpressionAttributeValues: {
        ':pk': { S: partitionKey },
        ':since': { S: range.since },
        ':until': { S: range.until },
        ...filter.values,
      },
    };
  }
}

interface Range {
  /** Lower bound on `created_at`. */
  since: string;
  /** Upper bound on `created_at`, `\uffff`-terminated so that a date includes its whole day. */
  until: string;
}

/** Events gathered from several partitions: one copy of each, newest first, at most `limit`. */
class Results {
  private readonly byId = new Map<string, StoredEvent>();
  constructor(private readonly limit: number) {}
  add(events: StoredEvent[]) {
    for (const event of events) this.byId.set(event.id, event);
  }
  /** `true` once `limit` events are in hand: read day by day, newest first, older days cannot add to them. */
  full() {
    return this.byId.size >= this.limit;
  }
  sorted(): StoredEvent[] {
    return [...this.byId.values()]
      .sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id))
      .slice(0, this.limit);
  }
}

type Filter = [attribute: string, value: string];
type IndexShape = { name: string; partitionKey: string; sortKey: string };

/**
 * `true` when a campaign-day has stored events of `type`: listed in its types (stored, maybe not counted yet), or
 * counted. Its own count only, since the type is the caller's text and `constructor` or `toString` must not find
 * what every object inherits.
 */
const countsType = (counter: CounterItem, type: string) =>
  counter.types.includes(type) || (Object.hasOwn(counter.counts, type) && (counter.counts[type] ?? 0) > 0);

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

/** Every UTC day from `since` to `until` (default: today), oldest first, with no cap. */
export function daysOldestFirst(since: string, until: string | undefined, now = Date.now()): string[] {
  const first = Math.floor(Date.parse(since) / DAY_MS);
  const last = Math.floor((until ? Date.parse(until) : now) / DAY_MS);
  const days: string[] = [];
  for (let day = first; day <= last; day++) days.push(new Date(day * DAY_MS).toISOString().slice(0, 10));
  return days;
}
