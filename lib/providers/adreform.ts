import * as v from 'valibot';
import { buildRecordId } from '../events/record-id';
import type { Interpretation, Provider } from './provider';
import {
  baseRecord,
  describeIssues,
  eventTimeIssue,
  IdSchema,
  IsoDateTimeSchema,
  isJsonObject,
  Optional,
  unknownNameReason,
} from './validation';

// Ad Reform's webhooks: the envelope `{id: "evt_…", type: "event", created_at, topic, data: {object}}`. Any
// non-2xx is retried up to 20 times with exponential backoff, over days: the key is the event id alone, and the
// record outlives the retries (retention is a year by default).

/** The Ad Reform topics understood, and the event names its records carry: any other topic is quarantined. */
export const ADREFORM_TOPICS = ['screenshot_set.approved'] as const;

/** The largest Ad Reform body accepted, when the deployment's `maxBodyBytes` allows it (it does by default). */
export const ADREFORM_MAX_BODY_BYTES = 4 * 1024 * 1024;

/**
 * An Ad Reform webhook's envelope, with the fields of `data.object` a record takes; other members are kept,
 * so a field the provider adds later does not make its deliveries invalid.
 */
export const AdReformEventSchema = v.looseObject({
  id: v.pipe(IdSchema, v.startsWith('evt_', 'expected an event id starting with evt_')),
  type: v.literal('event'),
  created_at: IsoDateTimeSchema,
  topic: v.picklist(ADREFORM_TOPICS),
  data: v.looseObject({
    object: v.looseObject({
      type: Optional(v.string()),
      id: Optional(IdSchema),
      campaign_id: Optional(IdSchema),
      status: Optional(v.string()),
      screenshots: Optional(v.array(v.unknown())),
    }),
  }),
});

/** Validates and normalizes an Ad Reform payload. Never throws. */
export function interpretAdReform(payload: unknown, receivedAt: string): Interpretation {
  if (!isJsonObject(payload)) return { ok: false, reason: 'payload is not a JSON object' };
  if (typeof payload.topic === 'string' && !(ADREFORM_TOPICS as readonly string[]).includes(payload.topic)) {
    return { ok: false, reason: unknownNameReason('topic', payload.topic) };
  }
  const result = v.safeParse(AdReformEventSchema, payload);
  if (!result.success)
    return { ok: false, reason: `invalid Ad Reform event: ${describeIssues(result.issues)}` };
  const event = result.output;
  const timeIssue = eventTimeIssue('created_at', event.created_at, receivedAt);
  if (timeIssue) return { ok: false, reason: `invalid Ad Reform event: ${timeIssue}` };
  const object = event.data.object;
  return {
    ok: true,
    record: {
      ...baseRecord({
        id: buildRecordId('adreform', [event.id]),
        provider: 'adreform',
        event: event.topic,
        created_at: event.created_at,
        received_at: receivedAt,
      }),
      campaign_id: object.campaign_id,
      material_id: object.id,
      activity_id: event.id,
      metadata: { status: object.status, screenshots: object.screenshots?.length ?? 0 },
    },
  };
}

/**
 * The version of this mapping ({@link interpretAdReform} and its schemas): raised by one with any change that could make a
 * stored body give another record, so that `events reprocess --normalizer adreform@<old>` finds what the earlier
 * one made.
 */
export const ADREFORM_NORMALIZER_VERSION = 1;

/** Ad Reform: large bodies (screenshot sets), retried for days. A URL token by default. */
export const adreform: Provider = {
  name: 'adreform',
  normalizerVersion: ADREFORM_NORMALIZER_VERSION,
  auth: { scheme: { kind: 'url-token' } },
  events: ADREFORM_TOPICS,
  // Screenshot sets grow with their screenshots, and its document sets no size. 4 MiB is the most a Lambda
  // invocation carries (6 MB) once API Gateway has base64-encoded it (a third more) with room for the headers.
  maxBodyBytes: ADREFORM_MAX_BODY_BYTES,
  interpret: interpretAdReform,
};
