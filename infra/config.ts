import type { Node } from 'constructs';
import { DEFAULT_MAX_BODY_BYTES, readAuthConfig, readEnabledProviders } from '../lib/config';
import { isBuiltInProvider, providerNames } from '../lib/providers';
import { appRouteKeys, parseProviderApps, signsWithHmac } from '../lib/providers/apps';
import { parseCustomProviders } from '../lib/providers/declarative';
import { readSignalThresholds, SIGNAL_VARIABLES } from '../lib/signals/thresholds';

const SIGNAL_VARIABLE_NAMES: ReadonlySet<string> = new Set(Object.values(SIGNAL_VARIABLES));

import { type AlertsConfig, parseAlertsConfig } from './constructs/alerts';
import type { EventDestinationsOptions } from './constructs/event-destinations';
import type { EventLakeOptions } from './constructs/event-lake';

/** An API Gateway route-level throttle: steady requests per second, and the bucket a burst may empty. */
export interface RouteThrottle {
  rateLimit: number;
  burstLimit: number;
}

/** Every setting of the deployed stack, with its default. Set with `cdk.json` context or `-c key=value`. */
/** Apps given routes of their own, by provider (the shape `parseProviderApps` checks). */
export type ProviderApps = Record<string, string[]>;

/** What webhook senders call: API Gateway's HTTP API, or a Lambda function URL on the receive function. */
export const FRONT_DOORS = ['httpApi', 'functionUrl'] as const;
export type FrontDoor = (typeof FRONT_DOORS)[number];

export interface InboxConfig {
  /** CloudFormation stack name. */
  stackName: string;
  /**
   * API Gateway stage throttling, steady requests per second: the limit of each route without one of its own,
   * which are the routes for paths that name no served provider and for methods other than POST.
   */
  throttleRateLimit: number;
  /** API Gateway stage throttling: burst (see {@link throttleRateLimit}). */
  throttleBurstLimit: number;
  /**
   * Each served provider's own throttle, on each of its two routes (`POST /webhooks/<name>` and
   * `POST /webhooks/<name>/{token}`); a provider not listed gets {@link DEFAULT_PROVIDER_THROTTLE}.
   */
  providerThrottles: Record<string, RouteThrottle>;
  /**
   * Apps given routes of their own, by provider (`{"sori":["agency-a"]}`): `POST /webhooks/<provider>/<app>`,
   * throttled as `providerThrottles` names `<provider>/<app>` (see `parseProviderApps`).
   */
  providerApps: ProviderApps;
  /**
   * AWS WAF in front of the API through CloudFront: the most requests one IP address may make in 5 minutes
   * before WAF answers it 429. Off when undefined. The stack must then be in us-east-1.
   */
  wafRateLimit: number | undefined;
  /**
   * What webhook senders call: `httpApi` (API Gateway's HTTP API, its routes and throttles), or `functionUrl`
   * (a Lambda function URL on the same receive function, its reserved concurrency the throttle; no route
   * throttles, no WAF option; the campaign dashboard keeps the HTTP API). See {@link checkFrontDoor}.
   */
  frontDoor: FrontDoor;
  /** Days CloudWatch keeps the functions' and the API's logs. */
  logRetentionDays: number;
  /**
   * AWS X-Ray active tracing on the receive, process and repair functions, the trace header carried through the
   * events queue to the consumer, and the record keeping its trace id. Off by default: X-Ray bills recorded
   * traces past its free tier.
   */
  tracing: boolean;
  /**
   * Every first insert of an event published to an EventBridge bus and/or an SQS queue, filtered by provider and
   * type (EventBridge Pipes from the table's stream), and with `signals` on a destination the fold's signal
   * notices too (`campaign-inbox signal`). Off when undefined.
   */
  destinations: EventDestinationsOptions | undefined;
  /**
   * The replay function: stored events of a time range sent again to the destinations above, or to `httpUrl`.
   * Off when false.
   */
  replay: boolean | { httpUrl?: string };
  /** The event lake for Athena: first inserts into an Iceberg table, partitioned by day and provider. */
  lake: boolean | EventLakeOptions;
  /**
   * Alerts where people are: the alarms' topic routed to Slack and/or Microsoft Teams, per-provider traffic
   * anomaly alarms, a daily digest (see `AlertsConfig`). Off when undefined.
   */
  alerts: AlertsConfig | undefined;
  /**
   * The fraud and quality signals' alarms (one per signal) and thresholds, by their variable names
   * (`{"SIGNAL_CTR":0.3}`, or `{}` for the defaults: see `readSignalThresholds`). The signals are computed and
   * shown either way; without it, no alarm and the default thresholds.
   */
  signals: Readonly<Record<string, number | string>> | undefined;
  /** Receives before a message that keeps failing moves to the DLQ. */
  dlqMaxReceiveCount: number;
  /** E-mail address subscribed to the alarms; none when empty. */
  alarmEmail: string | undefined;
  /** Accept `POST /webhooks/{provider}/{token}` without a signature, authenticated by the URL token. */
  allowUnsigned: boolean;
  /** Alarm when no event arrived for this many hours (a quiet source). */
  quietHours: number;
  /** Messages per process invocation. */
  batchSize: number;
  /** Seconds the event source waits to fill a batch. */
  batchWindowSeconds: number;
  /** Most process invocations at once (bounds the table's write rate). */
  maxConcurrency: number;
  /**
   * Largest accepted body, bytes, for every provider; a provider's own lower limit still applies (SORI,
   * Symphony and Optimizely: 256 KiB). At most 4 MiB: a Lambda invocation carries 6 MB, and API Gateway hands
   * non-text bodies over base64-encoded, a third larger.
   */
  maxBodyBytes: number;
  /** Partitions a campaign's events spread over (about 1,000 writes/s each). Fix it before the first deploy. */
  shards: number;
  /** Days event records are kept (TTL); 0 keeps them for ever. Counters are always kept. */
  recordRetentionDays: number;
  /** Built-in providers served; empty: all. Every configured provider ({@link customProviders}) is served. */
  providers: string[];
  /**
   * Providers added by configuration alone (see docs/custom-providers.md), as the functions' own schema checks
   * them at synth; typed loosely here so that the construct's types need no schema library.
   */
  customProviders: readonly { name: string }[];
  /** Authentication per provider, overriding the providers' own (the receive function's AUTH_CONFIG). */
  auth: Record<string, unknown>;
  /**
   * E-mail addresses given a sign-in to the campaign dashboard (Cognito mails each an invitation); more can be
   * added later with `campaign-inbox dashboard-users add`.
   */
  dashboardUsers: string[];
}

/** The throttle of a served provider that `providerThrottles` does not list. */
export const DEFAULT_PROVIDER_THROTTLE: Readonly<RouteThrottle> = Object.freeze({
  rateLimit: 100,
  burstLimit: 200,
});
/** API Gateway's default account quota in a Region (10,000 requests/s, bursts of 5,000): no route may go above. */
const MAX_RATE_LIMIT = 10_000;
const MAX_BURST_LIMIT = 5_000;
/** AWS WAF's bounds on a rate-based rule's limit per evaluation window. */
const MIN_WAF_RATE_LIMIT = 10;
const MAX_WAF_RATE_LIMIT = 2_000_000_000;

export const DEFAULT_CONFIG: InboxConfig = {
  stackName: 'CampaignInbox',
  throttleRateLimit: 100,
  throttleBurstLimit: 200,
  providerThrottles: {},
  providerApps: {},
  wafRateLimit: undefined,
  frontDoor: 'httpApi',
  logRetentionDays: 30,
  tracing: false,
  destinations: undefined,
  replay: false,
  lake: false,
  alerts: undefined,
  signals: undefined,
  dlqMaxReceiveCount: 5,
  alarmEmail: undefined,
  allowUnsigned: false,
  quietHours: 24,
  // Chosen from `npm run bench`'s realistic workload: batches of 100 gathered for up to 2 s cost about a third
  // less than batches of 10 without a window at 10 and 100 deliveries/s, with POST → stored within 3 s (p99);
  // 20 consumers keep up with 1,000 deliveries/s, where 5 fell behind.
  batchSize: 100,
  batchWindowSeconds: 2,
  maxConcurrency: 20,
  maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
  shards: 1,
  recordRetentionDays: 365,
  providers: [],
  customProviders: [],
  auth: {},
  dashboardUsers: [],
};

/** Context keys, as written in `cdk.json` or after `-c`. */
export const CONTEXT_KEYS: { [K in keyof InboxConfig]: string } = {
  stackName: 'stackName',
  throttleRateLimit: 'throttleRateLimit',
  throttleBurstLimit: 'throttleBurstLimit',
  providerThrottles: 'providerThrottles',
  providerApps: 'providerApps',
  wafRateLimit: 'wafRateLimit',
  frontDoor: 'frontDoor',
  logRetentionDays: 'logRetentionDays',
  tracing: 'tracing',
  destinations: 'destinations',
  replay: 'replay',
  lake: 'lake',
  alerts: 'alerts',
  signals: 'signals',
  dlqMaxReceiveCount: 'dlqMaxReceiveCount',
  alarmEmail: 'alarmEmail',
  allowUnsigned: 'allowUnsigned',
  quietHours: 'quietHours',
  batchSize: 'batchSize',
  batchWindowSeconds: 'batchWindowSeconds',
  maxConcurrency: 'maxConcurrency',
  maxBodyBytes: 'maxBodyBytes',
  shards: 'shards',
  recordRetentionDays: 'recordRetentionDays',
  providers: 'providers',
  customProviders: 'customProviders',
  auth: 'auth',
  dashboardUsers: 'dashboardUsers',
};

function integer(key: string, value: unknown, min: number, max: number): number {
  const number = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(number) || number < min || number > max) {
    throw new Error(`context ${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return number;
}

function boolean(key: string, value: unknown): boolean {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new Error(`context ${key} must be true or false, got ${JSON.stringify(value)}`);
}

/** Plausible, not RFC 5322: one `@`, a dotted domain, no spaces or commas; Cognito sends the invitation. */
const EMAIL = /^[^\s@,]+@[^\s@,.]+(?:\.[^\s@,.]+)+$/;
/** Cognito's limit on a user name, which is the e-mail address in a pool that signs in by e-mail. */
const MAX_USERNAME_LENGTH = 128;

/**
 * Checks the dashboard users' e-mail addresses (the construct prop, or the context value split at commas).
 * @throws naming `dashboardUsers` and the address when one is not a plausible e-mail address or is listed twice
 *   (Cognito compares e-mail user names without regard to case).
 */
export function checkDashboardUsers(emails: readonly string[]): string[] {
  const seen = new Set<string>();
  return emails.map((email) => {
    if (!EMAIL.test(email) || email.length > MAX_USERNAME_LENGTH) {
      throw new Error(
        `context dashboardUsers must be comma-separated e-mail addresses, got ${JSON.stringify(email)}`,
      );
    }
    const key = email.toLowerCase();
    if (seen.has(key)) throw new Error(`context dashboardUsers lists ${JSON.stringify(email)} twice`);
    seen.add(key);
    return email;
  });
}

/**
 * The providers the stack serves, each given routes and a throttle of its own: the built-in providers enabled
 * (`providers`, or every one when empty), then every configured one.
 */
export function servedProviders(config: Pick<InboxConfig, 'providers' | 'customProviders'>): string[] {
  const builtIn = providerNames().filter(isBuiltInProvider);
  const enabled = config.providers.filter((name) => builtIn.includes(name));
  return [
    ...new Set([
      ...(config.providers.length > 0 ? enabled : builtIn),
      ...config.customProviders.map((provider) => provider.name),
    ]),
  ];
}

/** The names `providerThrottles` may take: each provider served, and `<provider>/<app>` for each app route. */
export function throttledRoutes(
  config: Pick<InboxConfig, 'providers' | 'customProviders' | 'providerApps'>,
): string[] {
  return [...servedProviders(config), ...appRouteKeys(config.providerApps)];
}

const THROTTLE_FIELDS: Record<keyof RouteThrottle, number> = {
  rateLimit: MAX_RATE_LIMIT,
  burstLimit: MAX_BURST_LIMIT,
};

/**
 * Checks per-provider throttles (the construct prop, or the context value, JSON text or an object) against the
 * providers served. A provider may give `rateLimit`, `burstLimit` or both: a missing rate is the default's, a
 * missing burst twice the rate (at most 5,000).
 * @throws naming `providerThrottles`, the provider and the field, when a provider is not served (a typo would
 *   otherwise leave its route on the default) or a value is not an integer in API Gateway's range.
 */
export function checkProviderThrottles(
  value: unknown,
  served: readonly string[],
): Record<string, RouteThrottle> {
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new Error(
        `context providerThrottles must be JSON like {"sori":{"rateLimit":50,"burstLimit":100}}, got ${JSON.stringify(value.slice(0, 80))}`,
      );
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(
      `context providerThrottles must be an object of providers, like {"sori":{"rateLimit":50,"burstLimit":100}}, got ${JSON.stringify(parsed)}`,
    );
  }
  const throttles: Record<string, RouteThrottle> = {};
  for (const [provider, entry] of Object.entries(parsed)) {
    const key = `providerThrottles.${provider}`;
    if (!served.includes(provider)) {
      throw new Error(
        `context providerThrottles names ${JSON.stringify(provider)}, which this stack does not serve (it serves ${served.join(', ')})`,
      );
    }
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new Error(
        `context ${key} must be an object with rateLimit and/or burstLimit, got ${JSON.stringify(entry)}`,
      );
    }
    const fields = entry as Record<string, unknown>;
    for (const field of Object.keys(fields)) {
      if (!(field in THROTTLE_FIELDS)) {
        throw new Error(
          `context ${key} has ${JSON.stringify(field)}: only rateLimit and burstLimit are known`,
        );
      }
    }
    const rateLimit =
      fields.rateLimit === undefined
        ? DEFAULT_PROVIDER_THROTTLE.rateLimit
        : integer(`${key}.rateLimit`, fields.rateLimit, 1, MAX_RATE_LIMIT);
    const burstLimit =
      fields.burstLimit === undefined
        ? Math.min(2 * rateLimit, MAX_BURST_LIMIT)
        : integer(`${key}.burstLimit`, fields.burstLimit, 1, MAX_BURST_LIMIT);
    throttles[provider] = { rateLimit, burstLimit };
  }
  return throttles;
}

/** @returns the throttle of a served provider's routes: its own, or {@link DEFAULT_PROVIDER_THROTTLE}. */
export function providerThrottle(
  throttles: Readonly<Record<string, RouteThrottle>>,
  provider: string,
): RouteThrottle {
  return { ...(throttles[provider] ?? DEFAULT_PROVIDER_THROTTLE) };
}

/**
 * Checks the WAF rate limit: requests per IP address in 5 minutes, within AWS WAF's bounds for a rate-based rule.
 * @throws naming `wafRateLimit` when it is not an integer from 10 to 2,000,000,000.
 */
export function checkWafRateLimit(value: unknown): number {
  return integer('wafRateLimit', value, MIN_WAF_RATE_LIMIT, MAX_WAF_RATE_LIMIT);
}

/**
 * Reads the front door (the construct prop, or the context value).
 * @throws naming `frontDoor` when it is neither `httpApi` nor `functionUrl`.
 */
export function readFrontDoor(value: unknown): FrontDoor {
  if (FRONT_DOORS.includes(value as FrontDoor)) return value as FrontDoor;
  throw new Error(`context frontDoor must be ${FRONT_DOORS.join(' or ')}, got ${JSON.stringify(value)}`);
}

/**
 * Checks what the front door can serve: a function URL has no routes, so nothing that lives on the HTTP API's
 * webhook routes can be had behind it, and asking for it is refused rather than quietly dropped.
 * @throws naming `frontDoor` and the key that needs the HTTP API: `providerThrottles` (route throttles),
 *   `providerApps` (apps' own routes, there for their throttles: behind a function URL every app still comes by
 *   `/webhooks/<provider>/<app>`), `wafRateLimit` (AWS WAF through CloudFront in front of the HTTP API).
 */
export function checkFrontDoor(
  config: Pick<InboxConfig, 'frontDoor' | 'providerThrottles' | 'providerApps' | 'wafRateLimit'>,
): FrontDoor {
  const frontDoor = readFrontDoor(config.frontDoor);
  if (frontDoor === 'httpApi') return frontDoor;
  const needsRoutes = (key: string, what: string) =>
    new Error(
      `context ${key} needs frontDoor httpApi: ${what}, and frontDoor functionUrl has no routes (its throttle is the receive function's reserved concurrency)`,
    );
  if (Object.keys(config.providerThrottles).length > 0)
    throw needsRoutes('providerThrottles', "it sets the throttles of the HTTP API's webhook routes");
  if (Object.keys(config.providerApps).length > 0)
    throw needsRoutes(
      'providerApps',
      'it gives apps routes of their own on the HTTP API, for their throttles (every app still comes by /webhooks/<provider>/<app> without it)',
    );
  if (config.wafRateLimit !== undefined)
    throw needsRoutes(
      'wafRateLimit',
      "it puts AWS WAF and CloudFront in front of the HTTP API's webhook routes",
    );
  return frontDoor;
}

/**
 * An object from context: JSON text as `-c key=...` gives it, or the object `cdk.json` holds. The construct
 * that takes it checks its keys and values.
 * @throws naming `key` when it is neither.
 */
function jsonObject<T>(key: string, value: unknown): T {
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new Error(`context ${key} must be a JSON object, got ${JSON.stringify(value.slice(0, 80))}`);
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error(`context ${key} must be a JSON object, got ${JSON.stringify(parsed)}`);
  return parsed as T;
}

/**
 * `true`, `false` (as booleans or text), or an object of options (see {@link jsonObject}) with only the `keys`
 * named: a misspelt one would otherwise be ignored without a word.
 */
function booleanOr<T>(key: string, value: unknown, keys: readonly string[]): boolean | T {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  const options = jsonObject<Record<string, unknown>>(key, value);
  const unknown = Object.keys(options).find((name) => !keys.includes(name));
  if (unknown !== undefined)
    throw new Error(`context ${key} takes ${keys.join(', ')}, not ${JSON.stringify(unknown)}`);
  return options as T;
}

/** The replay function's fixed HTTP destination: https only, as events leave the account by it. */
function checkReplay(value: unknown): boolean | { httpUrl?: string } {
  const replay = booleanOr<{ httpUrl?: string }>('replay', value, ['httpUrl']);
  if (typeof replay === 'object' && replay.httpUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(String(replay.httpUrl));
    } catch {}
    if (url?.protocol !== 'https:')
      throw new Error(`context replay.httpUrl must be an https URL, got ${JSON.stringify(replay.httpUrl)}`);
  }
  return replay;
}

/** Reads one context key: its parsed value, or the default when unset or empty. */
type ContextValue = <T>(key: keyof InboxConfig, parse: (value: unknown) => T, fallback: T) => T;

/** A list from context: a JSON array as `cdk.json` holds it, or comma-separated text as `-c` gives it. */
const list = (value: unknown) =>
  Array.isArray(value)
    ? value.map(String)
    : String(value)
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean);

const d = DEFAULT_CONFIG;

/** The API's limits and the operations settings (logs, dead letters, alarms). */
function readLimits(or: ContextValue) {
  return {
    throttleRateLimit: or(
      'throttleRateLimit',
      (v) => integer('throttleRateLimit', v, 1, MAX_RATE_LIMIT),
      d.throttleRateLimit,
    ),
    throttleBurstLimit: or(
      'throttleBurstLimit',
      (v) => integer('throttleBurstLimit', v, 1, MAX_BURST_LIMIT),
      d.throttleBurstLimit,
    ),
    wafRateLimit: or('wafRateLimit', checkWafRateLimit, d.wafRateLimit),
    frontDoor: or('frontDoor', readFrontDoor, d.frontDoor),
    logRetentionDays: or(
      'logRetentionDays',
      (v) => integer('logRetentionDays', v, 1, 3653),
      d.logRetentionDays,
    ),
    dlqMaxReceiveCount: or(
      'dlqMaxReceiveCount',
      (v) => integer('dlqMaxReceiveCount', v, 1, 1000),
      d.dlqMaxReceiveCount,
    ),
    alarmEmail: or('alarmEmail', String, d.alarmEmail),
    allowUnsigned: or('allowUnsigned', (v) => boolean('allowUnsigned', v), d.allowUnsigned),
    quietHours: or('quietHours', (v) => integer('quietHours', v, 1, 168), d.quietHours),
    tracing: or('tracing', (v) => boolean('tracing', v), d.tracing),
    destinations: or(
      'destinations',
      (v) => jsonObject<EventDestinationsOptions>('destinations', v),
      d.destinations,
    ),
    replay: or('replay', checkReplay, d.replay),
    lake: or(
      'lake',
      (v) => booleanOr<EventLakeOptions>('lake', v, ['bufferSeconds', 'databaseName']),
      d.lake,
    ),
    alerts: or('alerts', parseAlertsConfig, d.alerts),
    signals: or(
      'signals',
      (v) => {
        const thresholds = jsonObject<Record<string, number | string>>('signals', v);
        const unknown = Object.keys(thresholds).find((key) => !SIGNAL_VARIABLE_NAMES.has(key));
        if (unknown !== undefined)
          throw new Error(
            `context signals names ${JSON.stringify(unknown)}, not a threshold (${[...SIGNAL_VARIABLE_NAMES].join(', ')})`,
          );
        readSignalThresholds(thresholds);
        return thresholds;
      },
      d.signals,
    ),
  };
}

/** The consumer's batches, the largest body, and the table's layout. */
function readStoring(or: ContextValue) {
  return {
    batchSize: or('batchSize', (v) => integer('batchSize', v, 1, 100), d.batchSize),
    batchWindowSeconds: or(
      'batchWindowSeconds',
      (v) => integer('batchWindowSeconds', v, 0, 300),
      d.batchWindowSeconds,
    ),
    maxConcurrency: or('maxConcurrency', (v) => integer('maxConcurrency', v, 2, 1000), d.maxConcurrency),
    maxBodyBytes: or(
      'maxBodyBytes',
      (v) => integer('maxBodyBytes', v, 1024, 4 * 1024 * 1024),
      d.maxBodyBytes,
    ),
    shards: or('shards', (v) => integer('shards', v, 1, 256), d.shards),
    recordRetentionDays: or(
      'recordRetentionDays',
      (v) => integer('recordRetentionDays', v, 0, 36_500),
      d.recordRetentionDays,
    ),
  };
}

/** The providers served and their authentication, each value as given. */
function readProviders(or: ContextValue) {
  return {
    providers: or('providers', list, d.providers),
    customProviders: or(
      'customProviders',
      (v) => parseCustomProviders(v, 'customProviders'),
      d.customProviders,
    ),
    auth: or(
      'auth',
      (v) =>
        typeof v === 'string' ? (JSON.parse(v) as Record<string, unknown>) : (v as Record<string, unknown>),
      d.auth,
    ),
  };
}

/**
 * Checks the providers as the receive function checks them at cold start, made at synth time instead.
 * @throws naming the key when `auth` or `providers` names a provider this build does not know.
 */
function checkProviders(config: Pick<InboxConfig, 'providers' | 'customProviders' | 'auth'>): void {
  readAuthConfig({ AUTH_CONFIG: JSON.stringify(config.auth) }, providerNames());
  // A configured provider may be named too: it is served in any case.
  const configured = new Set(config.customProviders.map((provider) => provider.name));
  readEnabledProviders(
    { PROVIDERS: config.providers.filter((name) => !configured.has(name)).join(',') },
    providerNames(),
  );
}

/**
 * Reads the configuration from CDK context (strings from `-c`, typed values from `cdk.json`).
 * @throws naming the key when a value is out of range.
 */
export function readConfig(node: Pick<Node, 'tryGetContext'>): InboxConfig {
  const or: ContextValue = (key, parse, fallback) => {
    const value = node.tryGetContext(CONTEXT_KEYS[key]);
    return value === undefined || value === '' ? fallback : parse(value);
  };
  const config: InboxConfig = {
    stackName: or('stackName', String, d.stackName),
    ...readLimits(or),
    // Checked below, once the providers served are known.
    providerThrottles: d.providerThrottles,
    providerApps: d.providerApps,
    ...readStoring(or),
    ...readProviders(or),
    dashboardUsers: or('dashboardUsers', (v) => checkDashboardUsers(list(v)), d.dashboardUsers),
  };
  checkProviders(config);
  config.providerApps = or(
    'providerApps',
    (v) => parseProviderApps(v, servedProviders(config), (name) => signsWithHmac(name, config)),
    d.providerApps,
  );
  config.providerThrottles = or(
    'providerThrottles',
    (v) => checkProviderThrottles(v, throttledRoutes(config)),
    d.providerThrottles,
  );
  checkFrontDoor(config);
  if (config.batchSize > 10 && config.batchWindowSeconds < 1) {
    throw new Error(
      'context batchSize above 10 needs batchWindowSeconds of at least 1 (an SQS event source rule)',
    );
  }
  return config;
}
