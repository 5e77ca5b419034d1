import * as v from 'valibot';

const NullableString = v.nullable(v.string());

/**
 * A JSON object, taken as it is. valibot's `record` would build a new object and leave out members named
 * `__proto__`, `constructor` or `prototype`, which are a sender's data like any other name in free-form
 * metadata: the record would lose them between the queue and the table.
 */
const JsonObject = v.custom<Record<string, unknown>>(
  (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
  'expected an object',
);

export const GeolocationSchema = v.object({
  viewer_country: NullableString,
  viewer_region: NullableString,
  viewer_city: NullableString,
});
export type Geolocation = v.InferOutput<typeof GeolocationSchema>;

/**
 * The one shape every provider's event is normalized into. Absent values are `null`, never missing, so
 * consumers of `npm run events -- query --json` can rely on every key being there.
 */
export const EventRecordSchema = v.object({
  id: v.pipe(v.string(), v.minLength(1)),
  provider: v.string(),
  event: v.string(),
  account_id: NullableString,
  campaign_id: NullableString,
  campaign_name: NullableString,
  material_id: NullableString,
  material_name: NullableString,
  activity_id: NullableString,
  device_id: NullableString,
  platform: NullableString,
  /** When the event happened (ISO 8601, UTC, milliseconds). */
  created_at: v.string(),
  /** When this receiver accepted the delivery. */
  received_at: v.string(),
  metadata: v.nullable(JsonObject),
  geolocation: v.nullable(GeolocationSchema),
});
export type EventRecord = v.InferOutput<typeof EventRecordSchema>;

/** Longest free-text field kept in a record; the raw body keeps the whole value. */
export const MAX_TEXT_FIELD = 1024;
/** Largest `metadata` kept in a record (serialized, UTF-8); larger metadata stays in the raw body only. */
export const MAX_METADATA_BYTES = 16 * 1024;

/** An authentic delivery the schemas did not understand, kept raw with the reason. */
export const QuarantineRecordSchema = v.object({
  id: v.pipe(v.string(), v.minLength(1)),
  provider: v.string(),
  reason: v.string(),
  received_at: v.string(),
});
export type QuarantineRecord = v.InferOutput<typeof QuarantineRecordSchema>;

/** The body of one SQS message: the normalized record (or the quarantine note) and the raw body. */
export const QueueMessageSchema = v.variant('kind', [
  v.object({
    v: v.literal(1),
    kind: v.literal('event'),
    record: EventRecordSchema,
    raw: v.string(),
    raw_encoding: v.picklist(['utf8', 'base64']),
    /** Where the raw body is when it was too large to travel inline (`raw` is then empty). */
    raw_ref: v.optional(v.string()),
  }),
  v.object({
    v: v.literal(1),
    kind: v.literal('quarantine'),
    record: QuarantineRecordSchema,
    raw: v.string(),
    raw_encoding: v.picklist(['utf8', 'base64']),
    /** Where the raw body is when it was too large to travel inline (`raw` is then empty). */
    raw_ref: v.optional(v.string()),
  }),
]);
export type QueueMessage = v.InferOutput<typeof QueueMessageSchema>;
