import * as v from 'valibot';
import { type EventRecord, MAX_METADATA_BYTES } from '../events/event-record';
import { buildRecordId, canonicalJson } from '../events/record-id';
import type { Interpretation, Provider, StateUpdate } from './provider';
import {
  baseRecord,
  cut,
  describeIssues,
  IdSchema,
  isJsonObject,
  JsonObjectSchema,
  Optional,
  SMALL_EVENT_MAX_BODY_BYTES,
  unknownNameReason,
} from './validation';

// Symphony Ads API webhooks: `event`, and the entity at the payload root: `provider`, `type`, `id`, `reason`,
// `metadata`, `status`. Objects are loose: fields Symphony adds later are kept (the raw body is stored whole).

/** The Symphony events understood, and the event names its records carry: any other event is quarantined. */
export const SYMPHONY_EVENTS = [
  'campaign.created',
  'campaign.updated',
  'campaign.failed',
  'campaign.processing',
  'campaign.completed',
] as const;

/**
 * One Symphony webhook: a known `event` and the campaign's `id`, with the entity's own fields when sent. It
 * has no event id and no time: the whole body keys its record, and its receipt stands for its time.
 */
export const SymphonyEventSchema = v.looseObject({
  event: v.picklist(SYMPHONY_EVENTS),
  id: IdSchema,
  provider: Optional(v.string()),
  type: Optional(v.string()),
  reason: Optional(v.string()),
  metadata: Optional(JsonObjectSchema),
  status: Optional(v.string()),
});
/** A Symphony webhook, as {@link SymphonyEventSchema} reads it. */
export type SymphonyEvent = v.InferOutput<typeof SymphonyEventSchema>;

/**
 * The ordering rule of the current-state item. Symphony's payload carries no timestamp, so deliveries are
 * ordered by the campaign's lifecycle: a state never moves to a lower rank (a late `PROCESSING` does not undo
 * `FINISHED`); within one rank (`ACTIVE` ↔ `PAUSED`) the latest delivery wins. Unknown statuses rank lowest.
 * A map: a status is a sender's value, and only these names have a rank (not `constructor`, not `__proto__`).
 */
export const SYMPHONY_STATUS_RANK: ReadonlyMap<string, number> = new Map([
  ['DRAFT', 0],
  ['IN_REVIEW', 1],
  ['PROCESSING', 2],
  ['TO_RETRY', 2],
  ['ACTIVE', 3],
  ['PAUSED', 3],
  ['ANTICIPATED_PAUSE', 3],
  ['SUCCESS', 4],
  ['FAILED', 4],
  ['FINISHED', 5],
]);

/** The rank of a status no lifecycle step has, or of none. */
const UNRANKED = -1;

/**
 * Longest `status`, `type` and `reason` kept in the record. Symphony's are short words (`ACTIVE`,
 * `get_playlisted`, `end_date_changed`), and keeping them short keeps them, with the status the current state
 * is moved by, within the record's metadata limit whatever else the payload holds.
 */
const MAX_OWN_FIELD = 256;

/**
 * The record's metadata: Symphony's own `status`, `type` and `reason`, and its free-form `metadata` object
 * under its own name, so that nothing in the free-form object can stand in for Symphony's own fields. The
 * free-form object is left to the raw body when it would take the metadata past its limit, so that the
 * status always reaches the current state.
 */
function metadataOf(event: SymphonyEvent): Record<string, unknown> {
  const own = {
    status: event.status === null ? null : cut(event.status, MAX_OWN_FIELD),
    type: event.type === null ? null : cut(event.type, MAX_OWN_FIELD),
    reason: event.reason === null ? null : cut(event.reason, MAX_OWN_FIELD),
  };
  if (event.metadata === null) return own;
  const withFreeForm = { ...own, metadata: event.metadata };
  return Buffer.byteLength(JSON.stringify(withFreeForm)) <= MAX_METADATA_BYTES ? withFreeForm : own;
}

/** Validates and normalizes a Symphony payload. Never throws. */
export function interpretSymphony(payload: unknown, receivedAt: string): Interpretation {
  if (!isJsonObject(payload)) return { ok: false, reason: 'payload is not a JSON object' };
  if (typeof payload.event === 'string' && !(SYMPHONY_EVENTS as readonly string[]).includes(payload.event)) {
    return { ok: false, reason: unknownNameReason('event', payload.event) };
  }
  const result = v.safeParse(SymphonyEventSchema, payload);
  if (!result.success)
    return { ok: false, reason: `invalid Symphony event: ${describeIssues(result.issues)}` };
  const event = result.output;
  return {
    ok: true,
    record: {
      ...baseRecord({
        // No event id and no time in the payload: a retry repeats the same body, so the body is the key.
        id: buildRecordId('symphony', [canonicalJson(payload)]),
        provider: 'symphony',
        event: event.event,
        // The payload has no time of its own; when it was received stands in, so the event-time rule that
        // every other provider applies holds here by construction.
        created_at: receivedAt,
        received_at: receivedAt,
      }),
      campaign_id: event.id,
      platform: event.provider,
      metadata: metadataOf(event),
    },
  };
}

/** The campaign's current state, moved by every event (see {@link SYMPHONY_STATUS_RANK}). */
export function symphonyState(record: EventRecord): StateUpdate | undefined {
  if (!record.campaign_id) return undefined;
  const status = typeof record.metadata?.status === 'string' ? record.metadata.status : null;
  return {
    key: record.campaign_id,
    rank: (status === null ? undefined : SYMPHONY_STATUS_RANK.get(status)) ?? UNRANKED,
    fields: { status, event: record.event, updated_at: record.received_at, record_id: record.id },
  };
}

/**
 * The version of this mapping ({@link interpretSymphony} and its schemas): raised by one with any change that could make a
 * stored body give another record, so that `events reprocess --normalizer symphony@<old>` finds what the earlier
 * one made.
 */
export const SYMPHONY_NORMALIZER_VERSION = 1;

/** Symphony Ads API. Its document names no signature: a URL token by default. */
export const symphony: Provider = {
  name: 'symphony',
  normalizerVersion: SYMPHONY_NORMALIZER_VERSION,
  auth: { scheme: { kind: 'url-token' } },
  events: SYMPHONY_EVENTS,
  maxBodyBytes: SMALL_EVENT_MAX_BODY_BYTES,
  timeIsReceipt: true,
  interpret: interpretSymphony,
  stateOf: symphonyState,
};
