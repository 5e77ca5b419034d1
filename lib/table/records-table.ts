import { createHash } from 'node:crypto';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { EventRecord, QueueMessage } from '../events/event-record';
import { findProvider } from '../providers';

/**
 * The records table: one item per event, keyed so that the conditional put that stores an event also rejects
 * its duplicates (no idempotency table, no read-then-write), plus per campaign-day counters. Campaign events live in
 * campaign-day-shard partitions, so a busy campaign spreads over `shards` partitions and its counters can be
 * recounted exactly with consistent reads. Three sparse global secondary indexes serve the other patterns.
 *
 * | access pattern                           | index | partition key                                   | sort key              |
 * |------------------------------------------|-------|-------------------------------------------------|-----------------------|
 * | a counted campaign event (and its dedup) | table | `CAMPAIGN#<provider>#<campaign>#<day>#<shard>`  | `E#<created_at>#<id>` |
 * | a device seen by a campaign on a day     | table | `CAMPAIGN#<provider>#<campaign>#<day>#<shard>`  | `D#<device_id>`       |
 * | counters of a campaign, day by day       | table | `STATS#<provider>#<campaign>`                   | `<day>`               |
 * | any other event (and its dedup check)    | table | `EVENT#<id>`                                    | `RECORD`              |
 * | a quarantined delivery                   | table | `QUARANTINE#<id>`                               | `RECORD`              |
 * | a provider's current state of an entity  | table | `STATE#<provider>#<key>`                        | `RECORD`              |
 * | events of one campaign in a time range   | gsi1  | `CAMPAIGN#<provider>#<campaign>#<shard>`        | `<created_at>#<id>`   |
 * | quarantined records, oldest first        | gsi1  | `QUARANTINE`                                    | `<received_at>#<id>`  |
 * | events of one device in a time range     | gsi2  | `DEVICE#<provider>#<device_id>`                 | `<created_at>#<id>`   |
 * | counters claimed since the last repair   | gsi2  | `STATS#PENDING`                                 | `<day>#<provider>#<campaign>` |
 * | events of one type on one day            | gsi3  | `TYPE#<provider>#<event>#<day>#<shard>`         | `<created_at>#<id>`   |
 * | counters of every campaign on one day    | gsi3  | `STATSDAY#<provider>#<day>`                     | `<campaign>`          |
 *
 * `<shard>` is `0` … `shards - 1`, from a hash of the record id (a device marker: of the device id).
 */
export const RECORDS_TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  indexes: {
    byCampaign: { name: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
    byDevice: { name: 'gsi2', partitionKey: 'gsi2pk', sortKey: 'gsi2sk' },
    byTypeAndDay: { name: 'gsi3', partitionKey: 'gsi3pk', sortKey: 'gsi3sk' },
  },
} as const;

/** How records are laid out: shard count and retention. Both sides (writer and reader) must agree. */
export interface TableLayout {
  /** Partitions a campaign's events spread over; one DynamoDB partition takes about 1,000 writes/s. */
  shards: number;
  /** Days an event record is kept (TTL); `null` keeps records for ever. Counters are always kept. */
  retentionDays: number | null;
}

export const DEFAULT_LAYOUT: TableLayout = { shards: 1, retentionDays: null };

/** The events of `provider` that move campaign counters, and which counter each moves. */
export function countedEvents(provider: string): Readonly<Record<string, 'impressions' | 'clicks'>> {
  return findProvider(provider)?.counted ?? {};
}

/** The counter a record moves, if any: only events of a campaign that its provider counts. */
export function counterOf(record: EventRecord): 'impressions' | 'clicks' | undefined {
  return record.campaign_id ? countedEvents(record.provider)[record.event] : undefined;
}

/**
 * Attributes copied into every index besides the keys: the record fields, not the raw body, so an index item
 * stays well under 1 KB (one write unit) whatever the body's size.
 */
export const PROJECTED_ATTRIBUTES = [
  'kind',
  'id',
  'provider',
  'event',
  'account_id',
  'campaign_id',
  'campaign_name',
  'material_id',
  'material_name',
  'activity_id',
  'device_id',
  'platform',
  'created_at',
  'received_at',
  'metadata',
  'geolocation',
  'reason',
  'impressions',
  'clicks',
  'unique_devices',
];

/** Epoch seconds after which DynamoDB may delete an item (TTL); unset items are kept. */
export const TTL_ATTRIBUTE = 'expires_at';

export const RECORD_SORT_KEY = 'RECORD';
export const QUARANTINE_PARTITION = 'QUARANTINE';

export const eventPartitionKey = (id: string) => `EVENT#${id}`;
export const quarantinePartitionKey = (id: string) => `QUARANTINE#${id}`;
export const campaignDayPartitionKey = (provider: string, campaignId: string, day: string, shard: number) =>
  `CAMPAIGN#${provider}#${campaignId}#${day}#${shard}`;
export const campaignPartitionKey = (provider: string, campaignId: string, shard: number) =>
  `CAMPAIGN#${provider}#${campaignId}#${shard}`;
export const devicePartitionKey = (provider: string, deviceId: string) => `DEVICE#${provider}#${deviceId}`;
export const typeDayPartitionKey = (provider: string, event: string, day: string, shard: number) =>
  `TYPE#${provider}#${event}#${day}#${shard}`;
export const statePartitionKey = (provider: string, key: string) => `STATE#${provider}#${key}`;
export const statsPartitionKey = (provider: string, campaignId: string) => `STATS#${provider}#${campaignId}`;
export const statsDayPartitionKey = (provider: string, day: string) => `STATSDAY#${provider}#${day}`;
/**
 * The `gsi2` partition listing counter items claimed since the repair last looked at them: a claim puts its
 * item there, the repair takes it out once no claim is left.
 */
export const PENDING_COUNTERS_PARTITION = 'STATS#PENDING';
export const pendingCounterSortKey = (provider: string, campaignId: string, day: string) =>
  `${day}#${provider}#${campaignId}`;
export const EVENT_SORT_PREFIX = 'E#';
export const DEVICE_SORT_PREFIX = 'D#';
export const eventSortKey = (createdAt: string, id: string) => `${EVENT_SORT_PREFIX}${createdAt}#${id}`;
export const deviceSortKey = (deviceId: string) => `${DEVICE_SORT_PREFIX}${deviceId}`;

/**
 * The shard of a key: a stable hash of it modulo `shards`, so the same event always lands on the same shard
 * (its dedup check depends on it).
 */
export function shardOf(key: string, shards: number): number {
  if (shards <= 1) return 0;
  return createHash('sha256').update(key).digest().readUInt32BE(0) % shards;
}

/** The UTC day (`YYYY-MM-DD`) of an ISO 8601 timestamp. */
export const dayOf = (isoTimestamp: string) => isoTimestamp.slice(0, 10);

/**
 * `true` when the record moves a campaign counter. Only those live in campaign-day partitions: their day comes
 * from `created_at`, which their providers keep across retries, and a recount reads them there.
 */
export const isCountedEvent = (record: EventRecord): record is EventRecord & { campaign_id: string } =>
  counterOf(record) !== undefined;

const S = (value: string): AttributeValue => ({ S: value });

/** String attributes of the record, written only when they have a value (absent means null; saves bytes). */
const STRING_FIELDS = [
  'id',
  'provider',
  'event',
  'account_id',
  'campaign_id',
  'campaign_name',
  'material_id',
  'material_name',
  'activity_id',
  'device_id',
  'platform',
  'created_at',
  'received_at',
] as const satisfies readonly (keyof EventRecord)[];

/** The primary key of the item that stores `message` (and rejects its duplicates). */
export function itemKey(message: QueueMessage, layout: TableLayout): { pk: string; sk: string } {
  const record = message.record;
  if (message.kind === 'quarantine') return { pk: quarantinePartitionKey(record.id), sk: RECORD_SORT_KEY };
  const event = message.record;
  if (!isCountedEvent(event)) return { pk: eventPartitionKey(event.id), sk: RECORD_SORT_KEY };
  const shard = shardOf(event.id, layout.shards);
  return {
    pk: campaignDayPartitionKey(event.provider, event.campaign_id, dayOf(event.created_at), shard),
    sk: eventSortKey(event.created_at, event.id),
  };
}

/**
 * Retention counts from when the event was received: an event created long before it arrived (a late redrive,
 * a backfill) would otherwise be written already expired and deleted within days.
 */
function expiresAt(receivedAt: string, layout: TableLayout): AttributeValue | undefined {
  if (layout.retentionDays === null) return undefined;
  return { N: String(Math.floor(Date.parse(receivedAt) / 1000) + layout.retentionDays * 86_400) };
}

/**
 * Turns a queue message into the table item that stores it, with the key attributes of every index it
 * belongs to. `metadata` and `geolocation` are kept as JSON strings: exact, and free of DynamoDB's limits on
 * numbers and empty sets.
 */
export function toItem(
  message: QueueMessage,
  layout: TableLayout = DEFAULT_LAYOUT,
): Record<string, AttributeValue> {
  const { pk, sk } = itemKey(message, layout);
  const raw: Record<string, AttributeValue> = message.raw_ref
    ? { raw_ref: S(message.raw_ref), raw_encoding: S(message.raw_encoding) }
    : { raw: S(message.raw), raw_encoding: S(message.raw_encoding) };
  if (message.kind === 'quarantine') {
    const { id, provider, reason, received_at } = message.record;
    return {
      pk: S(pk),
      sk: S(sk),
      kind: S('quarantine'),
      id: S(id),
      provider: S(provider),
      reason: S(reason),
      received_at: S(received_at),
      gsi1pk: S(QUARANTINE_PARTITION),
      gsi1sk: S(`${received_at}#${id}`),
      ...raw,
    };
  }
  const record = message.record;
  const item: Record<string, AttributeValue> = { pk: S(pk), sk: S(sk), kind: S('event') };
  for (const field of STRING_FIELDS) {
    const value = record[field];
    if (value !== null && value !== '') item[field] = S(value);
  }
  if (record.metadata !== null) item.metadata = S(JSON.stringify(record.metadata));
  if (record.geolocation !== null) item.geolocation = S(JSON.stringify(record.geolocation));
  const shard = shardOf(record.id, layout.shards);
  const sortKey = S(`${record.created_at}#${record.id}`);
  if (record.campaign_id) {
    item.gsi1pk = S(campaignPartitionKey(record.provider, record.campaign_id, shard));
    item.gsi1sk = sortKey;
  }
  if (record.device_id) {
    item.gsi2pk = S(devicePartitionKey(record.provider, record.device_id));
    item.gsi2sk = sortKey;
  }
  item.gsi3pk = S(typeDayPartitionKey(record.provider, record.event, dayOf(record.created_at), shard));
  item.gsi3sk = sortKey;
  const expires = expiresAt(record.received_at, layout);
  if (expires) item[TTL_ATTRIBUTE] = expires;
  Object.assign(item, raw);
  return item;
}

/** The marker that a device was seen by a campaign on a day: its first insert moves `unique_devices`. */
export function deviceMarkerItem(
  record: EventRecord & { campaign_id: string; device_id: string },
  layout: TableLayout,
): Record<string, AttributeValue> {
  const day = dayOf(record.created_at);
  const item: Record<string, AttributeValue> = {
    pk: S(
      campaignDayPartitionKey(
        record.provider,
        record.campaign_id,
        day,
        shardOf(record.device_id, layout.shards),
      ),
    ),
    sk: S(deviceSortKey(record.device_id)),
    kind: S('device'),
  };
  const expires = expiresAt(record.received_at, layout);
  if (expires) item[TTL_ATTRIBUTE] = expires;
  return item;
}

const str = (item: Record<string, AttributeValue>, name: string): string | null => item[name]?.S ?? null;
const json = (item: Record<string, AttributeValue>, name: string) => {
  const value = item[name]?.S;
  return value === undefined ? null : JSON.parse(value);
};

/** A stored event as the query CLI prints it: every record field, absent ones as `null`. */
export type StoredEvent = EventRecord;

/** A stored quarantined delivery with its raw body decoded to text. */
export interface StoredQuarantine {
  id: string;
  provider: string;
  reason: string;
  received_at: string;
  raw: string;
  raw_encoding: 'utf8' | 'base64';
  /** Where the raw body is, when it was too large to keep inline. */
  raw_ref?: string;
}

/** @returns the event record stored in `item` (the inverse of {@link toItem}). */
export function fromEventItem(item: Record<string, AttributeValue>): StoredEvent {
  return {
    id: str(item, 'id') ?? '',
    provider: str(item, 'provider') ?? '',
    event: str(item, 'event') ?? '',
    account_id: str(item, 'account_id'),
    campaign_id: str(item, 'campaign_id'),
    campaign_name: str(item, 'campaign_name'),
    material_id: str(item, 'material_id'),
    material_name: str(item, 'material_name'),
    activity_id: str(item, 'activity_id'),
    device_id: str(item, 'device_id'),
    platform: str(item, 'platform'),
    created_at: str(item, 'created_at') ?? '',
    received_at: str(item, 'received_at') ?? '',
    metadata: json(item, 'metadata'),
    geolocation: json(item, 'geolocation'),
  };
}

/** @returns the quarantined delivery stored in `item`. */
export function fromQuarantineItem(item: Record<string, AttributeValue>): StoredQuarantine {
  return {
    id: str(item, 'id') ?? '',
    provider: str(item, 'provider') ?? '',
    reason: str(item, 'reason') ?? '',
    received_at: str(item, 'received_at') ?? '',
    raw: str(item, 'raw') ?? '',
    raw_encoding: str(item, 'raw_encoding') === 'base64' ? 'base64' : 'utf8',
    ...(item.raw_ref?.S ? { raw_ref: item.raw_ref.S } : {}),
  };
}
