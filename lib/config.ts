import * as v from 'valibot';
import { ConfigError } from './errors';
import { type Level, levelFrom } from './log';
import type { TableLayout } from './table/records-table';

/**
 * A function's environment as read back: any of its variables may be missing (a reader says which is required).
 * Readers take their variables through this type, so that a name the stack no longer writes fails to compile.
 */
export type EnvironmentOf<Variables> = { readonly [Name in keyof Variables]?: string | undefined };

/** Drops the variables left unset, for a Lambda function's `environment`, which holds strings only. */
export function definedVariables<Variables extends object>(variables: Variables): Record<string, string> {
  return Object.fromEntries(
    Object.entries(variables).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
}

/** The log level every deployed function starts with; Powertools and our own loggers read it. */
export const DEPLOYED_LOG_LEVEL = 'INFO';

/** The records table as every function that reads or writes it is told of it. */
export interface TableVariables {
  TABLE_NAME: string;
  /** Partitions a campaign's events spread over, as an integer. */
  SHARDS: string;
  /** Days records are kept, as an integer; `0` keeps them for ever. */
  RECORD_RETENTION_DAYS: string;
}

/** What the stack knows of the records table: its name and layout, as configured. */
export interface TableSettings {
  tableName: string;
  shards: number;
  /** 0 keeps records for ever. */
  recordRetentionDays: number;
}

/** @returns the table's variables, which {@link loadTableLayout} and each reader's `TABLE_NAME` read back. */
export function tableVariables(table: TableSettings): TableVariables {
  return {
    TABLE_NAME: table.tableName,
    SHARDS: String(table.shards),
    RECORD_RETENTION_DAYS: String(table.recordRetentionDays),
  };
}

/** The providers served, as the functions that read the provider list are told of them. */
export interface ProviderVariables {
  /** The configured providers (`customProviders`), as JSON; unset when there is none. */
  CUSTOM_PROVIDERS?: string;
  /** The providers served, comma-separated; unset when every provider is. */
  PROVIDERS?: string;
}

/** What the stack knows of the providers it serves. */
export interface ProviderSettings {
  /** The configured providers, checked; written as JSON when there is any. */
  customProviders: readonly unknown[];
  /** The providers served, named only when the stack serves a chosen list (empty: every provider). */
  served: readonly string[];
}

/** @returns the providers' variables, read back by `registerCustomProviders` and {@link readEnabledProviders}. */
export function providerVariables(providers: ProviderSettings): ProviderVariables {
  return {
    ...(providers.customProviders.length > 0
      ? { CUSTOM_PROVIDERS: JSON.stringify(providers.customProviders) }
      : {}),
    ...(providers.served.length > 0 ? { PROVIDERS: providers.served.join(',') } : {}),
  };
}

/**
 * 4 MiB: the deployment's ceiling for every provider, set to the largest limit a provider declares (Ad Reform's
 * screenshot sets), so every provider gets its own limit unless the deployment lowers it. SORI, Symphony and
 * Optimizely declare 256 KiB. Bodies over 96 KiB go to the raw store, so the queue's and the table's limits do
 * not bound this; a Lambda invocation (6 MB, base64-encoded bodies a third larger) does.
 */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

/**
 * Where the receive function finds the signing secrets: Secrets Manager, cached for `ttlMs` so that a
 * rotation is seen within minutes without a read per request, or, for the local stack only, the environment.
 */
export type SecretsConfig =
  | { source: 'secrets-manager'; secretArn: string; ttlMs: number }
  | { source: 'env'; document: Record<string, { current: string; previous: string | null }> };

/** The receive function's configuration, read once at cold start by {@link readReceiveConfig}. */
export interface ReceiveConfig {
  queueUrl: string;
  maxBodyBytes: number;
  secrets: SecretsConfig;
  allowUnsigned: boolean;
  /** Authentication per provider, overriding the providers' own. */
  auth: Record<string, AuthOverride>;
  /** Providers served. */
  enabled: string[];
  /** Where bodies too large for a queue message go (S3), when set. */
  rawBucket: string | undefined;
}

/** A provider's authentication as `AUTH_CONFIG` may override it (a provider's own `AuthConfig` takes it). */
export type AuthOverride = v.InferOutput<typeof AuthConfigSchema>;

const AuthConfigSchema = v.object({
  scheme: v.variant('kind', [
    v.object({
      kind: v.literal('hmac'),
      header: v.pipe(v.string(), v.toLowerCase()),
      algorithm: v.picklist(['sha256', 'sha1', 'sha512']),
    }),
    v.object({ kind: v.literal('url-token') }),
    v.object({ kind: v.literal('basic') }),
  ]),
  allowIps: v.optional(v.array(v.string())),
});

/**
 * Reads `AUTH_CONFIG`: JSON mapping provider names to `{"scheme":{"kind":…},"allowIps":[…]}`, e.g.
 * `{"optimizely":{"scheme":{"kind":"url-token"},"allowIps":["193.169.180.1"]}}`.
 * @param known the providers this build serves, built-in and configured
 * @throws {ConfigError} naming the provider or the problem.
 */
export function readAuthConfig(
  env: EnvironmentOf<ReceiveVariables>,
  known: readonly string[],
): Record<string, AuthOverride> {
  const text = env.AUTH_CONFIG;
  if (!text) return {};
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError('AUTH_CONFIG is not JSON');
  }
  const result = v.safeParse(v.record(v.string(), AuthConfigSchema), json);
  if (!result.success)
    throw new ConfigError(`AUTH_CONFIG: ${v.getDotPath(result.issues[0]) ?? ''} ${result.issues[0].message}`);
  for (const name of Object.keys(result.output)) {
    if (!known.includes(name))
      throw new ConfigError(`AUTH_CONFIG names an unknown provider ${JSON.stringify(name)}`);
  }
  return result.output;
}

/**
 * Reads `PROVIDERS`, the comma-separated providers served (default: every one `known`).
 * @param known the providers this build serves, built-in and configured
 * @throws {ConfigError} for an unknown name.
 */
export function readEnabledProviders(
  env: EnvironmentOf<ProviderVariables>,
  known: readonly string[],
): string[] {
  const names = (env.PROVIDERS ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  for (const name of names) {
    if (!known.includes(name))
      throw new ConfigError(`PROVIDERS names an unknown provider ${JSON.stringify(name)}`);
  }
  return names.length > 0 ? names : [...known];
}

/** The process function's (and the counter repair's) configuration, read by {@link loadProcessConfig}. */
export interface ProcessConfig {
  tableName: string;
  layout: TableLayout;
  /** Age after which a counter claim is certainly abandoned: above the function timeout, below redelivery. */
  staleAfterMs: number;
  /** Where a message that can never be read goes at once, with the reason; without it, it is retried. */
  dlqUrl?: string;
}

/** Default retention of event records, days (counters are kept for ever). */
export const DEFAULT_RETENTION_DAYS = 365;
/** The process function's timeout: the queue's visibility timeout and a counter claim's stale age follow from it. */
export const PROCESS_TIMEOUT_SECONDS = 30;
/** A counter claim twice as old as the consumer's timeout has no batch behind it. */
export const DEFAULT_STALE_AFTER_SECONDS = 2 * PROCESS_TIMEOUT_SECONDS;

/**
 * Checks the age after which a counter claim is taken as abandoned against the consumer that makes claims: above
 * its timeout, so that a batch still running never loses its claim, and below the queue's visibility timeout, so
 * that a claim a killed consumer left is settled before its messages come back.
 * @throws {ConfigError} naming the three values when the age is outside that range.
 */
export function checkStaleClaimAge(
  staleAfterSeconds: number,
  consumer: { timeoutSeconds: number; visibilityTimeoutSeconds: number },
): void {
  if (
    staleAfterSeconds <= consumer.timeoutSeconds ||
    staleAfterSeconds >= consumer.visibilityTimeoutSeconds
  ) {
    throw new ConfigError(
      `a counter claim is taken as abandoned after ${staleAfterSeconds} s: it must be above the consumer's timeout (${consumer.timeoutSeconds} s) and below the queue's visibility timeout (${consumer.visibilityTimeoutSeconds} s)`,
    );
  }
}

function required<Variables>(env: EnvironmentOf<Variables>, name: keyof Variables & string): string {
  const value = env[name];
  if (!value) throw new ConfigError(`environment variable ${name} is required`);
  return value;
}

function positiveInteger<Variables>(
  env: EnvironmentOf<Variables>,
  name: keyof Variables & string,
  fallback: number,
): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigError(
      `environment variable ${name} must be a positive integer, got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

/** The receive function's environment as the stack writes it. */
export interface ReceiveVariables extends ProviderVariables {
  QUEUE_URL: string;
  /** The ARN, never the secret: the function reads it from Secrets Manager and caches it briefly. */
  SIGNING_SECRET_ARN: string;
  MAX_BODY_BYTES: string;
  ALLOW_UNSIGNED: 'true' | 'false';
  RAW_BUCKET: string;
  /** Authentication per provider, as JSON; unset when no provider's is overridden. */
  AUTH_CONFIG?: string;
  POWERTOOLS_LOG_LEVEL: string;
}

/** What the receive function may read besides: tuning, and the local stack's secrets. */
interface ReceiveTuningVariables {
  SIGNING_SECRET_TTL_SECONDS: string;
  SORI_SECRET_KEY: string;
  SORI_PREVIOUS_SECRET_KEY: string;
  /** Seconds between flushes of the accepted counts (default: the function's own). */
  METRICS_FLUSH_SECONDS: string;
  LOG_LEVEL: string;
}

/** What the stack knows when it writes the receive function's environment. */
export interface ReceiveSettings {
  queueUrl: string;
  signingSecretArn: string;
  maxBodyBytes: number;
  allowUnsigned: boolean;
  rawBucket: string;
  providers: ProviderSettings;
  /** Authentication per provider, overriding the providers' own; empty leaves `AUTH_CONFIG` unset. */
  auth: Readonly<Record<string, unknown>>;
}

/** @returns the receive function's environment, which {@link readReceiveEnvironment} reads back. */
export function receiveVariables(settings: ReceiveSettings): ReceiveVariables {
  return {
    QUEUE_URL: settings.queueUrl,
    SIGNING_SECRET_ARN: settings.signingSecretArn,
    MAX_BODY_BYTES: String(settings.maxBodyBytes),
    ALLOW_UNSIGNED: settings.allowUnsigned ? 'true' : 'false',
    RAW_BUCKET: settings.rawBucket,
    ...providerVariables(settings.providers),
    ...(Object.keys(settings.auth).length > 0 ? { AUTH_CONFIG: JSON.stringify(settings.auth) } : {}),
    POWERTOOLS_LOG_LEVEL: DEPLOYED_LOG_LEVEL,
  };
}

/**
 * Reads the receive function's configuration. Secrets come from Secrets Manager (`SIGNING_SECRET_ARN`, the
 * deployed stack) or, for the local stack only, from `SORI_SECRET_KEY` / `SORI_PREVIOUS_SECRET_KEY`.
 * @param known the providers this build serves, built-in and configured (register the configured ones first)
 * @throws {ConfigError} at cold start when something is missing or malformed.
 */
export function readReceiveConfig(
  env: EnvironmentOf<ReceiveVariables & ReceiveTuningVariables>,
  known: readonly string[],
): ReceiveConfig {
  const secretArn = env.SIGNING_SECRET_ARN;
  let secrets: SecretsConfig;
  if (secretArn) {
    secrets = {
      source: 'secrets-manager',
      secretArn,
      ttlMs: positiveInteger(env, 'SIGNING_SECRET_TTL_SECONDS', 300) * 1000,
    };
  } else if (env.SORI_SECRET_KEY) {
    secrets = {
      source: 'env',
      document: { sori: { current: env.SORI_SECRET_KEY, previous: env.SORI_PREVIOUS_SECRET_KEY || null } },
    };
  } else {
    throw new ConfigError(
      'set SIGNING_SECRET_ARN (deployed) or SORI_SECRET_KEY (local) so signatures can be verified',
    );
  }
  return {
    queueUrl: required(env, 'QUEUE_URL'),
    maxBodyBytes: positiveInteger(env, 'MAX_BODY_BYTES', DEFAULT_MAX_BODY_BYTES),
    secrets,
    allowUnsigned: env.ALLOW_UNSIGNED === 'true',
    auth: readAuthConfig(env, known),
    enabled: readEnabledProviders(env, known),
    rawBucket: env.RAW_BUCKET || undefined,
  };
}

/** Everything the receive function reads from its environment at cold start. */
export interface ReceiveEnvironment {
  config: ReceiveConfig;
  logLevel: Level;
  /** How often accepted counts are flushed, when the environment says (`METRICS_FLUSH_SECONDS`). */
  metricsFlushMs: number | undefined;
}

/**
 * Reads the receive function's whole environment: its configuration ({@link readReceiveConfig}), its log level
 * (`POWERTOOLS_LOG_LEVEL`, else `LOG_LEVEL`) and how often it flushes its counts. The configured providers
 * (`CUSTOM_PROVIDERS`) are the caller's to serve first, so that `known` names them.
 * @param known the providers this build serves, built-in and configured
 * @throws {ConfigError} at cold start when something is missing or malformed.
 */
export function readReceiveEnvironment(
  env: EnvironmentOf<ReceiveVariables & ReceiveTuningVariables>,
  known: readonly string[],
): ReceiveEnvironment {
  return {
    config: readReceiveConfig(env, known),
    logLevel: levelFrom(env.POWERTOOLS_LOG_LEVEL ?? env.LOG_LEVEL),
    metricsFlushMs: env.METRICS_FLUSH_SECONDS ? Number(env.METRICS_FLUSH_SECONDS) * 1000 : undefined,
  };
}

/**
 * Reads the table layout: `SHARDS` (default 1) and `RECORD_RETENTION_DAYS` (default 365; `0` keeps records
 * for ever). Writers and readers must use the same values.
 * @throws {ConfigError} when a value is malformed.
 */
export function loadTableLayout(env: EnvironmentOf<TableVariables> = process.env): TableLayout {
  const retention = env.RECORD_RETENTION_DAYS;
  const retentionDays =
    retention === '0' ? null : positiveInteger(env, 'RECORD_RETENTION_DAYS', DEFAULT_RETENTION_DAYS);
  return { shards: positiveInteger(env, 'SHARDS', 1), retentionDays };
}

/**
 * Reads the records table's name (`TABLE_NAME`) and layout.
 * @throws {ConfigError} when the name is missing or a value is malformed.
 */
export function readTable(env: EnvironmentOf<TableVariables>): { tableName: string; layout: TableLayout } {
  return { tableName: required(env, 'TABLE_NAME'), layout: loadTableLayout(env) };
}

/** The process function's environment as the stack writes it. */
export interface ProcessVariables extends TableVariables {
  POWERTOOLS_LOG_LEVEL: string;
  DLQ_URL: string;
}

/** What the process function may read besides: the age of an abandoned counter claim. */
interface CounterClaimVariables {
  COUNTER_STALE_SECONDS: string;
}

/** @returns the process function's environment, which {@link loadProcessConfig} reads back. */
export function processVariables(settings: { table: TableSettings; dlqUrl: string }): ProcessVariables {
  return {
    ...tableVariables(settings.table),
    POWERTOOLS_LOG_LEVEL: DEPLOYED_LOG_LEVEL,
    DLQ_URL: settings.dlqUrl,
  };
}

/**
 * Reads the process function's configuration (the counter repair reads the same, without `DLQ_URL`).
 * @throws {ConfigError} at cold start when `TABLE_NAME` is missing or a value is malformed.
 */
export function loadProcessConfig(
  env: EnvironmentOf<ProcessVariables & CounterClaimVariables> = process.env,
): ProcessConfig {
  return {
    ...readTable(env),
    staleAfterMs: positiveInteger(env, 'COUNTER_STALE_SECONDS', DEFAULT_STALE_AFTER_SECONDS) * 1000,
    ...(env.DLQ_URL ? { dlqUrl: env.DLQ_URL } : {}),
  };
}
