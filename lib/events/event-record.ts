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

/** Where the viewer was, as far as the provider says (SORI sends it): each part `null` when unknown. */
export const GeolocationSchema = v.object({
  viewer_country: NullableString,
  viewer_region: NullableString,
  viewer_city: NullableString,
});
/** A record's viewer location (see {@link GeolocationSchema}). */
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
  /**
   * The mapping that made the record, `<provider>@<version>` (see `Provider.normalizerVersion`). Set when the
   * delivery is received; a message sent before records said has none, and was made by `<provider>@1`.
   */
  normalizer: v.optional(v.string()),
  /**
   * The provider's app the delivery came for, by its URL (`/webhooks/<provider>/<app>`) and verified with that
   * app's credentials: `default` for the provider's own URL. A message sent before apps has none: `default`.
   */
  app: v.optional(v.string()),
  /**
   * The AWS X-Ray trace id of the POST that delivered it (`1-<time>-<id>`), with the stack's `tracing` on: the
   * record a trace ends at, and the trace a record came by.
   */
  trace_id: v.nullish(v.string()),
});
/** A normalized event, as stored and queried (see {@link EventRecordSchema}). */
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
  /**
   * The delivery id header's value of a provider keyed by it (Standard Webhooks' `webhook-id`): what a reprocess
   * needs besides the body to key the record as it would have been keyed at receipt.
   */
  delivery_id: v.optional(v.string()),
  /** The app the delivery came for (see `EventRecordSchema`); absent: `default`. */
  app: v.optional(v.string()),
});
/** An authentic delivery kept raw because it could not be read (see {@link QuarantineRecordSchema}). */
export type QuarantineRecord = v.InferOutput<typeof QuarantineRecordSchema>;

/**
 * What the provider's code decided about an event when it was received, carried with it so that the table
 * and the consumer never ask the provider registry: an upgrade that changes a provider's mapping then changes
 * nothing about events already received (their placement, whether they count, the state they move).
 */
export const EventPolicySchema = v.object({
  /** Keyed by its id alone: the provider's payloads carry no time of their own (a retry has another). */
  keyed_by_id: v.boolean(),
  /** Moves the campaign counters. */
  counted: v.boolean(),
  /**
   * What a counted event counts as, as the provider counted it when it was received: a stored event is recounted,
   * signalled and exported as this, whatever the provider's code says later. Absent for an event not counted,
   * and in a message sent before policies said (the consumer completes it).
   */
  counted_as: v.optional(v.picklist(['impressions', 'clicks'])),
  /**
   * For a counted click: the provider's event types counted as impressions when it was received, those a click
   * is matched with (a click whose activity has no impression of these types is an orphan).
   */
  pairs_with: v.optional(v.array(v.string())),
  /** The provider's current-state item the event moves, if any. */
  state: v.nullable(
    v.object({
      key: v.string(),
      rank: v.number(),
      fields: v.record(v.string(), v.nullable(v.string())),
    }),
  ),
});
/** The provider's decisions about an event, fixed at receipt (see {@link EventPolicySchema}). */
export type EventPolicy = v.InferOutput<typeof EventPolicySchema>;

/** What a counted event counts as: one of a campaign-day's two counters. */
export type CountedKind = NonNullable<EventPolicy['counted_as']>;

/** A provider's counted event types, each with what it counts as (only those it counts). */
export type CountedKinds = Readonly<Record<string, CountedKind>>;

/**
 * What an event type counts as among `kinds`: only their own entries, never an inherited name (an event type is
 * a sender's string, and may be `constructor`).
 */
export const kindOf = (kinds: CountedKinds, event: string): CountedKind | undefined =>
  Object.hasOwn(kinds, event) ? kinds[event] : undefined;

/** The message layout the receive function writes; the consumer reads this one and the one before. */
export const QUEUE_MESSAGE_VERSION = 2;

/**
 * The body of one SQS message: the normalized record (or the quarantine note) and the raw body. Version 2 adds
 * the event's `policy`; a version 1 message (sent before an upgrade) has none, and the consumer completes it.
 * The record's `normalizer` and `app`, and the message's `delivery_id`, are optional within version 2: a message
 * without them was sent before they were, and the consumer completes it (`<provider>@1`, `default`).
 */
export const QueueMessageSchema = v.variant('kind', [
  v.object({
    v: v.picklist([1, 2]),
    kind: v.literal('event'),
    record: EventRecordSchema,
    policy: v.optional(EventPolicySchema),
    /** The delivery id header's value of a provider keyed by it, kept with the record for a later reprocess. */
    delivery_id: v.optional(v.string()),
    raw: v.string(),
    raw_encoding: v.picklist(['utf8', 'base64']),
    /** Where the raw body is when it was too large to travel inline (`raw` is then empty). */
    raw_ref: v.optional(v.string()),
  }),
  v.object({
    v: v.picklist([1, 2]),
    kind: v.literal('quarantine'),
    record: QuarantineRecordSchema,
    raw: v.string(),
    raw_encoding: v.picklist(['utf8', 'base64']),
    /** Where the raw body is when it was too large to travel inline (`raw` is then empty). */
    raw_ref: v.optional(v.string()),
  }),
]);
/** One SQS message's body, either version (see {@link QueueMessageSchema}). */
export type QueueMessage = v.InferOutput<typeof QueueMessageSchema>;
