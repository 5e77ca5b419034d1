import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';
import type { AttributeValue, UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { DEFAULT_APP } from '../events/app-name';
import {
  type CountedKind,
  type EventRecord,
  EventRecordSchema,
  type QueueMessage,
} from '../events/event-record';
import { firstNormalizer } from '../events/normalizer';
import { histogramOf, REACH_ATTRIBUTE, type ReachHistogram } from './reach';

/**
 * The records table, and the one place that knows its keys, prefixes, indexes and item shapes.
 *
 * One item per event, keyed so that the conditional put that stores an event also rejects its duplicates (no
 * idempotency table, no read-then-write). An event is stored where its main reads find it: a campaign's events
 * in campaign-day-shard partitions, any other event in event-type-day-shard partitions, sorted by time. Those
 * keys come from fields a retry repeats (`created_at` is the event's own time in every provider that has one);
 * they never depend on which events a provider counts. An event item carries no index key, so it costs one
 * write and, at most 1 KB (the raw body is kept compressed), one write unit.
 *
 * | access pattern                              | index | partition key                                  | sort key                    |
 * |---------------------------------------------|-------|------------------------------------------------|-----------------------------|
 * | a campaign's events in a time range         | table | `CAMPAIGN#<provider>#<campaign>#<day>#<shard>` | `E#<created_at>#<id>`       |
 * | other events of one type in a time range    | table | `TYPE#<provider>#<event>#<day>#<shard>`        | `E#<created_at>#<id>`       |
 * | where a device was seen, day by day         | table | `DEVICE#<provider>#<device_id>`                | `<day>#<partition family>`  |
 * | counters of a campaign, day by day          | table | `STATS#<provider>#<campaign>`                  | `<day>`                     |
 * | counters of every campaign on one day       | gsi3  | `STATSDAY#<provider>#<day>`                    | `<campaign>`                |
 * | a provider's day (reach, deliveries)        | table | `PROVIDERDAY#<provider>`                       | `<day>`                     |
 * | a device's days in each campaign            | table | `REACH#<provider>#<device_id>`                 | `<campaign>`                |
 * | counters claimed since the last repair      | gsi2  | `STATS#PENDING`                                | `<day>#<provider>#<campaign>` |
 * | a day's signal notices, for destinations    | table | `SIGNAL#<day>`                                 | `<signal>#<state>#<hash>`   |
 * | a quarantined delivery (and its dedup)      | table | `QUARANTINE#<id>`                              | `RECORD`                    |
 * | quarantined deliveries, oldest first        | gsi1  | `QUARANTINE`                                   | `<received_at>#<id>`        |
 * | a provider's current state of an entity     | table | `STATE#<provider>#<key>`                       | `RECORD`                    |
 * | an event whose time is its receipt          | table | `EVENT#<id>`                                   | `RECORD`                    |
 * | … by campaign / device / type and day       | gsi1 / gsi2 / gsi3 | as the partitions above, without `<day>` for campaign and device | `<created_at>#<id>` |
 *
 * `<shard>` is `0` … `shards - 1`, from a hash of the record id; a partition family is a partition key without
 * its shard (`CAMPAIGN#…#<day>`, `TYPE#…#<day>`). A device's markers tell which families hold its events, and
 * the first marker of a campaign-day's counted events (`counted`) moves that day's unique devices. The last
 * rows are for providers whose payloads have no time (Symphony): a retry arrives with another receipt time, so
 * such an event is keyed by its id and found through the indexes, as few as they are.
 *
 * A signal notice (see `notice-items.ts`) is written once, by the fold that raises its signal, with a conditional
 * put on a key made of what the signal is (`<hash>`), so a fold taken over or a later fold raising the same
 * signal writes nothing more; it carries no index key and is kept 7 days (TTL), long enough for a taken-over
 * fold and a day's late deliveries to find it.
 *
 * Counter items count events per event type (`n:<event>`) and unique devices (`devices`). Which event types
 * are impressions or clicks is decided when an event is received, by its provider's code of that day: the event
 * item keeps it (`counted_as`) and the counter item what its types counted as (`counted_kinds`), so a provider
 * whose counted map changes later moves no key and recounts nothing it counted before.
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

/** The layout of a writer or reader given none: one shard, records kept for ever. */
export const DEFAULT_LAYOUT: TableLayout = { shards: 1, retentionDays: null };

/**
 * Attributes copied into every index besides the keys. The list is part of the deployed indexes' definition
 * (changing it replaces them), so it stays as it is; counters use attribute names outside it (`n:<event>`,
 * `devices`), so that moving a count never rewrites an index entry.
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

/** The sort key of an item alone in its partition: a quarantine, a current state, an event keyed by id. */
export const RECORD_SORT_KEY = 'RECORD';
/** The `gsi1` partition listing quarantined deliveries, oldest first. */
export const QUARANTINE_PARTITION = 'QUARANTINE';

/** The partition of an event keyed by its id alone (its time is its receipt, so its time cannot key it). */
export const eventPartitionKey = (id: string) => `EVENT#${id}`;
/** The partition of one quarantined delivery: its conditional put also rejects the delivery's duplicates. */
export const quarantinePartitionKey = (id: string) => `QUARANTINE#${id}`;
/** The partition of one shard of a campaign's events on one UTC day. */
export const campaignDayPartitionKey = (provider: string, campaignId: string, day: string, shard: number) =>
  `CAMPAIGN#${provider}#${campaignId}#${day}#${shard}`;
/** The `gsi1` partition of one shard of a campaign's events keyed by id, all days together. */
export const campaignPartitionKey = (provider: string, campaignId: string, shard: number) =>
  `CAMPAIGN#${provider}#${campaignId}#${shard}`;
/**
 * A device's partition: in the table, its markers (which partition families hold its events, day by day); in
 * `gsi2`, its events keyed by id.
 */
export const devicePartitionKey = (provider: string, deviceId: string) => `DEVICE#${provider}#${deviceId}`;
/**
 * One shard of a provider's events of one type on one UTC day: in the table, its events of no campaign; in
 * `gsi3`, its events keyed by id.
 */
export const typeDayPartitionKey = (provider: string, event: string, day: string, shard: number) =>
  `TYPE#${provider}#${event}#${day}#${shard}`;
/** The partition of a provider's current state of one entity (e.g. a Symphony campaign's status). */
export const statePartitionKey = (provider: string, key: string) => `STATE#${provider}#${key}`;
/** The partition of a campaign's counter items, one per UTC day. */
export const statsPartitionKey = (provider: string, campaignId: string) => `STATS#${provider}#${campaignId}`;
/** The `gsi3` partition of every campaign's counter item on one UTC day of a provider. */
export const statsDayPartitionKey = (provider: string, day: string) => `STATSDAY#${provider}#${day}`;
/**
 * The `gsi2` partition listing counter items claimed since the repair last looked at them: a claim puts its
 * item there, the repair takes it out once no claim is left.
 */
export const PENDING_COUNTERS_PARTITION = 'STATS#PENDING';
/** A claimed counter item's sort key in {@link PENDING_COUNTERS_PARTITION}: day first, oldest first. */
export const pendingCounterSortKey = (provider: string, campaignId: string, day: string) =>
  `${day}#${provider}#${campaignId}`;
/** What every event item's sort key starts with: a query asks for events alone, or a time range of them. */
export const EVENT_SORT_PREFIX = 'E#';
/** An event item's sort key: sorted by its time, its id keeping two events of one instant apart. */
export const eventSortKey = (createdAt: string, id: string) => `${EVENT_SORT_PREFIX}${createdAt}#${id}`;
/**
 * The attribute a device marker carries once a counted event of its campaign-day has been seen; its value says
 * which batch set it (older markers hold `true`).
 */
export const COUNTED_ATTRIBUTE = 'counted';
/**
 * The attribute an event item carries to say which batch wrote it, so that a batch whose write was applied but
 * whose answer was lost knows the item for its own when the retried write finds it.
 */
export const WRITER_ATTRIBUTE = 'writer';

/** The attribute of a counter item that counts stored events of one type. */
export const COUNT_PREFIX = 'n:';
/** The counter item attribute that counts stored events of type `event`. */
export const countAttribute = (event: string) => `${COUNT_PREFIX}${event}`;
/** The attribute of a counter item that counts unique devices. */
export const DEVICES_ATTRIBUTE = 'devices';
/** The attribute of a counter item that lists the event types its campaign-day has stored (counted yet or not). */
export const TYPES_ATTRIBUTE = 'types';
/** The attribute of a counter item that keeps the campaign's name (the latest batch's). */
export const NAME_ATTRIBUTE = 'name';

/**
 * What a campaign-day's events are broken down by, besides their type. New ones go last: a journal entry of an
 * earlier layout lists its values in this order and simply has fewer.
 */
export const BREAKDOWNS = ['hour', 'platform', 'country', 'material', 'app'] as const;
/** One of the {@link BREAKDOWNS} a campaign-day's events are counted by. */
export type Breakdown = (typeof BREAKDOWNS)[number];
/** Counter attributes are `n:<event>` and `b␟<breakdown>␟<value>␟<event>` (␟: the unit separator). */
const SEPARATOR = '\u001f';
const BREAKDOWN_PREFIX = `b${SEPARATOR}`;
/** Control characters, the separator among them, are replaced in breakdown values: they are a name's structure. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL = /[\u0000-\u001f\u007f]/g;
/** Longest breakdown value kept, in UTF-8 bytes (a longer one is cut): values become attribute names. */
const MAX_BREAKDOWN_VALUE_BYTES = 64;

/**
 * A breakdown value as a counter attribute's name holds it: cut at {@link MAX_BREAKDOWN_VALUE_BYTES} on a whole
 * character (never half a surrogate pair), lone surrogates and control characters replaced by U+FFFD.
 */
function attributeValue(value: string): string {
  let out = '';
  let bytes = 0;
  for (const code of value) {
    // A string iterates by code point: a surrogate on its own is a lone half.
    const char = code.length === 1 && code >= '\uD800' && code <= '\uDFFF' ? '\uFFFD' : code;
    bytes += Buffer.byteLength(char);
    if (bytes > MAX_BREAKDOWN_VALUE_BYTES) break;
    out += char;
  }
  return out.replace(CONTROL, '\uFFFD');
}
/**
 * Distinct values a campaign-day keeps per breakdown; later ones are counted under {@link OTHER_VALUE}. Values
 * come from senders, and each one is an attribute of the counter item: without a bound, a sender could grow the
 * item to DynamoDB's 400 KB item limit, after which no event of that campaign-day could be counted or stored.
 * With these bounds (and values cut at 64 bytes) a counter item stays far below that limit whatever is sent: about
 * 85 KB at the very worst, with five event types. The repair's fold is the counter items' one writer, so the
 * bounds hold exactly.
 */
export const BREAKDOWN_LIMITS: Readonly<Record<Breakdown, number>> = {
  hour: 24,
  platform: 10,
  country: 60,
  material: 50,
  // Apps are not a sender's to choose: a delivery for an app the signing secret does not name is refused at
  // receipt, so the bound is the operator's list, and names are at most 32 bytes (about 17 KB of the worst case
  // above). An agency runs a few apps per provider; 50 leaves room for one app per client without letting a
  // secret of hundreds of apps grow every campaign-day's item.
  app: 50,
};
/** The breakdown value under which values past a breakdown's limit are counted. */
export const OTHER_VALUE = '(other)';

/**
 * What the counters read of a stored event: its type, then its breakdown values in {@link BREAKDOWNS} order
 * (hour of `created_at`, platform, country, material, app), each as a counter attribute's name holds it, `null`
 * when absent. A batch journals these for its first inserts, so they are folded into the counters later; an
 * entry journaled before apps were counted has no app, and its events are not counted by app.
 */
export type CounterFields = [event: string, ...values: (string | null)[]];

/** @returns the fields of `record` the counters read (see {@link CounterFields}). */
export function counterFieldsOf(record: EventRecord): CounterFields {
  const values = [
    record.created_at.slice(11, 13),
    record.platform,
    record.geolocation?.viewer_country,
    record.material_id,
    // A record received before records named their app came to the provider's own URL.
    record.app || DEFAULT_APP,
  ];
  return [record.event, ...values.map((value) => (value ? attributeValue(value) : null))];
}

/**
 * The counter attributes one stored event adds one to: its type's count and its breakdowns (hour of
 * `created_at`, platform, country, material, app), each per event type. Which types are impressions or clicks is
 * decided when the event is received and kept, on the event item (see {@link COUNTED_AS_ATTRIBUTE}) and on the
 * counter item (`counted_kinds`), never read from the provider's code of a later day.
 */
export function counterAttributesOf(record: EventRecord): string[] {
  return counterAttributesOfFields(counterFieldsOf(record));
}

/** @returns the counter attributes of an event's {@link CounterFields}. */
export function counterAttributesOfFields([event, ...values]: CounterFields): string[] {
  const attributes = [countAttribute(event)];
  BREAKDOWNS.forEach((breakdown, i) => {
    const value = values[i];
    if (typeof value === 'string' && value !== '') {
      attributes.push(`${BREAKDOWN_PREFIX}${breakdown}${SEPARATOR}${value}${SEPARATOR}${event}`);
    }
  });
  return attributes;
}

/** The breakdowns' names, for a quick test of an attribute's. */
const BREAKDOWN_NAMES: ReadonlySet<string> = new Set(BREAKDOWNS);

/** The breakdown and value a breakdown attribute counts, `undefined` for any other attribute. */
function breakdownOf(attribute: string): { breakdown: Breakdown; value: string; event: string } | undefined {
  if (!attribute.startsWith(BREAKDOWN_PREFIX)) return undefined;
  // Three parts after the prefix, found by index: a load of thousands of counter items parses each attribute.
  const first = attribute.indexOf(SEPARATOR, BREAKDOWN_PREFIX.length);
  if (first < 0) return undefined;
  const second = attribute.indexOf(SEPARATOR, first + 1);
  if (second < 0) return undefined;
  // As a split would: the event ends at a third separator, if any.
  const third = attribute.indexOf(SEPARATOR, second + 1);
  const breakdown = attribute.slice(BREAKDOWN_PREFIX.length, first);
  if (!BREAKDOWN_NAMES.has(breakdown)) return undefined;
  return {
    breakdown: breakdown as Breakdown,
    value: attribute.slice(first + 1, second),
    event: attribute.slice(second + 1, third < 0 ? undefined : third),
  };
}

/**
 * Keeps a campaign-day's breakdowns within {@link BREAKDOWN_LIMITS}: a value the counter item already has stays,
 * a new one is taken while its breakdown has room, and any other is counted as {@link OTHER_VALUE}.
 */
export class BreakdownBudget {
  private readonly values = new Map<Breakdown, Set<string>>();
  private readonly room = new Map<Breakdown, number>();

  /** @param attributes the names of the counter item's attributes (what it already counts). */
  constructor(attributes: Iterable<string> = []) {
    for (const attribute of attributes) {
      const parsed = breakdownOf(attribute);
      if (parsed) this.valuesOf(parsed.breakdown).add(parsed.value);
    }
    for (const breakdown of BREAKDOWNS) {
      const values = this.valuesOf(breakdown);
      const left = BREAKDOWN_LIMITS[breakdown] - (values.size - (values.has(OTHER_VALUE) ? 1 : 0));
      this.room.set(breakdown, Math.max(0, left));
    }
  }

  /** @returns the attribute that counts `attribute` within the budget (itself, or its breakdown's "other"). */
  place(attribute: string): string {
    const parsed = breakdownOf(attribute);
    if (!parsed) return attribute;
    // An hour is one of 24 by construction (`created_at` is a checked date-time): no sender can add one.
    if (parsed.breakdown === 'hour') return attribute;
    const values = this.valuesOf(parsed.breakdown);
    if (values.has(parsed.value)) return attribute;
    const room = this.room.get(parsed.breakdown) ?? 0;
    const value = room > 0 ? parsed.value : OTHER_VALUE;
    if (room > 0) this.room.set(parsed.breakdown, room - 1);
    values.add(value);
    return `${BREAKDOWN_PREFIX}${parsed.breakdown}${SEPARATOR}${value}${SEPARATOR}${parsed.event}`;
  }

  private valuesOf(breakdown: Breakdown): Set<string> {
    let values = this.values.get(breakdown);
    if (!values) {
      values = new Set();
      this.values.set(breakdown, values);
    }
    return values;
  }
}

/** `true` for the attributes of a counter item that count events (see {@link counterAttributesOf}). */
export const isCountAttribute = (name: string) =>
  name.startsWith(COUNT_PREFIX) || name.startsWith(BREAKDOWN_PREFIX);

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

/** The partition family of a campaign's events on one day (its partitions are `<family>#<shard>`). */
export const campaignDayFamily = (provider: string, campaignId: string, day: string) =>
  `CAMPAIGN#${provider}#${campaignId}#${day}`;
/** The partition family of one event type's events (of no campaign) on one day. */
export const typeDayFamily = (provider: string, event: string, day: string) =>
  `TYPE#${provider}#${event}#${day}`;

/** The `gsi1` partitions of a campaign's events keyed by id (one per shard). */
export const campaignIndexKeys = (provider: string, campaignId: string, layout: TableLayout) =>
  Array.from({ length: Math.max(1, layout.shards) }, (_, shard) =>
    campaignPartitionKey(provider, campaignId, shard),
  );
/** The `gsi3` partitions of one event type's events keyed by id on one day (one per shard). */
export const typeDayIndexKeys = (provider: string, event: string, day: string, layout: TableLayout) =>
  Array.from({ length: Math.max(1, layout.shards) }, (_, shard) =>
    typeDayPartitionKey(provider, event, day, shard),
  );

/** The shards of one partition family: `<prefix>#0` … `<prefix>#<shards - 1>`. */
export const shardKeys = (prefix: string, layout: TableLayout) =>
  Array.from({ length: Math.max(1, layout.shards) }, (_, shard) => `${prefix}#${shard}`);

/**
 * Where an event lives: its partition family without the shard (`CAMPAIGN#…#<day>` or `TYPE#…#<day>`), or
 * `undefined` for an event keyed by id alone.
 * @param keyedById the event's policy (`EventPolicy.keyed_by_id`): its provider's `created_at` is the receipt
 *   time, so a retry would land elsewhere. The table never asks the provider registry: the policy comes with
 *   the message, or from the reader.
 */
export function placementOf(record: EventRecord, keyedById = false): string | undefined {
  if (keyedById) return undefined;
  const day = dayOf(record.created_at);
  return record.campaign_id
    ? campaignDayFamily(record.provider, record.campaign_id, day)
    : typeDayFamily(record.provider, record.event, day);
}

/** The partition family of a partition key: the key without its shard. */
export const withoutShard = (partitionKey: string) => partitionKey.slice(0, partitionKey.lastIndexOf('#'));

/** The counter item a campaign event moves: its provider, campaign and day. */
export interface CounterKey {
  provider: string;
  campaignId: string;
  day: string;
}

/** The counter item of a campaign event, `undefined` for an event of no campaign or keyed by id alone. */
export function counterKeyOf(record: EventRecord, keyedById = false): CounterKey | undefined {
  if (!record.campaign_id || placementOf(record, keyedById) === undefined) return undefined;
  return { provider: record.provider, campaignId: record.campaign_id, day: dayOf(record.created_at) };
}

/** The primary key of a counter item. */
export const counterItemKey = (key: CounterKey) => ({
  [RECORDS_TABLE.partitionKey]: { S: statsPartitionKey(key.provider, key.campaignId) },
  [RECORDS_TABLE.sortKey]: { S: key.day },
});

const S = (value: string): AttributeValue => ({ S: value });

/**
 * The record's fields in the order `query --json` prints them, each with how it is stored: strings written
 * only when they have a value (absent means null; saves bytes), objects as JSON text (exact, and free of
 * DynamoDB's limits on numbers and empty sets).
 */
const JSON_FIELDS = ['metadata', 'geolocation'] as const satisfies readonly (keyof EventRecord)[];
type StringField = Exclude<keyof EventRecord, (typeof JSON_FIELDS)[number]>;
const STRING_FIELDS = Object.keys(EventRecordSchema.entries).filter(
  (field): field is StringField => !(JSON_FIELDS as readonly string[]).includes(field),
);

/** The primary key of the item that stores `message` (and rejects its duplicates). */
export function itemKey(message: QueueMessage, layout: TableLayout): { pk: string; sk: string } {
  const record = message.record;
  if (message.kind === 'quarantine') return { pk: quarantinePartitionKey(record.id), sk: RECORD_SORT_KEY };
  const event = message.record;
  const placement = placementOf(event, message.policy?.keyed_by_id);
  if (placement === undefined) return { pk: eventPartitionKey(event.id), sk: RECORD_SORT_KEY };
  return {
    pk: `${placement}#${shardOf(event.id, layout.shards)}`,
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
 * Raw bodies are stored brotli-compressed (a SORI event of 600 bytes takes about 310), which keeps an event
 * item within one write unit; decompressing gives back the exact bytes received.
 */
const RAW_COMPRESSION = {
  params: {
    [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
    // Quality 5 is within a few percent of the best ratio on bodies this small, at a twentieth of the time.
    [zlib.constants.BROTLI_PARAM_QUALITY]: 5,
  },
};

function rawAttributes(message: QueueMessage): Record<string, AttributeValue> {
  if (message.raw_ref) return { raw_ref: S(message.raw_ref), raw_encoding: S(message.raw_encoding) };
  const bytes = Buffer.from(message.raw, message.raw_encoding === 'base64' ? 'base64' : 'utf8');
  return {
    raw: { B: zlib.brotliCompressSync(bytes, RAW_COMPRESSION) },
    raw_encoding: S(message.raw_encoding),
  };
}

/** @returns the raw body bytes an item keeps inline (compressed or, as older items do, as text). */
export function rawBytesOf(item: Record<string, AttributeValue>): Buffer | undefined {
  const raw = item.raw;
  if (raw?.B) return zlib.brotliDecompressSync(raw.B);
  if (raw?.S === undefined) return undefined;
  return Buffer.from(raw.S, item.raw_encoding?.S === 'base64' ? 'base64' : 'utf8');
}

/**
 * The attribute of an event item that says what the event counts as, as its policy said when it was received:
 * `impressions`, `clicks`, or `none`. Written on every event record, so that a record without it is known to be
 * one stored before records said (its provider's current code then tells).
 */
export const COUNTED_AS_ATTRIBUTE = 'counted_as';
const NOT_COUNTED = 'none';

/** The attribute an event item keeps of its policy's `counted_as` (see {@link COUNTED_AS_ATTRIBUTE}). */
export const countedAsAttribute = (countedAs: CountedKind | undefined): Record<string, AttributeValue> => ({
  [COUNTED_AS_ATTRIBUTE]: S(countedAs ?? NOT_COUNTED),
});

/**
 * What a stored event item counts as: `null` when it counts as nothing, `undefined` when the item was stored
 * before records said (the caller falls back to the provider's current code).
 */
export function countedAsOf(item: Record<string, AttributeValue>): CountedKind | null | undefined {
  const value = item[COUNTED_AS_ATTRIBUTE]?.S;
  if (value === undefined) return undefined;
  return value === 'impressions' || value === 'clicks' ? value : null;
}

/** Turns a queue message into the table item that stores it; `writer` names the batch that writes it. */
export function toItem(
  message: QueueMessage,
  layout: TableLayout = DEFAULT_LAYOUT,
  writer?: string,
): Record<string, AttributeValue> {
  const { pk, sk } = itemKey(message, layout);
  if (message.kind === 'quarantine') {
    const { id, provider, reason, received_at, delivery_id, app } = message.record;
    return {
      pk: S(pk),
      sk: S(sk),
      kind: S('quarantine'),
      id: S(id),
      provider: S(provider),
      reason: S(reason),
      received_at: S(received_at),
      // Kept so that a reprocess builds the record receipt would have built: keyed by this id, for this app.
      ...(delivery_id ? { delivery_id: S(delivery_id) } : {}),
      ...(app && app !== DEFAULT_APP ? { app: S(app) } : {}),
      gsi1pk: S(QUARANTINE_PARTITION),
      gsi1sk: S(`${received_at}#${id}`),
      ...rawAttributes(message),
    };
  }
  const record = message.record;
  const item: Record<string, AttributeValue> = { pk: S(pk), sk: S(sk), kind: S('event') };
  for (const field of STRING_FIELDS) {
    const value = record[field];
    if (value !== null && value !== undefined && value !== '') item[field] = S(value);
  }
  if (message.delivery_id) item[DELIVERY_ID_ATTRIBUTE] = S(message.delivery_id);
  for (const field of JSON_FIELDS) {
    if (record[field] !== null) item[field] = S(JSON.stringify(record[field]));
  }
  if (placementOf(record, message.policy?.keyed_by_id) === undefined) {
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
  }
  const expires = expiresAt(record.received_at, layout);
  if (expires) item[TTL_ATTRIBUTE] = expires;
  if (writer) item[WRITER_ATTRIBUTE] = S(writer);
  Object.assign(item, rawAttributes(message));
  return item;
}

/**
 * The marker that a device was seen in an event's partition family: its key tells where the device's events
 * are (`query --device`). `undefined` for an event without a device or keyed by id alone (such an event is in
 * `gsi2` itself).
 */
export function deviceMarkerItem(
  record: EventRecord,
  layout: TableLayout,
  keyedById = false,
): Record<string, AttributeValue> | undefined {
  const placement = placementOf(record, keyedById);
  if (!record.device_id || placement === undefined) return undefined;
  const item: Record<string, AttributeValue> = {
    pk: S(devicePartitionKey(record.provider, record.device_id)),
    sk: S(`${dayOf(record.created_at)}#${placement}`),
    kind: S('device'),
  };
  const expires = expiresAt(record.received_at, layout);
  if (expires) item[TTL_ATTRIBUTE] = expires;
  return item;
}

/** The partition family a device marker points to (its sort key without the day). */
export const markedFamily = (marker: Record<string, AttributeValue>) =>
  marker[RECORDS_TABLE.sortKey]?.S?.slice('YYYY-MM-DD#'.length) ?? '';

const str = (item: Record<string, AttributeValue>, name: string): string | null => item[name]?.S ?? null;
const json = (item: Record<string, AttributeValue>, name: string) => {
  const value = item[name]?.S;
  return value === undefined ? null : JSON.parse(value);
};

/**
 * A stored event as the query CLI prints it: every record field, absent ones as `null`; `normalizer` and `app`
 * always named (an item stored before records said is `<provider>@1`'s, of the `default` app).
 */
export type StoredEvent = EventRecord & { normalizer: string; app: string };

/**
 * The attribute of an event item that keeps the delivery id header's value of a provider keyed by it, outside
 * the record's fields: what normalizing its raw body again needs besides the body.
 */
export const DELIVERY_ID_ATTRIBUTE = 'delivery_id';

/** A stored quarantined delivery with its raw body as text (`base64` when it is not UTF-8). */
export interface StoredQuarantine {
  id: string;
  provider: string;
  reason: string;
  received_at: string;
  raw: string;
  raw_encoding: 'utf8' | 'base64';
  /** Where the raw body is, when it was too large to keep inline. */
  raw_ref?: string;
  /** When a reprocess made it a record (kept for audit), and that record's id. */
  resolved_at?: string;
  record_id?: string;
  /** The delivery id header's value, for a provider keyed by it. */
  delivery_id?: string;
  /** The app it came for, when not the default one. */
  app?: string;
}

/** Attributes a quarantined delivery gets when a reprocess stores it as a record. */
export const RESOLVED_ATTRIBUTES = { at: 'resolved_at', record: 'record_id' } as const;

/** Every attribute of an event item that holds a record field, `normalizer` and `app` among them. */
const RECORD_ATTRIBUTES: readonly string[] = [...STRING_FIELDS, ...JSON_FIELDS];

/** The attributes of an event item that say where it is found: its keys and its index keys. */
export const EVENT_KEY_ATTRIBUTES = [
  RECORDS_TABLE.partitionKey,
  RECORDS_TABLE.sortKey,
  ...Object.values(RECORDS_TABLE.indexes).flatMap((index) => [index.partitionKey, index.sortKey]),
] as const;

/**
 * The update that rewrites a stored event's record fields in place with those of `next` (the item the current
 * mapping makes of the same raw body), once: only while the item still says it was made by `from`. Its keys,
 * raw body, retention and writer stay as they are; the caller has made sure `next` has the same keys.
 * @param from the normalizer the item is rewritten from; an item with no `normalizer` was made by `<provider>@1`,
 *   and is taken for `from` when `from` is that one
 * @returns the update, and the record fields it changes (`normalizer` left out)
 */
export function renormalizeUpdate(
  tableName: string,
  stored: Record<string, AttributeValue>,
  next: Record<string, AttributeValue>,
  from: string,
  fromIsFirst: boolean,
): { update: UpdateItemCommandInput & { ConditionExpression: string }; changed: string[] } {
  const names: Record<string, string> = { '#pk': RECORDS_TABLE.partitionKey, '#normalizer': 'normalizer' };
  const values: Record<string, AttributeValue> = { ':from': S(from) };
  const set: string[] = [];
  const remove: string[] = [];
  const changed: string[] = [];
  RECORD_ATTRIBUTES.forEach((field, i) => {
    const before = stored[field]?.S;
    const after = next[field]?.S;
    if (before === after) return;
    // An item stored before records named their app was of the default app: naming it changes nothing.
    if (field !== 'normalizer' && !(field === 'app' && before === undefined && after === DEFAULT_APP))
      changed.push(field);
    names[`#f${i}`] = field;
    if (after === undefined) remove.push(`#f${i}`);
    else {
      values[`:f${i}`] = S(after);
      set.push(`#f${i} = :f${i}`);
    }
  });
  const expression = [
    set.length > 0 ? `SET ${set.join(', ')}` : '',
    remove.length > 0 ? `REMOVE ${remove.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return {
    update: {
      TableName: tableName,
      Key: { pk: stored.pk as AttributeValue, sk: stored.sk as AttributeValue },
      UpdateExpression: expression,
      ConditionExpression: `attribute_exists(#pk) AND (#normalizer = :from${fromIsFirst ? ' OR attribute_not_exists(#normalizer)' : ''})`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    },
    changed,
  };
}

/** @returns the event record stored in `item` (the inverse of {@link toItem}). */
export function fromEventItem(item: Record<string, AttributeValue>): StoredEvent {
  const record: Record<string, unknown> = {};
  for (const field of STRING_FIELDS) record[field] = str(item, field);
  for (const field of JSON_FIELDS) record[field] = json(item, field);
  const provider = (record.provider as string | null) ?? '';
  return {
    ...record,
    id: record.id ?? '',
    provider,
    event: record.event ?? '',
    normalizer: record.normalizer ?? firstNormalizer(provider),
    app: record.app ?? DEFAULT_APP,
  } as StoredEvent;
}

/** One counter item: events counted per event type and unique devices, for one campaign and day. */
export interface CounterItem {
  provider: string;
  campaign_id: string;
  day: string;
  /** The campaign's name, as the latest batch had it. */
  name: string | null;
  /** Stored events per event type. */
  counts: Record<string, number>;
  /** Stored events per breakdown value, then per event type. */
  breakdowns: Record<Breakdown, Record<string, Record<string, number>>>;
  unique_devices: number;
  /**
   * The day's devices by gap to their previous day in the campaign (see `reach.ts`); empty for an item last
   * folded before histograms were kept, whose devices are then all taken for new ones.
   */
  reach: ReachHistogram;
  /** The event types stored on the campaign-day, counted yet or not (the repair counts them within a pass). */
  types: string[];
}

/** @returns the counts a counter item holds. */
export function fromCounterItem(item: Record<string, AttributeValue>): CounterItem {
  // Event types and breakdown values come from senders: objects keyed by them have no prototype, so a value
  // such as `__proto__` or `constructor` is a key like any other.
  const counts: Record<string, number> = Object.create(null);
  const breakdowns = Object.create(null) as CounterItem['breakdowns'];
  for (const breakdown of BREAKDOWNS) breakdowns[breakdown] = Object.create(null);
  // A load reads thousands of items of some hundred attributes each: `for…in`, no array per attribute.
  for (const name in item) {
    if (name.startsWith(COUNT_PREFIX)) {
      counts[name.slice(COUNT_PREFIX.length)] = Number(item[name]?.N ?? 0);
      continue;
    }
    const parsed = breakdownOf(name);
    if (!parsed) continue;
    const byValue = breakdowns[parsed.breakdown];
    byValue[parsed.value] ??= Object.create(null) as Record<string, number>;
    (byValue[parsed.value] as Record<string, number>)[parsed.event] = Number(item[name]?.N ?? 0);
  }
  return {
    provider: str(item, 'provider') ?? '',
    campaign_id: str(item, 'campaign_id') ?? '',
    day: str(item, 'day') ?? str(item, RECORDS_TABLE.sortKey) ?? '',
    name: str(item, NAME_ATTRIBUTE),
    counts,
    breakdowns,
    unique_devices: Number(item[DEVICES_ATTRIBUTE]?.N ?? 0),
    reach: histogramOf(item[REACH_ATTRIBUTE]),
    types: item[TYPES_ATTRIBUTE]?.SS ?? [],
  };
}

/**
 * `true` when a counter item counts each of its events under an app too; `false` for one folded, wholly or in
 * part, before events were counted by app, whose app breakdown then tells only part of its events (or none).
 * Every event folded since is counted under exactly one app (the default one when its record names none), so
 * the item's apps then add up to its counts, event type by event type.
 */
export function countsEveryApp(item: CounterItem): boolean {
  for (const event in item.counts) {
    let byApp = 0;
    for (const app in item.breakdowns.app) byApp += item.breakdowns.app[app]?.[event] ?? 0;
    if (byApp !== item.counts[event]) return false;
  }
  return true;
}

/** @returns the quarantined delivery stored in `item`. */
export function fromQuarantineItem(item: Record<string, AttributeValue>): StoredQuarantine {
  return {
    id: str(item, 'id') ?? '',
    provider: str(item, 'provider') ?? '',
    reason: str(item, 'reason') ?? '',
    received_at: str(item, 'received_at') ?? '',
    ...decodedRaw(item),
    ...(item.raw_ref?.S ? { raw_ref: item.raw_ref.S } : {}),
    ...(item.resolved_at?.S ? { resolved_at: item.resolved_at.S, record_id: item.record_id?.S ?? '' } : {}),
    ...(item.delivery_id?.S ? { delivery_id: item.delivery_id.S } : {}),
    ...(item.app?.S ? { app: item.app.S } : {}),
  };
}

function decodedRaw(item: Record<string, AttributeValue>): Pick<StoredQuarantine, 'raw' | 'raw_encoding'> {
  const encoding = str(item, 'raw_encoding') === 'base64' ? 'base64' : 'utf8';
  return { raw: rawBytesOf(item)?.toString(encoding) ?? '', raw_encoding: encoding };
}
