import * as v from 'valibot';
import type { EventRecord } from '../events/event-record';

const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:Z|([+-])(\d{2}):?(\d{2}))$/;

const isLeapYear = (year: number) => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * The instant (epoch ms) an ISO 8601 date-time stands for, or `undefined` when it names no real calendar
 * date-time: a month outside 01-12, a day its month does not have (2025-02-30), an hour over 23 (24:00:01), a
 * minute or second over 59, an offset of 24 hours or more. `Date.parse` is not trusted with this: it rolls
 * 2025-02-30 over into 2 March instead of refusing it.
 */
export function calendarInstant(value: string): number | undefined {
  const match = ISO_DATE_TIME.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s = '0', fraction = '', sign, oh = '0', om = '0'] = match;
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const [offsetHours, offsetMinutes] = [Number(oh), Number(om)];
  if (month < 1 || month > 12) return undefined;
  const lastDay = month === 2 && isLeapYear(year) ? 29 : (DAYS_IN_MONTH[month - 1] as number);
  if (day < 1 || day > lastDay) return undefined;
  if (hour > 23 || minute > 59 || second > 59 || offsetHours > 23 || offsetMinutes > 59) return undefined;
  const millisecond = Number(fraction.padEnd(3, '0').slice(0, 3));
  // Date.UTC reads years 0 to 99 as 1900 to 1999; setUTCFullYear takes them as written.
  let instant = Date.UTC(year, month - 1, day, hour, minute, second, millisecond);
  if (year < 100) {
    const date = new Date(0);
    date.setUTCFullYear(year, month - 1, day);
    date.setUTCHours(hour, minute, second, millisecond);
    instant = date.getTime();
  }
  return instant - (sign === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
}

/**
 * An ISO 8601 date-time with a time zone that names a real calendar date-time (see {@link calendarInstant}),
 * normalized to `toISOString()` form (UTC, milliseconds). Whether it lies in the accepted range depends on when
 * it was received: {@link eventTimeIssue}.
 */
export const IsoDateTimeSchema = v.pipe(
  v.string(),
  v.regex(ISO_DATE_TIME, 'expected an ISO 8601 date-time'),
  // Checked only once the form is right, so a malformed value gets one reason, not two.
  v.check((value) => instantOf(value) !== undefined, 'expected a real calendar date-time'),
  v.transform((value) => (isCanonical(value) ? value : new Date(instantOf(value) as number).toISOString())),
);

/**
 * `true` for a value already in `toISOString()` form (`2025-10-14T05:15:44.832Z`, as SORI sends it): once the
 * check has found it a real date-time, normalizing would give it back unchanged.
 */
const isCanonical = (value: string) => value.length === 24 && value[19] === '.' && value[23] === 'Z';

/** {@link calendarInstant} of the value the schema checked last: the check and the transform read it once. */
let lastValue: string | undefined;
let lastInstant: number | undefined;
function instantOf(value: string): number | undefined {
  if (value !== lastValue) {
    lastValue = value;
    lastInstant = calendarInstant(value);
  }
  return lastInstant;
}

/** The earliest time an event may have happened; anything earlier is a wrong clock or a wrong unit. */
export const EARLIEST_EVENT_TIME = '2000-01-01T00:00:00.000Z';
/** How far after its receipt an event may say it happened: the sender's clock may run ahead, not by days. */
export const EVENT_TIME_LEEWAY_MS = 86_400_000;

/**
 * The one rule every provider applies to the time that becomes a record's `created_at`: it must lie within
 * [{@link EARLIEST_EVENT_TIME}, receipt + {@link EVENT_TIME_LEEWAY_MS}]. That time picks the day an event is
 * stored and counted under; one outside this range would sit under a day no query, stat or dashboard reaches
 * (year 9999, or `+275760` from epoch milliseconds). "Now" is the receive time, so the rule is deterministic.
 *
 * @param field the field as the provider names it, for the reason
 * @param createdAt the event time, normalized (`toISOString()` form)
 * @param receivedAt when the delivery was received (`toISOString()` form)
 * @returns why the time is refused (a quarantine reason), or `undefined` when it is in range
 */
export function eventTimeIssue(field: string, createdAt: string, receivedAt: string): string | undefined {
  const at = Date.parse(createdAt);
  if (at < EARLIEST_EVENT_INSTANT) return `${field} ${createdAt} is before ${EARLIEST_EVENT_TIME}`;
  const latest = Date.parse(receivedAt) + EVENT_TIME_LEEWAY_MS;
  if (at > latest) {
    return `${field} ${createdAt} is after ${new Date(latest).toISOString()} (one day after it was received)`;
  }
  return undefined;
}

const EARLIEST_EVENT_INSTANT = Date.parse(EARLIEST_EVENT_TIME);

/**
 * The body limit of providers whose events are one small JSON object each (about a kilobyte): far above any of
 * them, and a forged or runaway body costs no more than this before it is refused.
 */
export const SMALL_EVENT_MAX_BODY_BYTES = 256 * 1024;

/** A JSON object of any keys; valibot's `record` would turn an array into an object instead of refusing it. */
export const JsonObjectSchema = v.custom<Record<string, unknown>>(
  (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
  'expected an object',
);

/**
 * An identifier: at least one character (no provider documents an empty one) and at most 256, since ids become parts
 * of DynamoDB keys (2,048 bytes at most).
 */
export const IdSchema = v.pipe(
  v.string(),
  v.minLength(1, 'expected a non-empty string'),
  v.maxLength(256, 'expected at most 256 characters'),
);

/** A field marked `null` when no value is available, which "may be omitted entirely": absent reads as `null`. */
export const Optional = <T extends v.GenericSchema>(schema: T) => v.nullish(schema, null);

/**
 * The longest quarantine reason. A reason is stored with the quarantined delivery, logged, and answered to the
 * sender: it stays one line a person reads, whatever came in (the raw body keeps the whole value).
 */
export const MAX_REASON_LENGTH = 500;
/** The longest rule or field path one issue contributes to a reason. */
const MAX_PART_LENGTH = 120;
/** How many fields a reason names at most: the first few are enough to act on, and the raw body has the rest. */
const MAX_ISSUES = 5;

/** Cuts `text` to at most `limit` characters, marking the cut with `…` and never splitting a surrogate pair. */
export function cut(text: string, limit: number): string {
  if (text.length <= limit) return text;
  let end = limit - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/** Cuts a reason to {@link MAX_REASON_LENGTH} characters: any provider's reason, before it is kept. */
export const capReason = (reason: string) => cut(reason, MAX_REASON_LENGTH);

/** What kind of JSON value `value` is, in words: what a reason says instead of the value. */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

/**
 * The rule an issue states. valibot's own messages end with the value received, quoted whole (`Invalid type:
 * Expected "event" but received "<the value>"`): those are rebuilt from the rule (`expected "event"`) and the
 * kind of value received. The messages the schemas give themselves name the rule only, and are kept.
 */
function ruleOf(issue: v.BaseIssue<unknown>): string {
  const quotesInput = issue.message.endsWith(`eceived ${issue.received}`);
  if (!quotesInput) return issue.message;
  const received = `received ${kindOf(issue.input)}`;
  return issue.expected
    ? `expected ${issue.expected}, ${received}`
    : `failed the ${issue.type} rule, ${received}`;
}

/**
 * Joins valibot issues into one line a person can act on, e.g. `campaign.id: expected a non-empty string`: each
 * names the field path and the rule, never the value received (a sender's value can be megabytes long and
 * holds anything). One issue per field, at most {@link MAX_ISSUES}, each part and the whole line capped.
 */
export function describeIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  const byPath = new Map<string, string>();
  for (const issue of issues) {
    if (byPath.size === MAX_ISSUES) break;
    const path = cut(v.getDotPath(issue) ?? '', MAX_PART_LENGTH);
    // The first issue of a field is the one to fix first (a malformed date-time is not also "no real date").
    if (!byPath.has(path)) byPath.set(path, cut(ruleOf(issue), MAX_PART_LENGTH));
  }
  return capReason([...byPath].map(([path, rule]) => (path ? `${path}: ${rule}` : rule)).join('; '));
}

/** Any name at most 64 characters long of letters, digits and `_ . : -`, starting with a letter or digit. */
const PLAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

/**
 * The reason for an event name a provider does not know. A plain name is quoted, so that the deliveries of one
 * new event type can be told apart and reprocessed together once it is supported; anything else (long, control
 * characters, quotes, a formula) is not a name any provider sends, and is described instead of quoted.
 * @param field the field as the provider names it (`event`, `topic`, `type`)
 */
export function unknownNameReason(field: string, value: string): string {
  return PLAIN_NAME.test(value)
    ? `unknown ${field} "${value}"`
    : `unknown ${field}: not a known ${field} name`;
}

/** `true` for a JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A record with every optional field `null`, for providers to fill in what they know. */
export function baseRecord(fields: {
  id: string;
  provider: string;
  event: string;
  created_at: string;
  received_at: string;
}): EventRecord {
  return {
    account_id: null,
    campaign_id: null,
    campaign_name: null,
    material_id: null,
    material_name: null,
    activity_id: null,
    device_id: null,
    platform: null,
    metadata: null,
    geolocation: null,
    ...fields,
  };
}
