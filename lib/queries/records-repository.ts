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
import {
  type EventPlan,
  type EventQuery,
  type EventSources,
  type Filter,
  planEvents,
  type TimeBounds,
} from './event-plan';

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
   * by id alone come from the indexes. {@link planEvents} says which partitions.
   */
  async queryEvents(query: EventQuery): Promise<StoredEvent[]> {
    const plan = planEvents(query, 'newest first');
    const results = new Results(query.limit);
    const { byDay, idKeyed } = this.partitionsOf(plan);
    // Read day by day, newest first: once the limit is in hand, older days cannot add to it (and their
    // partitions are not even listed).
    while (!results.full()) {
      const next = await byDay.next();
      if (next.done) break;
      for (const [family, filters] of next.value.families)
        results.add(await this.queryFamily(family, plan.bounds, filters, query.limit));
      for (const [index, keys, filters] of next.value.indexed)
        results.add(await this.queryIndex(index, keys, plan.bounds, filters, query.limit));
    }
    await byDay.return(undefined);
    for (const [index, keys, filters] of idKeyed)
      results.add(await this.queryIndex(index, keys, plan.bounds, filters, query.limit));
    return results.sorted();
  }

  /**
   * Every event a query matches, with no limit, page by page as DynamoDB returns them (an export of any size
   * holds one page in memory): a campaign's days and a type's days oldest first, a device's through its
   * markers; with no filter, a scan of the table. Within a day, events come shard by shard; the events keyed by
   * id alone come last.
   * @param query as {@link queryEvents}; with `type`, `since` is required (every day from it is read).
   */
  async *streamEvents(query: Omit<EventQuery, 'limit'>): AsyncGenerator<StoredEvent[]> {
    const plan = planEvents(query, 'oldest first');
    if (plan.sources.by === 'scan') {
      yield* this.scanEvents(plan);
      return;
    }
    const { byDay, idKeyed } = this.partitionsOf(plan);
    const indexed: IndexRead[] = [];
    for await (const day of byDay) {
      indexed.push(...day.indexed);
      for (const [family, filters] of day.families) {
        for (const partitionKey of shardKeys(family, this.layout)) {
          const input = this.familyInput(partitionKey, plan.bounds, filters, false);
          for await (const page of queryPages(this.client, input)) {
            if (page.length > 0) yield page.map(fromEventItem);
          }
        }
      }
    }
    for (const [index, keys, filters] of [...indexed, ...idKeyed]) {
      for (const partitionKey of keys) {
        const input = this.indexInput(index, partitionKey, plan.bounds, filters, false);
        for await (const page of queryPages(this.client, input)) {
          if (page.length > 0) yield await this.fromIndex(page);
        }
      }
    }
  }

  /**
   * The partitions a plan reads: day by day in the plan's order (a campaign's days as its counter items list
   * them, a device's as its markers do, a type's or every type's as the plan does, with the campaigns that
   * counted events that day), then the index partitions of the events keyed by id alone that are not split by
   * day (a campaign's, a device's).
   */
  private partitionsOf(plan: EventPlan): { byDay: AsyncGenerator<DayPartitions>; idKeyed: IndexRead[] } {
    const { provider, sources } = plan;
    if (sources.by === 'campaign') {
      const keys = campaignIndexKeys(provider, sources.campaign, this.layout);
      return {
        byDay: this.campaignDays(plan, sources),
        idKeyed: [[RECORDS_TABLE.indexes.byCampaign, keys, sources.filters]],
      };
    }
    if (sources.by === 'device') {
      const device = devicePartitionKey(provider, sources.device);
      return {
        byDay: this.deviceDays(plan, device, sources.filters),
        idKeyed: [[RECORDS_TABLE.indexes.byDevice, [device], sources.indexFilters]],
      };
    }
    if (sources.by === 'type') return { byDay: this.typeDays(plan, sources), idKeyed: [] };
    if (sources.by === 'every type and campaign')
      return { byDay: this.everyTypeDays(plan, sources), idKeyed: [] };
    throw new Error('a scan reads no partitions');
  }

  /** A campaign's days, as its counter items list them. */
  private async *campaignDays(
    plan: EventPlan,
    sources: SourcesBy<'campaign'>,
  ): AsyncGenerator<DayPartitions> {
    const { provider } = plan;
    const days = await this.stats.counterItems(provider, sources.campaign, sources.firstDay, sources.lastDay);
    if (plan.order === 'newest first') days.reverse();
    for (const { day } of days) {
      yield {
        families: [[campaignDayFamily(provider, sources.campaign, day), sources.filters]],
        indexed: [],
      };
    }
  }

  /** A device's days: the families its markers name, the families of one day together. */
  private async *deviceDays(
    plan: EventPlan,
    device: string,
    filters: Filter[],
  ): AsyncGenerator<DayPartitions> {
    let day: string | undefined;
    let families: FamilyRead[] = [];
    for (const marker of await this.deviceMarkers(device, plan)) {
      const markerDay = marker[RECORDS_TABLE.sortKey]?.S?.slice(0, 10);
      if (families.length > 0 && markerDay !== day) {
        yield { families, indexed: [] };
        families = [];
      }
      day = markerDay;
      families.push([markedFamily(marker), filters]);
    }
    if (families.length > 0) yield { families, indexed: [] };
  }

  /** A type's days: its own partitions, the campaigns that counted it that day, its index entries. */
  private async *typeDays(plan: EventPlan, sources: SourcesBy<'type'>): AsyncGenerator<DayPartitions> {
    const { provider } = plan;
    for (const day of sources.days) {
      const families: FamilyRead[] = [[typeDayFamily(provider, sources.type, day), sources.filters]];
      for (const counter of await this.stats.dayCounterItems(provider, day)) {
        if (!countsType(counter, sources.type)) continue;
        families.push([campaignDayFamily(provider, counter.campaign_id, day), sources.campaignFilters]);
      }
      const keys = typeDayIndexKeys(provider, sources.type, day, this.layout);
      yield { families, indexed: [[RECORDS_TABLE.indexes.byTypeAndDay, keys, sources.filters]] };
    }
  }

  /** Every day's partitions: every event type's partitions and index entries, every campaign of the day. */
  private async *everyTypeDays(
    plan: EventPlan,
    sources: SourcesBy<'every type and campaign'>,
  ): AsyncGenerator<DayPartitions> {
    const { provider } = plan;
    const types = findProvider(provider)?.events ?? [];
    for (const day of sources.days) {
      const families: FamilyRead[] = types.map((type) => [typeDayFamily(provider, type, day), []]);
      const indexed: IndexRead[] = types.map((type) => [
        RECORDS_TABLE.indexes.byTypeAndDay,
        typeDayIndexKeys(provider, type, day, this.layout),
        [],
      ]);
      for (const counter of await this.stats.dayCounterItems(provider, day))
        families.push([campaignDayFamily(provider, counter.campaign_id, day), []]);
      yield { families, indexed };
    }
  }

  /** A device's markers in the plan's days, in the plan's order: which partition families hold its events. */
  private deviceMarkers(device: string, plan: EventPlan) {
    return queryItems(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :since AND :until',
      ...(plan.order === 'newest first' ? { ScanIndexForward: false } : {}),
      ExpressionAttributeNames: { '#pk': RECORDS_TABLE.partitionKey, '#sk': RECORDS_TABLE.sortKey },
      ExpressionAttributeValues: {
        ':pk': { S: device },
        ':since': { S: plan.bounds.since.slice(0, 10) },
        ':until': { S: plan.bounds.until },
      },
    });
  }

  /** Every event of the provider in the plan's times, read by a scan of the table, filtered. */
  private async *scanEvents(plan: EventPlan): AsyncGenerator<StoredEvent[]> {
    for await (const page of scanPages(this.client, {
      TableName: this.tableName,
      FilterExpression: '#kind = :event AND #provider = :provider AND #created BETWEEN :since AND :until',
      ExpressionAttributeNames: { '#kind': 'kind', '#provider': 'provider', '#created': 'created_at' },
      ExpressionAttributeValues: {
        ':event': { S: 'event' },
        ':provider': { S: plan.provider },
        ':since': { S: plan.bounds.since },
        ':until': { S: plan.bounds.until },
      },
    })) {
      if (page.length > 0) yield page.map(fromEventItem);
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

type Range = TimeBounds;
type IndexShape = { name: string; partitionKey: string; sortKey: string };
/** A base-table partition family (its shards are read), with the filters within it. */
type FamilyRead = [family: string, filters: Filter[]];
/** An index's partitions, with the filters within them. */
type IndexRead = [index: IndexShape, partitionKeys: string[], filters: Filter[]];
/** The partitions of one day. */
interface DayPartitions {
  families: FamilyRead[];
  indexed: IndexRead[];
}
type SourcesBy<By extends EventSources['by']> = Extract<EventSources, { by: By }>;

/** Events gathered from several partitions: one copy of each, newest first, at most `limit`. */
class Results {
  private readonly byId = new Map<string, StoredEvent>();
  constructor(readonly limit: number) {}
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

/**
 * `true` when a campaign-day has stored events of `type`: listed in its types (stored, maybe not counted yet), or
 * counted. Its own count only, since the type is the caller's text and `constructor` or `toString` must not find
 * what every object inherits.
 */
const countsType = (counter: CounterItem, type: string) =>
  counter.types.includes(type) || (Object.hasOwn(counter.counts, type) && (counter.counts[type] ?? 0) > 0);

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
