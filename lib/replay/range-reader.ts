import type { AttributeValue, DynamoDBClient, QueryCommandInput } from '@aws-sdk/client-dynamodb';
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { type EventPlan, type Filter, planEvents, type TimeBounds } from '../queries/event-plan';
import { dayCampaigns } from '../table/counter-items';
import { callOptions } from '../table/deadline';
import {
  campaignDayFamily,
  campaignIndexKeys,
  EVENT_SORT_PREFIX,
  fromEventItem,
  RECORDS_TABLE,
  type StoredEvent,
  shardKeys,
  statsPartitionKey,
  type TableLayout,
  typeDayFamily,
  typeDayIndexKeys,
} from '../table/records-table';
import { getItems, keyOf, queryItems } from '../table/table-io';

/** The stored events a replay sends: those created within `since`…`until` (both included), filtered. */
export interface ReplayRange {
  /** ISO 8601 date-time, milliseconds, UTC (as records keep `created_at`). */
  since: string;
  until: string;
  /** The providers whose events are read (each its own partitions). */
  providers: readonly string[];
  /**
   * The event types of each provider, as the caller's providers have them: a provider's events of no campaign
   * are read from its types' partitions, so a type left out is not read. Needed for every provider of a range
   * that names neither a `type` nor a `campaign`: the reader never asks the provider registry, whose current
   * list may not be the one the events were stored under, and a range without them is refused.
   */
  eventTypes?: Readonly<Record<string, readonly string[]>> | undefined;
  campaign?: string | undefined;
  type?: string | undefined;
}

/**
 * Where a source stands among the range's sources, which are read in this order: provider, day, kind (a type's
 * partitions, a type's events keyed by id, a campaign's partitions, a campaign's events keyed by id), name (the
 * type or campaign), shard.
 */
export type SourcePosition = [provider: string, day: string, kind: number, name: string, shard: number];

/**
 * How far a replay has read: every source before `source` is read whole, and `source` itself up to `after` (the
 * last key of the page read; `null` when it is read whole). JSON, for a checkpoint.
 */
export interface ReplayCursor {
  source: SourcePosition;
  after: Record<string, AttributeValue> | null;
}

/** One page of a source: its events, and the cursor once they are sent. */
export interface RangePage {
  events: StoredEvent[];
  cursor: ReplayCursor;
}

/** The day sorted after every real one, for the sources that are not split by day (a campaign's index). */
const AFTER_EVERY_DAY = '~';
const TYPE_FAMILY = 0;
const TYPE_INDEX = 1;
const CAMPAIGN_FAMILY = 2;
const CAMPAIGN_INDEX = 3;

/** Orders two positions as the sources are read (strings by UTF-16 code units, as the sort of names). */
export function comparePositions(a: SourcePosition, b: SourcePosition): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as string | number;
    const y = b[i] as string | number;
    if (x < y) return -1;
    if (x > y) return 1;
  }
  return 0;
}

const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The event types a range reads a provider's type partitions of (see `ReplayRange.eventTypes`).
 * @throws when the range gives none for the provider: reading none would leave its events of no campaign out
 *   without a word.
 */
function typesOf(range: ReplayRange, provider: string): readonly string[] {
  const given = range.eventTypes;
  const types = given && Object.hasOwn(given, provider) ? given[provider] : undefined;
  if (!types)
    throw new Error(
      `replay range gives no event types for provider ${JSON.stringify(provider)} (nor a type or a campaign): its events of no campaign are read by type`,
    );
  return types;
}

/** A provider's plan of a range, read day by day: a campaign's days, or each day's types and campaigns. */
type DayPlan = EventPlan & { sources: { by: 'campaign' | 'type' | 'every type and campaign' } };

/**
 * Plans a provider's part of a range as the queries plan theirs, oldest first, never by a scan: a replay resumes
 * at any partition of any day, which a scan's pages cannot give.
 */
function planRead(range: ReplayRange, provider: string): DayPlan {
  const { campaign, type, since, until } = range;
  const plan = planEvents({ provider, campaign, type, since, until }, 'oldest first', undefined, {
    scan: 'never',
  });
  const { sources } = plan;
  if (sources.by === 'campaign' || sources.by === 'type' || sources.by === 'every type and campaign')
    return { ...plan, sources };
  throw new Error(`a replay range cannot be read by ${sources.by}`);
}

/** One partition's events in the range: a base-table partition or an index partition. */
interface Source {
  position: SourcePosition;
  input: QueryCommandInput;
}

/** The table a {@link RangeReader} reads, its layout, and the size of its pages. */
export interface RangeReaderOptions {
  client: DynamoDBClient;
  tableName: string;
  layout: TableLayout;
  /** Items read per query page (default 100): a checkpoint is written after each page. */
  pageSize?: number;
}

/**
 * Reads the stored events of a time range in a fixed order, page by page, from any cursor it gave: the range's
 * days oldest first, and each day's partitions one after the other, so that a replay stopped anywhere resumes
 * where it stopped. Each event is in exactly one partition read, so each comes once per read of the range.
 *
 * Nothing scans the table: a day's campaigns are those with a counter item that day (the consumer registers it
 * when it stores their first event), a day's other events are in their type's partitions, and events keyed by id
 * alone are read from the indexes that list them by type and day (or, for one campaign, by campaign).
 *
 * Every event stored before a read of the range began is in it. One stored while the range is read is in it when
 * its partition is read after it was written: a replay of a range still receiving events may leave some out.
 */
export class RangeReader {
  private readonly pageSize: number;

  constructor(private readonly options: RangeReaderOptions) {
    this.pageSize = options.pageSize ?? 100;
  }

  /**
   * The range's events, page by page, from `from` on (from the start without it).
   * @throws before any page, when the range reads by type and gives no event types for one of its providers
   *   (see `ReplayRange.eventTypes`); the SDK's error when a page cannot be read.
   */
  async *pages(range: ReplayRange, from?: ReplayCursor): AsyncGenerator<RangePage> {
    if (!range.campaign && !range.type) for (const provider of range.providers) typesOf(range, provider);
    for await (const source of this.sources(range, from)) {
      const resume = from && comparePositions(source.position, from.source) === 0;
      if (resume && from.after === null) continue;
      let start = resume ? (from.after ?? undefined) : undefined;
      do {
        const page = await this.options.client.send(
          new QueryCommand({ ...source.input, Limit: this.pageSize, ExclusiveStartKey: start }),
          callOptions(),
        );
        start = page.LastEvaluatedKey;
        const items = page.Items ?? [];
        yield {
          events: source.input.IndexName ? await this.wholeItems(items) : items.map(fromEventItem),
          cursor: { source: source.position, after: start ?? null },
        };
      } while (start);
    }
  }

  /**
   * The events of index entries, read whole from the table, in the entries' order: the indexes project a fixed
   * list of attributes (part of their deployed definition), which leaves out the record's `normalizer`, `app` and
   * `trace_id`. Eventually consistent reads, as the index's own are; an entry whose item is gone meanwhile is
   * sent as the index has it.
   */
  private async wholeItems(entries: Record<string, AttributeValue>[]): Promise<StoredEvent[]> {
    if (entries.length === 0) return [];
    const key = (item: Record<string, AttributeValue>) =>
      JSON.stringify([item[RECORDS_TABLE.partitionKey]?.S, item[RECORDS_TABLE.sortKey]?.S]);
    const unique = new Map(entries.map((entry) => [key(entry), keyOf(entry)]));
    const items = await getItems(this.options.client, this.options.tableName, [...unique.values()], false);
    const byKey = new Map(items.map((item) => [key(item), item]));
    return entries.map((entry) => fromEventItem(byKey.get(key(entry)) ?? entry));
  }

  /** The range's sources in order, those before `from` left out. */
  private async *sources(range: ReplayRange, from?: ReplayCursor): AsyncGenerator<Source> {
    const providers = [...range.providers].sort(byCodeUnits);
    for (const provider of providers) {
      if (from && provider < from.source[0]) continue;
      const plan = planRead(range, provider);
      const days = await this.daysOf(plan);
      for (const day of days) {
        if (from && comparePositions([provider, day, 99, '', 0], from.source) < 0) continue;
        const sources = await this.daySources(plan, day, range);
        sources.sort((a, b) => comparePositions(a.position, b.position));
        for (const source of sources) {
          if (from && comparePositions(source.position, from.source) < 0) continue;
          yield source;
        }
      }
    }
  }

  /** The days a plan reads, oldest first: a campaign's days with events, then its index after every day. */
  private async daysOf(plan: DayPlan): Promise<string[]> {
    const { provider, sources } = plan;
    if (sources.by !== 'campaign') return sources.days;
    const days = await this.campaignDays(provider, sources.campaign, sources.firstDay, sources.lastDay);
    return [...days, AFTER_EVERY_DAY];
  }

  /** The days of a campaign with a counter item in `first`…`last`, oldest first. */
  private async campaignDays(provider: string, campaign: string, first: string, last: string) {
    const items = await queryItems(this.options.client, {
      TableName: this.options.tableName,
      KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :first AND :last',
      ProjectionExpression: '#sk',
      ExpressionAttributeNames: { '#pk': RECORDS_TABLE.partitionKey, '#sk': RECORDS_TABLE.sortKey },
      ExpressionAttributeValues: {
        ':pk': { S: statsPartitionKey(provider, campaign) },
        ':first': { S: first },
        ':last': { S: last },
      },
      ConsistentRead: true,
    });
    return items.map((item) => item[RECORDS_TABLE.sortKey]?.S ?? '').filter(Boolean);
  }

  /** One day's sources of a provider's plan (for one campaign, the day's shards, or its index after every day). */
  private async daySources(plan: DayPlan, day: string, range: ReplayRange): Promise<Source[]> {
    const { layout } = this.options;
    const { provider, bounds, sources: by } = plan;
    const sources: Source[] = [];
    if (by.by === 'campaign') {
      const { campaign, filters } = by;
      if (day === AFTER_EVERY_DAY) {
        campaignIndexKeys(provider, campaign, layout).forEach((key, shard) => {
          sources.push({
            position: [provider, day, CAMPAIGN_INDEX, campaign, shard],
            input: this.indexInput(RECORDS_TABLE.indexes.byCampaign, key, bounds, filters),
          });
        });
        return sources;
      }
      shardKeys(campaignDayFamily(provider, campaign, day), layout).forEach((key, shard) => {
        sources.push({
          position: [provider, day, CAMPAIGN_FAMILY, campaign, shard],
          input: this.familyInput(key, bounds, filters),
        });
      });
      return sources;
    }
    const [types, filters, campaignFilters] =
      by.by === 'type' ? [[by.type], by.filters, by.campaignFilters] : [typesOf(range, provider), [], []];
    for (const type of types) {
      shardKeys(typeDayFamily(provider, type, day), layout).forEach((key, shard) => {
        sources.push({
          position: [provider, day, TYPE_FAMILY, type, shard],
          input: this.familyInput(key, bounds, filters),
        });
      });
      typeDayIndexKeys(provider, type, day, layout).forEach((key, shard) => {
        sources.push({
          position: [provider, day, TYPE_INDEX, type, shard],
          input: this.indexInput(RECORDS_TABLE.indexes.byTypeAndDay, key, bounds, filters),
        });
      });
    }
    for (const campaign of await dayCampaigns(this.options.client, this.options.tableName, provider, day)) {
      shardKeys(campaignDayFamily(provider, campaign, day), layout).forEach((key, shard) => {
        sources.push({
          position: [provider, day, CAMPAIGN_FAMILY, campaign, shard],
          input: this.familyInput(key, bounds, campaignFilters),
        });
      });
    }
    return sources;
  }

  /** A base-table partition's events created in the range, oldest first. */
  private familyInput(
    partitionKey: string,
    bounds: TimeBounds,
    filters: readonly Filter[],
  ): QueryCommandInput {
    return this.rangeInput(
      { pk: RECORDS_TABLE.partitionKey, sk: RECORDS_TABLE.sortKey },
      partitionKey,
      `${EVENT_SORT_PREFIX}${bounds.since}`,
      // `E#<created_at>#<id>`: the bound one character past `until` takes every id of its last millisecond.
      `${EVENT_SORT_PREFIX}${bounds.until}`,
      filters,
    );
  }

  /** An index partition's events (keyed by id) created in the range, oldest first. */
  private indexInput(
    index: { name: string; partitionKey: string; sortKey: string },
    partitionKey: string,
    bounds: TimeBounds,
    filters: readonly Filter[],
  ): QueryCommandInput {
    return {
      ...this.rangeInput(
        { pk: index.partitionKey, sk: index.sortKey },
        partitionKey,
        bounds.since,
        bounds.until,
        filters,
      ),
      IndexName: index.name,
    };
  }

  private rangeInput(
    keys: { pk: string; sk: string },
    partitionKey: string,
    low: string,
    high: string,
    filters: readonly Filter[],
  ): QueryCommandInput {
    const names: Record<string, string> = { '#pk': keys.pk, '#sk': keys.sk };
    const values: Record<string, AttributeValue> = {
      ':pk': { S: partitionKey },
      ':low': { S: low },
      ':high': { S: high },
    };
    filters.forEach(([attribute, value], i) => {
      names[`#f${i}`] = attribute;
      values[`:f${i}`] = { S: value };
    });
    return {
      TableName: this.options.tableName,
      KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :low AND :high',
      // Events only: a counter or marker never shares an event partition, but the filter costs nothing.
      FilterExpression: ['#kind = :event', ...filters.map((_, i) => `#f${i} = :f${i}`)].join(' AND '),
      ExpressionAttributeNames: { ...names, '#kind': 'kind' },
      ExpressionAttributeValues: { ...values, ':event': { S: 'event' } },
      ScanIndexForward: true,
    };
  }
}
