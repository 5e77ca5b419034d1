import * as v from 'valibot';
import type { EventRecord } from '../records/event-record';

/** An ISO 8601 date-time with a time zone, normalized to `toISOString()` form (UTC, milliseconds). */
export const IsoDateTimeSchema = v.pipe(
  v.string(),
  v.regex(
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/,
    'expected an ISO 8601 date-time',
  ),
  v.check((value) => !Number.isNaN(Date.parse(value)), 'expected a valid date'),
  v.transform((value) => new Date(value).toISOString()),
);

/** A JSON object of any keys; valibot's `record` would turn an array into an object instead of refusing it. */
export const JsonObjectSchema = v.custom<Record<string, unknown>>(
  (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
  'expected an object',
);

/**
 * An identifier: at least one character (the seeds' are never empty) and at most 256, since ids become parts
 * of DynamoDB keys (2,048 bytes at most).
 */
export const IdSchema = v.pipe(
  v.string(),
  v.minLength(1, 'expected a non-empty string'),
  v.maxLength(256, 'expected at most 256 characters'),
);

/** A field the seed marks `null` when no value is available, which "may be omitted entirely". */
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
