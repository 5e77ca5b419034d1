import * as v from 'valibot';
import { ConfigError } from '../errors';
import { buildRecordId } from '../events/record-id';
import { parseSignedContent, placeholdersOf } from '../signature/signed-content';
import { topLevelIntegerLiterals } from './exact-integers';
import { isBuiltInProvider, providerNames, setConfiguredProviders } from './index';
import type { Delivery, HmacScheme, Interpretation, Provider } from './provider';
import {
  STANDARD_WEBHOOKS_HEADERS,
  STANDARD_WEBHOOKS_TOLERANCE_SECONDS,
  standardWebhooksScheme,
} from './standard-webhooks';
import {
  baseRecord,
  capReason,
  eventTimeIssue,
  IsoDateTimeSchema,
  isJsonObject,
  kindOf,
  SMALL_EVENT_MAX_BODY_BYTES,
  unknownNameReason,
} from './validation';

// A provider that signs JSON with an HMAC is described by configuration alone: how its requests are signed,
// and where in its JSON the fields a record needs are. The same schema reads the CDK context value
// `customProviders` at synth and the `CUSTOM_PROVIDERS` environment variable at cold start, so what deploys is
// what runs.

/** A provider's name: its `/webhooks/<name>` path segment, a metric dimension, the prefix of its record ids. */
const NameSchema = v.pipe(
  v.string(),
  v.regex(
    /^[a-z][a-z0-9-]{1,31}$/,
    'expected 2 to 32 lower-case letters, digits or hyphens, starting with a letter',
  ),
  v.check((name) => !isBuiltInProvider(name), 'is the name of a built-in provider'),
);

/** A header name (RFC 9110 token), lower-cased: API Gateway hands headers over with lower-case names. */
const HeaderSchema = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/, 'expected a header name'),
  v.toLowerCase(),
);

/** Where a value is in the JSON body: member names (or array indexes) joined by dots, at most 8 deep. */
const PathSchema = v.pipe(
  v.string(),
  v.regex(/^[^.\s]{1,64}(?:\.[^.\s]{1,64}){0,7}$/, 'expected a dot path like data.campaign_id'),
);

const EventNamesSchema = v.pipe(
  v.array(v.pipe(v.string(), v.minLength(1, 'expected an event name'), v.maxLength(64))),
  v.maxLength(100, 'expected at most 100 event names'),
);

const ToleranceSchema = v.pipe(
  v.number(),
  v.integer('expected whole seconds'),
  v.minValue(1, 'expected at least 1 second'),
  v.maxValue(86_400, 'expected at most 86400 seconds (a day)'),
);

const FieldsSchema = v.strictObject({
  /** The id that stays the same on every retry of an event; absent: the delivery id header's value. */
  id: v.optional(PathSchema),
  /** When the event happened; absent: when it was received. */
  time: v.optional(PathSchema),
  event: PathSchema,
  campaign: PathSchema,
  device: v.optional(PathSchema),
  campaign_name: v.optional(PathSchema),
});

/** What every configured provider has, whichever its scheme. */
const commonEntries = {
  name: NameSchema,
  fields: FieldsSchema,
  /** How `fields.time` is written: an ISO 8601 date-time with a zone, or Unix seconds or milliseconds. */
  timeFormat: v.optional(v.picklist(['iso8601', 'unix-seconds', 'unix-milliseconds']), 'iso8601'),
  /** The event names it sends; when given, any other is quarantined (and counted per event only these). */
  events: v.optional(EventNamesSchema),
  /** Which of its events move the campaign counters. */
  counted: v.optional(
    v.strictObject({
      impressions: v.optional(EventNamesSchema, []),
      clicks: v.optional(EventNamesSchema, []),
    }),
  ),
  allowIps: v.optional(v.array(v.pipe(v.string(), v.minLength(1)))),
  maxBodyBytes: v.optional(
    v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(SMALL_EVENT_MAX_BODY_BYTES * 16)),
  ),
  /**
   * The version of this configuration's mapping (`fields`, `timeFormat`, `events`): raised by one whenever they
   * change, so that the records the earlier one made can be found and normalized again. Absent: 1.
   */
  normalizerVersion: v.optional(
    v.pipe(v.number(), v.integer('expected a whole number'), v.minValue(1), v.maxValue(999_999_999)),
  ),
};

const HmacProviderSchema = v.strictObject({
  ...commonEntries,
  scheme: v.literal('hmac'),
  header: HeaderSchema,
  algorithm: v.picklist(['sha256', 'sha1', 'sha512']),
  /** Absent: hex or base64, whichever the value is. */
  encoding: v.optional(v.picklist(['hex', 'base64'])),
  prefix: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(32))),
  signedContent: v.optional(
    v.pipe(
      v.string(),
      v.rawCheck(({ dataset, addIssue }) => {
        if (!dataset.typed) return;
        const parsed = parseSignedContent(dataset.value);
        if (!Array.isArray(parsed)) addIssue({ message: parsed.error });
      }),
    ),
  ),
  timestampHeader: v.optional(HeaderSchema),
  toleranceSeconds: v.optional(ToleranceSchema),
  idHeader: v.optional(HeaderSchema),
});

const StandardWebhooksProviderSchema = v.strictObject({
  ...commonEntries,
  scheme: v.literal('standard-webhooks'),
  toleranceSeconds: v.optional(ToleranceSchema, STANDARD_WEBHOOKS_TOLERANCE_SECONDS),
});

type Problem = { keys: string[]; message: string };

/** What the fields say together, beyond what each says alone. */
function problemsOf(config: v.InferOutput<typeof VariantSchema>): Problem[] {
  const problems: Problem[] = [];
  if (config.scheme === 'hmac') {
    const signed = placeholdersOf(config.signedContent ?? '{body}');
    // A header outside the signed content could be changed by anyone replaying a captured delivery.
    if (config.timestampHeader && !signed.has('timestamp'))
      problems.push({
        keys: ['signedContent'],
        message: 'expected {timestamp}: the timestamp must be signed',
      });
    if (signed.has('timestamp') && !config.timestampHeader)
      problems.push({ keys: ['timestampHeader'], message: 'required by {timestamp} in signedContent' });
    if (config.idHeader && !signed.has('id'))
      problems.push({ keys: ['signedContent'], message: 'expected {id}: the id header must be signed' });
    if (signed.has('id') && !config.idHeader)
      problems.push({ keys: ['idHeader'], message: 'required by {id} in signedContent' });
    if (config.toleranceSeconds !== undefined && !config.timestampHeader)
      problems.push({ keys: ['toleranceSeconds'], message: 'applies to a timestampHeader, and none is set' });
    if (!config.fields.id && !config.idHeader)
      problems.push({
        keys: ['fields', 'id'],
        message: 'required (or idHeader): the id that stays the same on every retry of an event',
      });
  }
  const impressions = config.counted?.impressions ?? [];
  const clicks = config.counted?.clicks ?? [];
  for (const [list, names] of [
    ['impressions', impressions],
    ['clicks', clicks],
  ] as const) {
    const unknown = config.events ? names.find((name) => !config.events?.includes(name)) : undefined;
    if (unknown !== undefined)
      problems.push({ keys: ['counted', list], message: `"${unknown}" is not one of events` });
  }
  const both = impressions.find((name) => clicks.includes(name));
  if (both !== undefined)
    problems.push({ keys: ['counted', 'clicks'], message: `"${both}" is counted as impressions too` });
  return problems;
}

const VariantSchema = v.variant('scheme', [HmacProviderSchema, StandardWebhooksProviderSchema]);

/** The issue path of `keys` in `input`, for a problem found across fields. */
function pathOf(input: Record<string, unknown>, keys: string[]): [v.IssuePathItem, ...v.IssuePathItem[]] {
  let current: Record<string, unknown> = input;
  const path = keys.map((key) => {
    const value = current[key];
    const item: v.ObjectPathItem = { type: 'object', origin: 'value', input: current, key, value };
    current = isJsonObject(value) ? value : {};
    return item;
  });
  return path as [v.IssuePathItem, ...v.IssuePathItem[]];
}

/**
 * One configured provider: its name and scheme (`hmac`, or `standard-webhooks`), how its signature is written
 * (`header`, `algorithm`, `encoding`, `prefix`, `signedContent`, `timestampHeader`, `toleranceSeconds`,
 * `idHeader`), where its records' fields are in its JSON (`fields`), and which of its events count. The one
 * schema the CDK app (context `customProviders`) and the functions (`CUSTOM_PROVIDERS`) read it with.
 */
export const CustomProviderSchema = v.pipe(
  VariantSchema,
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    for (const problem of problemsOf(dataset.value))
      addIssue({ message: problem.message, path: pathOf(dataset.value, problem.keys) });
  }),
);
/** One configured provider, as {@link CustomProviderSchema} reads it. */
export type CustomProviderConfig = v.InferOutput<typeof CustomProviderSchema>;

/** The list of configured providers: each by {@link CustomProviderSchema}, every name once. */
export const CustomProvidersSchema = v.pipe(
  v.array(CustomProviderSchema, 'expected a JSON array of providers'),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const seen = new Set<string>();
    dataset.value.forEach((config, index) => {
      if (seen.has(config.name)) {
        addIssue({
          message: 'is configured twice',
          path: [
            { type: 'array', origin: 'value', input: dataset.value, key: index, value: config },
            ...pathOf(config, ['name']),
          ],
        });
      }
      seen.add(config.name);
    });
  }),
);

/**
 * The rule an issue states, in the words of a configuration: a field not known to the provider's scheme, one
 * required and missing, or what was expected and what was given.
 */
function ruleOf(issue: v.BaseIssue<unknown>): string {
  if (issue.type === 'strict_object' && issue.expected === 'never')
    return 'unknown field for this scheme (see docs/custom-providers.md)';
  if (issue.received === 'undefined' && issue.kind === 'schema') return 'required';
  if (issue.message.startsWith('Invalid ') && issue.expected !== null)
    return `expected ${issue.expected}, received ${issue.received}`;
  return issue.message;
}

/** One issue as a line naming the provider and the field, e.g. `provider "acme", fields.campaign: required`. */
function describeIssue(issue: v.BaseIssue<unknown>, input: unknown): string {
  const [index, ...rest] = (v.getDotPath(issue) ?? '').split('.');
  const entry = Array.isArray(input) && index !== undefined ? input[Number(index)] : undefined;
  const name = isJsonObject(entry) && typeof entry.name === 'string' ? entry.name.slice(0, 64) : undefined;
  const provider = name !== undefined ? `provider "${name}"` : index ? `provider #${Number(index) + 1}` : '';
  const field = rest.join('.');
  return [provider, field].filter(Boolean).join(', ') + (provider || field ? ': ' : '') + ruleOf(issue);
}

/**
 * Reads the configured providers, as the CDK context or the environment holds them: a JSON array, as text or
 * already parsed. Absent or empty: none.
 * @param source what the value is called where it was set, for the message (`customProviders`, `CUSTOM_PROVIDERS`)
 * @throws {ConfigError} naming the provider and the field of each problem (up to five).
 */
export function parseCustomProviders(value: unknown, source = 'customProviders'): CustomProviderConfig[] {
  if (value === undefined || value === null || value === '') return [];
  let json = value;
  if (typeof value === 'string') {
    try {
      json = JSON.parse(value);
    } catch {
      throw new ConfigError(`${source} is not JSON: expected an array of providers`);
    }
  }
  const result = v.safeParse(CustomProvidersSchema, json);
  if (!result.success) {
    const lines = [...new Set(result.issues.map((issue) => describeIssue(issue, json)))].slice(0, 5);
    throw new ConfigError(`${source}: ${lines.join('; ')}`);
  }
  return result.output;
}

/** The HMAC scheme a configured provider's requests are authenticated by. */
function schemeOf(config: CustomProviderConfig): HmacScheme {
  if (config.scheme === 'standard-webhooks') return standardWebhooksScheme(config.toleranceSeconds);
  return {
    kind: 'hmac',
    header: config.header,
    algorithm: config.algorithm,
    encoding: config.encoding,
    prefix: config.prefix,
    signedContent: config.signedContent,
    timestamp: config.timestampHeader
      ? {
          header: config.timestampHeader,
          toleranceSeconds: config.toleranceSeconds ?? STANDARD_WEBHOOKS_TOLERANCE_SECONDS,
        }
      : undefined,
    idHeader: config.idHeader,
  };
}

/** The value at a dot path of a parsed body: own members only, array items by their index. */
function valueAt(payload: unknown, path: string): unknown {
  let current = payload;
  for (const segment of path.split('.')) {
    if (Array.isArray(current) && /^\d+$/.test(segment)) current = current[Number(segment)];
    else if (isJsonObject(current) && Object.hasOwn(current, segment)) current = current[segment];
    else return undefined;
  }
  return current;
}

type Read<T> = { value: T } | { issue: string };

/**
 * An identifier at `path`: a string of 1 to 256 characters (ids become parts of DynamoDB keys), or an integer,
 * as its digits. An integer above 2^53 that JSON.parse rounded is read from the text when it is a top-level
 * member, and refused elsewhere: two ids must never become one.
 */
function idAt(payload: unknown, path: string, source: string | undefined): Read<string> | undefined {
  const value = valueAt(payload, path);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'string')
    return value.length <= 256 ? { value } : { issue: `${path}: expected at most 256 characters` };
  if (typeof value === 'number' && Number.isInteger(value)) {
    if (Number.isSafeInteger(value)) return { value: String(value) };
    const literal =
      !path.includes('.') && source ? topLevelIntegerLiterals(source, new Set([path])).get(path) : undefined;
    return literal ? { value: literal } : { issue: `${path}: expected an integer of at most 2^53` };
  }
  return { issue: `${path}: expected a string or an integer, received ${kindOf(value)}` };
}

/** The latest instant a `Date` holds: a Unix time beyond it is no time at all. */
const MAX_DATE_MS = 8.64e15;

/** The event time at `path`, in `toISOString()` form. */
function timeAt(payload: unknown, path: string, format: CustomProviderConfig['timeFormat']): Read<string> {
  const value = valueAt(payload, path);
  if (value === undefined || value === null) return { issue: `${path}: missing (the event time)` };
  if (format === 'iso8601') {
    const result = v.safeParse(IsoDateTimeSchema, value);
    return result.success
      ? { value: result.output }
      : { issue: `${path}: expected an ISO 8601 date-time with a time zone` };
  }
  const number = typeof value === 'string' && /^\d{1,16}(\.\d+)?$/.test(value) ? Number(value) : value;
  const ms = typeof number === 'number' ? (format === 'unix-seconds' ? number * 1000 : number) : Number.NaN;
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_DATE_MS)
    return { issue: `${path}: expected ${format === 'unix-seconds' ? 'Unix seconds' : 'Unix milliseconds'}` };
  return { value: new Date(Math.floor(ms)).toISOString() };
}

/**
 * Validates and normalizes a configured provider's payload: the fields its configuration names, each where it
 * says. The record id is the id field's value, else the delivery id header's (Standard Webhooks' `webhook-id`),
 * which the sender keeps on every retry. A missing or malformed field quarantines the delivery, naming it.
 * Never throws.
 */
function interpretConfigured(
  config: CustomProviderConfig,
  deliveryIdHeader: string | undefined,
  payload: unknown,
  receivedAt: string,
  source: string | undefined,
  delivery: Delivery | undefined,
): Interpretation {
  if (!isJsonObject(payload)) return { ok: false, reason: 'payload is not a JSON object' };
  const { fields } = config;
  const issues: string[] = [];

  const eventValue = valueAt(payload, fields.event);
  let event: string | undefined;
  if (typeof eventValue !== 'string' || eventValue === '')
    issues.push(
      eventValue === undefined || eventValue === null
        ? `${fields.event}: missing (the event name)`
        : `${fields.event}: expected the event name, received ${kindOf(eventValue)}`,
    );
  else if (config.events && !config.events.includes(eventValue))
    return { ok: false, reason: unknownNameReason(fields.event, eventValue) };
  else if (eventValue.length > 128) issues.push(`${fields.event}: expected at most 128 characters`);
  else event = eventValue;

  let key: string | undefined;
  if (fields.id) {
    const read = idAt(payload, fields.id, source);
    if (read === undefined) issues.push(`${fields.id}: missing (the event id)`);
    else if ('issue' in read) issues.push(read.issue);
    else key = read.value;
  } else if (delivery?.id === undefined || delivery.id === '') {
    issues.push(`no ${deliveryIdHeader ?? 'delivery id'} known for this delivery`);
  } else if (delivery.id.length > 256) {
    issues.push(`${deliveryIdHeader}: expected at most 256 characters`);
  } else key = delivery.id;

  let createdAt = receivedAt;
  if (fields.time) {
    const read = timeAt(payload, fields.time, config.timeFormat);
    const issue = 'issue' in read ? read.issue : eventTimeIssue(fields.time, read.value, receivedAt);
    if (issue) issues.push(issue);
    else if ('value' in read) createdAt = read.value;
  }

  const campaign = idAt(payload, fields.campaign, source);
  if (campaign === undefined) issues.push(`${fields.campaign}: missing (the campaign id)`);
  else if ('issue' in campaign) issues.push(campaign.issue);

  const device = fields.device ? idAt(payload, fields.device, source) : undefined;
  if (device && 'issue' in device) issues.push(device.issue);

  const nameValue = fields.campaign_name ? valueAt(payload, fields.campaign_name) : undefined;
  if (nameValue !== undefined && nameValue !== null && typeof nameValue !== 'string')
    issues.push(`${fields.campaign_name}: expected a string, received ${kindOf(nameValue)}`);

  if (issues.length > 0 || event === undefined || key === undefined || !campaign || 'issue' in campaign)
    return { ok: false, reason: capReason(`invalid ${config.name} event: ${issues.slice(0, 5).join('; ')}`) };
  return {
    ok: true,
    record: {
      ...baseRecord({
        id: buildRecordId(config.name, [key]),
        provider: config.name,
        event,
        created_at: createdAt,
        received_at: receivedAt,
      }),
      campaign_id: campaign.value,
      campaign_name: typeof nameValue === 'string' ? nameValue : null,
      device_id: device && 'value' in device ? device.value : null,
      activity_id: key,
    },
  };
}

/** The provider a configuration describes: served, verified, normalized and counted like a built-in one. */
export function customProvider(config: CustomProviderConfig): Provider {
  const impressions = config.counted?.impressions ?? [];
  const clicks = config.counted?.clicks ?? [];
  const counted = Object.fromEntries([
    ...impressions.map((name) => [name, 'impressions'] as const),
    ...clicks.map((name) => [name, 'clicks'] as const),
  ]);
  const deliveryIdHeader =
    config.scheme === 'standard-webhooks' ? STANDARD_WEBHOOKS_HEADERS.id : config.idHeader;
  return {
    name: config.name,
    ...(config.normalizerVersion === undefined ? {} : { normalizerVersion: config.normalizerVersion }),
    auth: { scheme: schemeOf(config), ...(config.allowIps ? { allowIps: config.allowIps } : {}) },
    events: config.events ?? [...new Set([...impressions, ...clicks])],
    ...(impressions.length + clicks.length > 0 ? { counted } : {}),
    // Without an event time of its own, a retry would be dated anew: its records are then keyed by id alone.
    ...(config.fields.time ? {} : { timeIsReceipt: true }),
    maxBodyBytes: config.maxBodyBytes ?? SMALL_EVENT_MAX_BODY_BYTES,
    ...(deliveryIdHeader ? { deliveryIdHeader } : {}),
    interpret: (payload, receivedAt, source, delivery) =>
      interpretConfigured(config, deliveryIdHeader, payload, receivedAt, source, delivery),
  };
}

/**
 * Serves the providers configured in `json` (the `CUSTOM_PROVIDERS` environment variable, the same JSON as the
 * CDK context value `customProviders`) besides the built-in ones, in place of any configured before. Called once
 * where a process starts, before anything reads the provider list.
 * @throws {ConfigError} naming the provider and the field, so that a cold start with a bad configuration fails
 *   loudly instead of refusing that provider's deliveries.
 */
export function registerCustomProviders(json: string | undefined): void {
  setConfiguredProviders(parseCustomProviders(json, 'CUSTOM_PROVIDERS').map(customProvider));
}

/**
 * The local stack's credentials of the configured providers: `<NAME>_SECRET_KEY` and, during a rotation,
 * `<NAME>_PREVIOUS_SECRET_KEY` (the name upper-cased, hyphens as underscores: `ACME_ADS_SECRET_KEY`), as the
 * deployed stack's signing secret holds them. A provider without one refuses every delivery.
 */
export function customProviderSecrets(
  env: Record<string, string | undefined>,
): Record<string, { current: string; previous: string | null }> {
  const secrets: Record<string, { current: string; previous: string | null }> = {};
  for (const name of providerNames()) {
    if (isBuiltInProvider(name)) continue;
    const variable = name.toUpperCase().replaceAll('-', '_');
    const current = env[`${variable}_SECRET_KEY`];
    if (current) secrets[name] = { current, previous: env[`${variable}_PREVIOUS_SECRET_KEY`] || null };
  }
  return secrets;
}
