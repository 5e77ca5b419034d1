import * as v from 'valibot';
import type { EventRecord, Geolocation } from '../events/event-record';
import { buildRecordId, canonicalJson } from '../events/record-id';
import type { Interpretation, Provider } from './provider';
import {
  describeIssues,
  eventTimeIssue,
  IdSchema,
  IsoDateTimeSchema,
  isJsonObject,
  JsonObjectSchema,
  Optional,
  SMALL_EVENT_MAX_BODY_BYTES,
  unknownNameReason,
} from './validation';

// Schemas follow SORI's current format (`event`, nested `campaign`/`material`) and its legacy format (flat,
// `event_type`). Every object is loose: SORI adds
// fields over time and "extra fields are kept, never rejected" (the raw body is stored whole).

const GeolocationSchema = v.looseObject({
  viewer_country: Optional(v.string()),
  viewer_region: Optional(v.string()),
  viewer_city: Optional(v.string()),
});

const TaggedEntitySchema = v.looseObject({
  id: Optional(IdSchema),
  name: Optional(v.string()),
  tags: Optional(v.array(v.string())),
  image: Optional(v.string()),
});

/** "Device/session that triggered the event when available": an empty one means none. Keys hold it: ≤ 256. */
const DeviceIdSchema = v.pipe(v.string(), v.maxLength(256, 'expected at most 256 characters'));

/** Fields "delivered with every campaign webhook unless otherwise noted", plus the legacy duplicates. */
const commonEntries = {
  account_id: IdSchema,
  created_at: IsoDateTimeSchema,
  timestamp: Optional(v.string()),
  device_id: Optional(DeviceIdSchema),
  platform: Optional(v.string()),
  metadata: Optional(JsonObjectSchema),
  geolocation: Optional(GeolocationSchema),
  // "legacy duplicates retained only for backward compatibility"
  event_type: Optional(v.string()),
  campaign_id: Optional(IdSchema),
  campaign_name: Optional(v.string()),
  material_id: Optional(IdSchema),
  material_name: Optional(v.string()),
};

/**
 * A current-format impression or click: `activity_id` is required, the "unique identifier for the specific
 * impression or click" its record is keyed by, and so is a campaign id, nested or in the legacy duplicate.
 */
export const SoriCampaignEventSchema = v.pipe(
  v.looseObject({
    ...commonEntries,
    event: v.picklist(['campaign.impression', 'campaign.click']),
    activity_id: IdSchema,
    campaign: Optional(TaggedEntitySchema),
    material: Optional(TaggedEntitySchema),
  }),
  v.check((event) => Boolean(event.campaign?.id ?? event.campaign_id), 'campaign.id: expected a campaign id'),
);
/** A SORI impression or click, as {@link SoriCampaignEventSchema} reads it. */
export type SoriCampaignEvent = v.InferOutput<typeof SoriCampaignEventSchema>;

/** A SORI login (`authentication`): only the fields common to every current-format event. */
export const SoriAuthenticationEventSchema = v.looseObject({
  ...commonEntries,
  event: v.literal('authentication'),
});
/** A SORI login, as {@link SoriAuthenticationEventSchema} reads it. */
export type SoriAuthenticationEvent = v.InferOutput<typeof SoriAuthenticationEventSchema>;

/** A SORI material's creation, update or deletion: the material's id, which keys its record, is required. */
export const SoriMaterialEventSchema = v.looseObject({
  ...commonEntries,
  event: v.picklist(['admin.material.created', 'admin.material.updated', 'admin.material.deleted']),
  material: v.looseObject({ ...TaggedEntitySchema.entries, id: IdSchema }),
});
/** A SORI material event, as {@link SoriMaterialEventSchema} reads it. */
export type SoriMaterialEvent = v.InferOutput<typeof SoriMaterialEventSchema>;

/** The flat legacy payload, told apart by `event_type` and no `event`. */
export const SoriLegacyEventSchema = v.looseObject({
  event_type: v.picklist(['impression', 'click']),
  campaign_id: IdSchema,
  campaign_name: Optional(v.string()),
  material_id: Optional(IdSchema),
  material_name: Optional(v.string()),
  device_id: Optional(DeviceIdSchema),
  platform: Optional(v.string()),
  timestamp: IsoDateTimeSchema,
});
/** A SORI legacy-format event, as {@link SoriLegacyEventSchema} reads it. */
export type SoriLegacyEvent = v.InferOutput<typeof SoriLegacyEventSchema>;

const SCHEMAS_BY_EVENT = {
  'campaign.impression': SoriCampaignEventSchema,
  'campaign.click': SoriCampaignEventSchema,
  authentication: SoriAuthenticationEventSchema,
  'admin.material.created': SoriMaterialEventSchema,
  'admin.material.updated': SoriMaterialEventSchema,
  'admin.material.deleted': SoriMaterialEventSchema,
} as const;

/** Legacy `event_type` values and the canonical names they stand for. */
const LEGACY_EVENTS = { impression: 'campaign.impression', click: 'campaign.click' } as const;

type SoriEvent = SoriCampaignEvent | SoriAuthenticationEvent | SoriMaterialEvent;

function toGeolocation(geo: SoriEvent['geolocation']): Geolocation | null {
  if (!geo) return null;
  return {
    viewer_country: geo.viewer_country,
    viewer_region: geo.viewer_region,
    viewer_city: geo.viewer_city,
  };
}

/** Absent and `null` alike: SORI's fields "marked with null may be omitted entirely when no value is available". */
const keyJson = (value: unknown) => (value === null ? null : canonicalJson(value, { omitNulls: true }));

/**
 * The record id of a current-format event. `timestamp` is the "delivery timestamp appended just before
 * dispatch" and changes on a retry, so it is never part of a key; every other field is the event's own and a
 * retry repeats it.
 * - Campaign events: their `activity_id`, the "unique identifier for the specific impression or click", with
 *   the event name, because an impression and its click share one `activity_id`.
 * - Authentication events have no such identifier, and `device_id` is sent only "when available": the key is
 *   every field that describes the login: `account_id`, `created_at`, `device_id`, `platform`, `metadata` (the
 *   "query parameters that were supplied during the authentication request", which "can be used to identify
 *   the user") and `geolocation`, so two people signing in to one account in the same millisecond stay two.
 * - Material events: the material's id and `created_at`.
 */
export function soriEventId(event: SoriEvent): string {
  switch (event.event) {
    case 'campaign.impression':
    case 'campaign.click':
      return buildRecordId('sori', [
        event.event,
        event.account_id,
        event.campaign?.id ?? event.campaign_id,
        event.created_at,
        event.activity_id,
      ]);
    case 'authentication':
      return buildRecordId('sori', [
        event.event,
        event.account_id,
        event.created_at,
        event.device_id || null,
        event.platform,
        keyJson(event.metadata),
        keyJson(toGeolocation(event.geolocation)),
      ]);
    default:
      return buildRecordId('sori', [event.event, event.account_id, event.material.id, event.created_at]);
  }
}

/**
 * The record id of a legacy event. The legacy format has no `activity_id` and no `created_at`, and its own
 * document says to handle events "idempotently (using the timestamp)", so the whole payload, timestamp
 * included, is the key; a field sent as `null` and the same field left out count as one payload.
 */
export function soriLegacyEventId(payload: Record<string, unknown>): string {
  return buildRecordId('sori', ['legacy', canonicalJson(payload, { omitNulls: true })]);
}

function normalizeCurrent(event: SoriEvent, receivedAt: string): EventRecord {
  const isCampaignEvent = event.event === 'campaign.impression' || event.event === 'campaign.click';
  const campaign = isCampaignEvent ? (event as SoriCampaignEvent).campaign : null;
  const material =
    event.event === 'authentication' ? null : (event as SoriCampaignEvent | SoriMaterialEvent).material;
  return {
    id: soriEventId(event),
    provider: 'sori',
    event: event.event,
    account_id: event.account_id,
    campaign_id: campaign?.id ?? event.campaign_id,
    campaign_name: campaign?.name ?? event.campaign_name,
    material_id: material?.id ?? event.material_id,
    material_name: material?.name ?? event.material_name,
    activity_id: isCampaignEvent ? (event as SoriCampaignEvent).activity_id : null,
    device_id: event.device_id || null,
    platform: event.platform,
    created_at: event.created_at,
    received_at: receivedAt,
    metadata: event.metadata,
    geolocation: toGeolocation(event.geolocation),
  };
}

function normalizeLegacy(payload: Record<string, unknown>, event: SoriLegacyEvent, receivedAt: string) {
  return {
    id: soriLegacyEventId(payload),
    provider: 'sori',
    event: LEGACY_EVENTS[event.event_type],
    account_id: null,
    campaign_id: event.campaign_id,
    campaign_name: event.campaign_name,
    material_id: event.material_id,
    material_name: event.material_name,
    activity_id: null,
    device_id: event.device_id || null,
    platform: event.platform,
    // The legacy format's only time; it stands in for created_at.
    created_at: event.timestamp,
    received_at: receivedAt,
    metadata: null,
    geolocation: null,
  } satisfies EventRecord;
}

/** Validates and normalizes a SORI payload of either format. Never throws. */
export function interpretSori(payload: unknown, receivedAt: string): Interpretation {
  if (!isJsonObject(payload)) return { ok: false, reason: 'payload is not a JSON object' };
  const name = payload.event;
  if (typeof name === 'string') {
    if (!Object.hasOwn(SCHEMAS_BY_EVENT, name)) {
      return { ok: false, reason: unknownNameReason('event', name) };
    }
    const result = v.safeParse(SCHEMAS_BY_EVENT[name as keyof typeof SCHEMAS_BY_EVENT], payload);
    if (!result.success) return { ok: false, reason: `invalid ${name}: ${describeIssues(result.issues)}` };
    const timeIssue = eventTimeIssue('created_at', result.output.created_at, receivedAt);
    if (timeIssue) return { ok: false, reason: `invalid ${name}: ${timeIssue}` };
    return { ok: true, record: normalizeCurrent(result.output, receivedAt) };
  }
  if (name !== undefined && name !== null) return { ok: false, reason: 'event: expected a string' };
  const legacyName = payload.event_type;
  if (typeof legacyName === 'string') {
    if (!Object.hasOwn(LEGACY_EVENTS, legacyName)) {
      return { ok: false, reason: unknownNameReason('event_type', legacyName) };
    }
    const result = v.safeParse(SoriLegacyEventSchema, payload);
    if (!result.success)
      return { ok: false, reason: `invalid legacy ${legacyName}: ${describeIssues(result.issues)}` };
    const timeIssue = eventTimeIssue('timestamp', result.output.timestamp, receivedAt);
    if (timeIssue) return { ok: false, reason: `invalid legacy ${legacyName}: ${timeIssue}` };
    return { ok: true, record: normalizeLegacy(payload, result.output, receivedAt) };
  }
  return { ok: false, reason: 'no event or event_type field' };
}

/**
 * The version of this mapping ({@link interpretSori} and its schemas): raised by one with any change that could make a
 * stored body give another record, so that `events reprocess --normalizer sori@<old>` finds what the earlier
 * one made.
 */
export const SORI_NORMALIZER_VERSION = 1;

/** SORI API, current and legacy formats: signed with `X-SORI-Signature`. */
export const sori: Provider = {
  name: 'sori',
  normalizerVersion: SORI_NORMALIZER_VERSION,
  // SORI says to "verify the X-SORI-Signature header" but names no algorithm: HMAC-SHA256 of the raw body keyed
  // with secret_key by default; configuration can choose another scheme.
  auth: { scheme: { kind: 'hmac', header: 'x-sori-signature', algorithm: 'sha256' } },
  counted: { 'campaign.impression': 'impressions', 'campaign.click': 'clicks' },
  events: Object.keys(SCHEMAS_BY_EVENT),
  maxBodyBytes: SMALL_EVENT_MAX_BODY_BYTES,
  interpret: interpretSori,
};
