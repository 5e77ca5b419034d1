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
 * Joins valibot issues into one line a person can act on, e.g. `campaign.id: expected a non-empty string`.
 */
export function describeIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  return issues
    .slice(0, 5)
    .map((issue) => {
      const path = v.getDotPath(issue);
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
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
