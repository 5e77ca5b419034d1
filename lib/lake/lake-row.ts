import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { DEFAULT_APP } from '../events/app-name';
import { type CountedKind, type EventRecord, kindOf } from '../events/event-record';
import { currentCountedKinds } from '../receive/event-policy';
import {
  countedAsOf,
  counterKeyOf,
  dayOf,
  eventPartitionKey,
  fromEventItem,
  RECORDS_TABLE,
} from '../table/records-table';

/**
 * One stored event as the lake keeps it: one row per first insert, flat, every value a string or a boolean. This
 * type is the lake table's schema ({@link LAKE_COLUMNS} gives it column by column, with the Iceberg types the
 * deployed table declares); the deployed stream transform and the local sink both build it with
 * {@link lakeRowOf}, so both lakes hold the same rows.
 */
export interface LakeRow {
  /** The record id: the same on every delivery of the event (a row delivered twice carries the same id). */
  id: string;
  provider: string;
  event: string;
  /** UTC day of `created_at` (`YYYY-MM-DD`): the day partition, and the day `events stats` counts it on. */
  day: string;
  /** When the event happened (ISO 8601, UTC, milliseconds), as the record has it. */
  created_at: string;
  /** When this receiver accepted the delivery that stored it. */
  received_at: string;
  account_id: string | null;
  campaign_id: string | null;
  campaign_name: string | null;
  material_id: string | null;
  material_name: string | null;
  activity_id: string | null;
  device_id: string | null;
  platform: string | null;
  /** `geolocation.viewer_country`, `viewer_region` and `viewer_city`. */
  country: string | null;
  region: string | null;
  city: string | null;
  /**
   * The campaign counter the event moves (`impressions` or `clicks`, as its provider counted it when it was
   * received), `null` when it moves none: a type the provider did not count, an event of no campaign, or one
   * keyed by id.
   */
  counter: 'impressions' | 'clicks' | null;
  /**
   * `true` when the provider's payloads carry no time of their own (`created_at` is the receipt time): such an
   * event has no campaign-day, so no campaign counts it.
   */
  keyed_by_id: boolean;
  /** The record's free-form metadata as JSON text. */
  metadata: string | null;
  /**
   * The provider's app the delivery came for (its URL's app segment), `default` for the provider's own URL and
   * for a record stored before records named their app: the dashboard's app breakdown counts it under the same.
   * Rows the lake kept before it had this column read it as `null`.
   */
  app: string;
}

/** A column of the lake table: its name, its Iceberg type, whether every row has a value, what it holds. */
export interface LakeColumn {
  name: keyof LakeRow;
  type: 'string' | 'boolean';
  required: boolean;
  doc: string;
}

/** The lake table's columns in order; their position (from 1) is their Iceberg field id. */
export const LAKE_COLUMNS: readonly LakeColumn[] = [
  { name: 'id', type: 'string', required: true, doc: 'record id, the same on every delivery of the event' },
  { name: 'provider', type: 'string', required: true, doc: 'webhook provider (partition)' },
  { name: 'event', type: 'string', required: true, doc: 'canonical event type' },
  { name: 'day', type: 'string', required: true, doc: 'UTC day of created_at, YYYY-MM-DD (partition)' },
  { name: 'created_at', type: 'string', required: true, doc: 'event time, ISO 8601 UTC' },
  { name: 'received_at', type: 'string', required: true, doc: 'receipt time, ISO 8601 UTC' },
  { name: 'account_id', type: 'string', required: false, doc: 'account' },
  { name: 'campaign_id', type: 'string', required: false, doc: 'campaign' },
  { name: 'campaign_name', type: 'string', required: false, doc: 'campaign name in this event' },
  { name: 'material_id', type: 'string', required: false, doc: 'material' },
  { name: 'material_name', type: 'string', required: false, doc: 'material name in this event' },
  { name: 'activity_id', type: 'string', required: false, doc: 'activity' },
  { name: 'device_id', type: 'string', required: false, doc: 'device' },
  { name: 'platform', type: 'string', required: false, doc: 'platform' },
  { name: 'country', type: 'string', required: false, doc: 'geolocation.viewer_country' },
  { name: 'region', type: 'string', required: false, doc: 'geolocation.viewer_region' },
  { name: 'city', type: 'string', required: false, doc: 'geolocation.viewer_city' },
  {
    name: 'counter',
    type: 'string',
    required: false,
    doc: 'campaign counter moved: impressions, clicks or null',
  },
  { name: 'keyed_by_id', type: 'boolean', required: true, doc: 'no event time of its own: no campaign-day' },
  { name: 'metadata', type: 'string', required: false, doc: 'metadata as JSON text' },
  // Iceberg numbers columns by position: a new column goes last, so the deployed table's earlier ids stay. Every
  // row made now has an app, but the column is optional: Iceberg adds no required column to a table whose files
  // were written without it, and those rows read it as null.
  { name: 'app', type: 'string', required: false, doc: "provider's app the delivery came for, or default" },
];

/** The columns the lake table is partitioned by (identity), in order: the day, then the provider. */
export const LAKE_PARTITION_COLUMNS = ['day', 'provider'] as const satisfies readonly (keyof LakeRow)[];

/** The lake table's name in its database; the shipped queries read it by this name. */
export const LAKE_TABLE_NAME = 'events';

/**
 * The lake row of a stored event.
 * @param keyedById whether the event is keyed by its id alone (its policy's `keyed_by_id`).
 * @param countedAs what the event counted as when received (its policy's `counted_as`, or what its item kept),
 *   `null` for nothing; `undefined` for an event stored before that was kept: its provider's current code tells.
 * @returns the row; never throws.
 */
export function lakeRowOf(record: EventRecord, keyedById = false, countedAs?: CountedKind | null): LakeRow {
  const moves = counterKeyOf(record, keyedById) !== undefined;
  return {
    id: record.id,
    provider: record.provider,
    event: record.event,
    day: dayOf(record.created_at),
    created_at: record.created_at,
    received_at: record.received_at,
    account_id: record.account_id,
    campaign_id: record.campaign_id,
    campaign_name: record.campaign_name,
    material_id: record.material_id,
    material_name: record.material_name,
    activity_id: record.activity_id,
    device_id: record.device_id,
    platform: record.platform,
    country: record.geolocation?.viewer_country ?? null,
    region: record.geolocation?.viewer_region ?? null,
    city: record.geolocation?.viewer_city ?? null,
    counter: moves ? counterOf(record, countedAs) : null,
    keyed_by_id: keyedById,
    metadata: record.metadata === null ? null : JSON.stringify(record.metadata),
    // A record received before records named their app came to the provider's own URL, as the counters take it.
    app: record.app || DEFAULT_APP,
  };
}

/** What an event counted as: as received when that was kept, else as its provider's current code counts it. */
function counterOf(record: EventRecord, countedAs: CountedKind | null | undefined): LakeRow['counter'] {
  if (countedAs !== undefined) return countedAs;
  return kindOf(currentCountedKinds(record.provider), record.event) ?? null;
}

/** The prefix of the partition key of an event keyed by its id alone (`EVENT#<id>`). */
const KEYED_BY_ID_PREFIX = eventPartitionKey('');

/**
 * The lake row of a stored event item, as the table's stream carries it (its new image); the item's key tells
 * whether it is keyed by id, and the item what the event counted as when it was received (see `countedAsOf`).
 * `undefined` for any item that is not an event (a counter, a marker, a quarantined delivery, a state): those
 * never reach the lake.
 */
export function lakeRowOfItem(item: Record<string, AttributeValue>): LakeRow | undefined {
  if (item.kind?.S !== 'event') return undefined;
  const keyedById = item[RECORDS_TABLE.partitionKey]?.S?.startsWith(KEYED_BY_ID_PREFIX) ?? false;
  return lakeRowOf(fromEventItem(item), keyedById, countedAsOf(item));
}

/** A row's partition as a path, Hive style: `day=<day>/provider=<provider>` (the provider URI-encoded). */
export const lakePartitionPath = (row: Pick<LakeRow, 'day' | 'provider'>) =>
  `day=${row.day}/provider=${encodeURIComponent(row.provider)}`;
