import * as v from 'valibot';
import { buildRecordId } from '../events/record-id';
import { topLevelIntegerLiterals } from './exact-integers';
import type { Interpretation, Provider } from './provider';
import {
  baseRecord,
  describeIssues,
  eventTimeIssue,
  IdSchema,
  isJsonObject,
  Optional,
  SMALL_EVENT_MAX_BODY_BYTES,
  unknownNameReason,
} from './validation';

// Optimizely Campaign webhooks: one JSON object per event with `type`, `id`, `created` (epoch milliseconds),
// recipient, mailing and client ids. Deliveries come from one fixed address (193.169.180.1).

/** Optimizely's event types and their canonical names. */
export const OPTIMIZELY_EVENTS = {
  bounce: 'email.bounce',
  sent: 'email.sent',
  open: 'email.open',
  click: 'email.click',
  unsubscribe: 'email.unsubscribe',
} as const;

/** The address Optimizely Campaign sends from: its document allows deliveries "from the IP address 193.169.180.1". */
export const OPTIMIZELY_SENDER_IP = '193.169.180.1';

/**
 * An id sent as a string or as a JSON number (its sample sends `clientId`, `mailingId` as numbers). A number is
 * kept as its digits only while JSON keeps it exactly (up to 2^53); a larger one is read as written from the
 * body's text before it gets here (see {@link exactIds}), so one that still comes as a number was rounded, and
 * would make two ids one.
 */
const IdLike = v.union(
  [IdSchema, v.pipe(v.number(), v.safeInteger(), v.transform(String))],
  'expected a string, or an integer JSON keeps exactly',
);

/** The ids that may come as JSON numbers, at the payload's top level. */
const NUMERIC_ID_FIELDS = ['recipientId', 'clientId', 'mailingId', 'mailId'] as const;

/**
 * The payload with each id that JSON.parse rounded (an integer above 2^53) replaced by its digits as written
 * in `source`, so that `…993` and `…992` stay two ids. Without a source, or when the text does not write the
 * id as plain digits, the rounded number stays, and the schema refuses it.
 */
function exactIds(payload: Record<string, unknown>, source: string | undefined): Record<string, unknown> {
  const rounded = NUMERIC_ID_FIELDS.filter((field) => {
    const value = payload[field];
    return typeof value === 'number' && !Number.isSafeInteger(value);
  });
  if (rounded.length === 0 || source === undefined) return payload;
  const exact = { ...payload };
  for (const [field, digits] of topLevelIntegerLiterals(source, new Set(rounded))) exact[field] = digits;
  return exact;
}

/**
 * One Optimizely Campaign event: a known `type`, its `id`, its `created` time (epoch milliseconds, read as
 * ISO 8601) and the ids a record takes. Other members are kept: a field the provider adds is no refusal.
 */
export const OptimizelyEventSchema = v.looseObject({
  type: v.picklist(Object.keys(OPTIMIZELY_EVENTS) as (keyof typeof OPTIMIZELY_EVENTS)[]),
  id: IdSchema,
  // Epoch milliseconds; whether the instant is plausible is the shared event-time rule's call.
  created: v.pipe(
    v.number(),
    v.integer(),
    v.check((ms) => !Number.isNaN(new Date(ms).getTime()), 'expected epoch milliseconds'),
    v.transform((ms) => new Date(ms).toISOString()),
  ),
  recipientId: Optional(IdLike),
  clientId: Optional(IdLike),
  mailingId: Optional(IdLike),
  mailId: Optional(IdLike),
  mediaType: Optional(v.string()),
  category: Optional(v.string()),
  reason: Optional(v.string()),
});

/** Validates and normalizes an Optimizely Campaign payload. Never throws. */
export function interpretOptimizely(payload: unknown, receivedAt: string, source?: string): Interpretation {
  if (!isJsonObject(payload)) return { ok: false, reason: 'payload is not a JSON object' };
  if (typeof payload.type === 'string' && !Object.hasOwn(OPTIMIZELY_EVENTS, payload.type)) {
    return { ok: false, reason: unknownNameReason('type', payload.type) };
  }
  const result = v.safeParse(OptimizelyEventSchema, exactIds(payload, source));
  if (!result.success)
    return { ok: false, reason: `invalid Optimizely event: ${describeIssues(result.issues)}` };
  const event = result.output;
  const timeIssue = eventTimeIssue('created', event.created, receivedAt);
  if (timeIssue) return { ok: false, reason: `invalid Optimizely event: ${timeIssue}` };
  return {
    ok: true,
    record: {
      ...baseRecord({
        id: buildRecordId('optimizely', [event.id]),
        provider: 'optimizely',
        event: OPTIMIZELY_EVENTS[event.type],
        created_at: event.created,
        received_at: receivedAt,
      }),
      account_id: event.clientId,
      // A mailing is the campaign; its recipient stands where SORI has a device (unique recipients per day).
      campaign_id: event.mailingId,
      material_id: event.mailId,
      activity_id: event.id,
      device_id: event.recipientId,
      platform: event.mediaType,
      metadata: { category: event.category, reason: event.reason },
    },
  };
}

/**
 * The version of this mapping ({@link interpretOptimizely} and its schemas): raised by one with any change that could make a
 * stored body give another record, so that `events reprocess --normalizer optimizely@<old>` finds what the earlier
 * one made.
 */
export const OPTIMIZELY_NORMALIZER_VERSION = 1;

/** Optimizely Campaign: a URL token by default; add its sender address with configuration. */
export const optimizely: Provider = {
  name: 'optimizely',
  normalizerVersion: OPTIMIZELY_NORMALIZER_VERSION,
  auth: { scheme: { kind: 'url-token' } },
  events: Object.values(OPTIMIZELY_EVENTS),
  counted: { 'email.open': 'impressions', 'email.click': 'clicks' },
  maxBodyBytes: SMALL_EVENT_MAX_BODY_BYTES,
  interpret: interpretOptimizely,
};
