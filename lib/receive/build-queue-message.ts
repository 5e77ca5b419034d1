import { INLINE_RAW_BYTES } from '../blobs/raw-store';
import {
  type EventRecord,
  MAX_METADATA_BYTES,
  MAX_TEXT_FIELD,
  QUEUE_MESSAGE_VERSION,
  type QueueMessage,
} from '../events/event-record';
import { normalizerOf } from '../events/normalizer';
import { buildQuarantineId } from '../events/record-id';
import { DEFAULT_APP } from '../providers/apps';
import type { Delivery, Provider } from '../providers/provider';
import { capReason } from '../providers/validation';
import { toAsciiJson } from '../queue/event-queue';
import { policyFor } from './event-policy';

// `ignoreBOM: true` keeps a byte-order mark in the text, so the raw body travels byte for byte.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeUtf8(raw: Uint8Array): string | undefined {
  try {
    return utf8.decode(raw);
  } catch {
    return undefined;
  }
}

/**
 * Turns an authentic body into the one message the queue carries: the normalized record when the provider's
 * schemas understand it, else a quarantine note with the reason. Nothing authentic is dropped: a delivery
 * that passed authentication is kept even when it is not understood, and so is one whose normalized record
 * would exceed {@link MAX_RECORD_BYTES}. The raw body travels as text when it is valid UTF-8, else as base64.
 *
 * Every message fits {@link MAX_QUEUE_MESSAGE_BYTES} once a raw body over {@link INLINE_RAW_BYTES} is replaced
 * by its reference (the receive function does that), and every item stored from it fits DynamoDB's 400 KB.
 *
 * The record says which mapping made it (`normalizer`, `<provider>@<version>`) and which app it came for (`app`,
 * {@link DEFAULT_APP} unless `delivery` names another); a quarantine note keeps the app and the delivery id, so
 * that a reprocess builds the record receipt would have built.
 *
 * @param delivery what the request said of the delivery besides its body (its id header, the app of its URL),
 *   when it is known: a delivery processed again from its stored body has what was kept of it
 * @returns never throws.
 */
export function buildQueueMessage(
  provider: Provider,
  raw: Uint8Array,
  receivedAt: string,
  delivery?: Delivery,
): QueueMessage {
  const text = decodeUtf8(raw);
  const body =
    text === undefined
      ? { raw: Buffer.from(raw).toString('base64'), raw_encoding: 'base64' as const }
      : { raw: text, raw_encoding: 'utf8' as const };
  const deliveryId = deliveryIdOf(provider, delivery);
  const app = delivery?.app ?? DEFAULT_APP;
  const quarantine = (reason: string): QueueMessage => {
    const record = {
      // A provider keyed by its delivery id may send one body under two ids (two events alike): they stay two
      // entries. No header value holds a NUL, so the id and the body cannot be told apart two ways.
      id: buildQuarantineId(
        provider.name,
        deliveryId === undefined ? raw : Buffer.concat([Buffer.from(`${deliveryId}\u0000`), raw]),
      ),
      provider: provider.name,
      reason: capReason(reason),
      received_at: receivedAt,
      // What a reprocess needs besides the body to key the record as it would have been keyed at receipt.
      ...(deliveryId === undefined ? {} : { delivery_id: deliveryId }),
      ...(app === DEFAULT_APP ? {} : { app }),
    };
    return fitRaw(
      { v: QUEUE_MESSAGE_VERSION, kind: 'quarantine', record, ...body },
      raw,
      toAsciiJson(record).length,
    );
  };

  if (text === undefined) return quarantine('body is not valid UTF-8');
  // JSON text may start with a byte-order mark, which JSON.parse does not take.
  const json = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let payload: unknown;
  try {
    payload = JSON.parse(json);
  } catch (error) {
    return quarantine(`invalid JSON: ${describeJsonError(error)}`);
  }
  if (mayNestDeeper(text, MAX_JSON_DEPTH) && exceedsDepth(payload, MAX_JSON_DEPTH))
    return quarantine(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  let interpretation: ReturnType<Provider['interpret']>;
  try {
    interpretation = provider.interpret(payload, receivedAt, json, delivery);
  } catch (error) {
    // A provider's schemas should never throw; if one does, the delivery is still kept.
    return quarantine(`could not interpret: ${error instanceof Error ? error.name : 'error'}`);
  }
  if (!interpretation.ok) return quarantine(interpretation.reason);
  const record = {
    ...capRecord(interpretation.record, raw.length),
    normalizer: normalizerOf(provider),
    app,
    trace_id: delivery?.traceId ?? null,
  };
  const recordBytes = toAsciiJson(record).length;
  if (recordBytes > MAX_RECORD_BYTES) return quarantine(`normalized record over ${MAX_RECORD_BYTES} bytes`);
  const policy = policyFor(provider, record);
  const kept = deliveryId === undefined ? {} : { delivery_id: deliveryId };
  return fitRaw(
    { v: QUEUE_MESSAGE_VERSION, kind: 'event', record, policy, ...kept, ...body },
    raw,
    recordBytes + toAsciiJson(policy).length,
  );
}

/** The longest delivery id kept with a quarantined delivery: an id is a part of a key (see `IdSchema`). */
const MAX_DELIVERY_ID_LENGTH = 256;

/** The delivery id of a provider keyed by one, when the request sent a usable one. */
function deliveryIdOf(provider: Provider, delivery: Delivery | undefined): string | undefined {
  const id = delivery?.id;
  if (provider.deliveryIdHeader === undefined || !id || id.length > MAX_DELIVERY_ID_LENGTH) return undefined;
  return id;
}

/**
 * The most one queue message takes, in the queue's encoding (ASCII JSON): SQS's limit was 256 KiB until it was
 * raised to 1 MiB, and a queue may still be set to 256 KiB. Staying within it, no message depends on how its
 * queue is configured.
 */
export const MAX_QUEUE_MESSAGE_BYTES = 256 * 1024;

/**
 * The most a normalized record takes, in the queue's encoding (ASCII JSON). It leaves room in a message for a
 * raw body at {@link INLINE_RAW_BYTES} as base64 (a third more), and in an item for the same body compressed:
 * ASCII JSON never takes fewer bytes than the UTF-8 that DynamoDB counts. The providers cut their free-text
 * fields well within it; a record over it is a sender filling every field, and is quarantined with its raw body.
 */
export const MAX_RECORD_BYTES = 96 * 1024;

/**
 * Keeps a message with its raw body inline within {@link MAX_QUEUE_MESSAGE_BYTES}. The body travels as text
 * when it is valid UTF-8, but escaped for the queue a character can take six bytes (a control character, any
 * letter outside ASCII): a text body that would take the message past the limit travels as base64 instead,
 * which never takes more than four bytes for three. A body over {@link INLINE_RAW_BYTES} is carried by
 * reference instead, and keeps its encoding.
 * @param recordBytes the record's size in the queue's encoding
 */
function fitRaw(message: QueueMessage, raw: Uint8Array, recordBytes: number): QueueMessage {
  if (message.raw_encoding === 'base64' || raw.length > INLINE_RAW_BYTES) return message;
  // Six bytes for each UTF-16 unit is the most escaping costs: only a message that could overflow is measured.
  if (recordBytes + message.raw.length * 6 + ENVELOPE_BYTES <= MAX_QUEUE_MESSAGE_BYTES) return message;
  if (toAsciiJson(message).length <= MAX_QUEUE_MESSAGE_BYTES) return message;
  return { ...message, raw: Buffer.from(raw).toString('base64'), raw_encoding: 'base64' };
}

/** More than the message's fixed fields take besides the record and the raw body. */
const ENVELOPE_BYTES = 1024;

/**
 * Deeper JSON than this is quarantined: serializing it again (for the queue, for the table) would overflow the
 * stack, and no webhook payload nests anywhere near it.
 */
export const MAX_JSON_DEPTH = 64;

export { MAX_METADATA_BYTES, MAX_TEXT_FIELD };

/**
 * `false` when the JSON text holds no more than `limit` opening brackets, so that what it parses to cannot
 * nest deeper than `limit`: a count the engine does natively, where walking the parsed value allocates.
 */
function mayNestDeeper(text: string, limit: number): boolean {
  let openers = 0;
  for (const bracket of ['{', '[']) {
    for (let at = text.indexOf(bracket); at !== -1; at = text.indexOf(bracket, at + 1)) {
      if (++openers > limit) return true;
    }
  }
  return false;
}

/** `true` when `value` nests deeper than `limit` arrays/objects. Iterative: deep input cannot overflow it. */
export function exceedsDepth(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (typeof current !== 'object' || current === null) continue;
    if (depth >= limit) return true;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * Keeps a record small enough for one DynamoDB item next to a raw body at the size limit (400 KB per item):
 * free-text fields are cut at {@link MAX_TEXT_FIELD} characters and oversized metadata left to the raw body.
 */
function capRecord(record: EventRecord, rawBytes: number): EventRecord {
  const cut = (value: string | null) =>
    value && value.length > MAX_TEXT_FIELD ? value.slice(0, MAX_TEXT_FIELD) : value;
  // Serializing parsed JSON again never lengthens a string, and a number at most about fivefold (`9e20` comes
  // back as 21 digits): metadata out of a body of a sixth of the limit cannot exceed it, and is not measured.
  const metadata =
    record.metadata &&
    rawBytes * 6 > MAX_METADATA_BYTES &&
    Buffer.byteLength(JSON.stringify(record.metadata)) > MAX_METADATA_BYTES
      ? null
      : record.metadata;
  const geo = record.geolocation;
  return {
    ...record,
    campaign_name: cut(record.campaign_name),
    material_name: cut(record.material_name),
    platform: cut(record.platform),
    metadata,
    geolocation: geo && {
      viewer_country: cut(geo.viewer_country),
      viewer_region: cut(geo.viewer_region),
      viewer_city: cut(geo.viewer_city),
    },
  };
}

/** The parser's complaint without the snippet of body that newer Node versions quote in it. */
function describeJsonError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const position = /position (\d+)/.exec(message);
  if (message.includes('Unexpected end')) return 'unexpected end of input';
  return position ? `unexpected token at position ${position[1]}` : 'unexpected token';
}
