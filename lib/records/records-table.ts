import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { EventRecord, QueueMessage } from './event-record';

/**
 * The records table: one item per event, keyed so that the conditional put that stores an event also rejects
 * its duplicates (DESIGN.md decision 4). Three sparse global secondary indexes serve the access patterns:
 *
 * | access pattern                         | index | partition key                         | sort key             |
 * |----------------------------------------|-------|---------------------------------------|----------------------|
 * | one event by id                        | table | `EVENT#<id>`                          | `RECORD`             |
 * | events of one campaign in a time range | gsi1  | `CAMPAIGN#<provider>#<campaign_id>`   | `<created_at>#<id>`  |
 * | quarantined records, newest last       | gsi1  | `QUARANTINE`                          | `<received_at>#<id>` |
 * | events of one device in a time range   | gsi2  | `DEVICE#<provider>#<device_id>`       | `<created_at>#<id>`  |
 * | events of one type on one day          | gsi3  | `TYPE#<provider>#<event>#<YYYY-MM-DD>` | `<created_at>#<id>`  |
 *
 * Quarantined records live under their own key prefix, `QUARANTINE#<id>`.
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
];

/** Epoch seconds after which DynamoDB may delete an item (TTL); unset items are kept. */
export const TTL_ATTRIBUTE = 'expires_at';

export const RECORD_SORT_KEY = 'RECORD';
export const QUARANTINE_PARTITION = 'QUARANTINE';

export const eventPartitionKey = (id: string) => `EVENT#${id}`;
export const quarantinePartitionKey = (id: string) => `QUARANTINE#${id}`;
export const campaignPartitionKey = (provider: string, campaignId: string) =>
  `CAMPAIGN#${provider}#${campaignId}`;
export const devicePartitionKey = (provider: string, deviceId: string) => `DEVICE#${provider}#${deviceId}`;
export const typeDayPartitionKey = (provider: string, event: string, day: string) =>
  `TYPE#${provider}#${event}#${day}`;

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

/**
 * Turns a queue message into the table item that stores it, with the key attributes of every index it
 * belongs to. `metadata` and `geolocation` are kept as JSON strings: exact, and free of DynamoDB's limits on
 * numbers and empty sets.
 */
export function toItem(message: QueueMessage): Record<string, AttributeValue> {
  const raw = { raw: S(message.raw), raw_encoding: S(message.raw_encoding) };
  if (message.kind === 'quarantine') {
    const { id, provider, reason, received_at } = message.record;
    return {
      pk: S(quarantinePartitionKey(id)),
      sk: S(RECORD_SORT_KEY),
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
  const item: Record<string, AttributeValue> = {
    pk: S(eventPartitionKey(record.id)),
    sk: S(RECORD_SORT_KEY),
    kind: S('event'),
  };
  for (const field of STRING_FIELDS) {
    const value = record[field];
    if (value !== null && value !== '') item[field] = S(value);
  }
  if (record.metadata !== null) item.metadata = S(JSON.stringify(record.metadata));
  if (record.geolocation !== null) item.geolocation = S(JSON.stringify(record.geolocation));
  const sortKey = S(`${record.created_at}#${record.id}`);
  if (record.campaign_id) {
    item.gsi1pk = S(campaignPartitionKey(record.provider, record.campaign_id));
    item.gsi1sk = sortKey;
  }
  if (record.device_id) {
    item.gsi2pk = S(devicePartitionKey(record.provider, record.device_id));
    item.gsi2sk = sortKey;
  }
  item.gsi3pk = S(typeDayPartitionKey(record.provider, record.event, record.created_at.slice(0, 10)));
  item.gsi3sk = sortKey;
  Object.assign(item, raw);
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
  };
}
