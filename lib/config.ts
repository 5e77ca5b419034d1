import * as v from 'valibot';
import { ConfigError } from './errors';
import { providerNames } from './providers';
import type { AuthConfig } from './providers/provider';
import type { TableLayout } from './table/records-table';

type Env = Record<string, string | undefined>;

/**
 * 4 MiB: the deployment's ceiling for every provider, set to the largest limit a provider declares (Ad Reform's
 * screenshot sets), so every provider gets its own limit unless the deployment lowers it. SORI, Symphony and
 * Optimizely declare 256 KiB. Bodies over 96 KiB go to the raw store, so the queue's and the table's limits do
 * not bound this; a Lambda invocation (6 MB, base64-encoded bodies a third larger) does.
 */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

export type SecretsConfig =
  | { source: 'secrets-manager'; secretArn: string; ttlMs: number }
  | { source: 'env'; document: Record<string, { current: string; previous: string | null }> };

export interface ReceiveConfig {
  queueUrl: string;
  maxBodyBytes: number;
  secrets: SecretsConfig;
  allowUnsigned: boolean;
  /** Authentication per provider, overriding the providers' own. */
  auth: Record<string, AuthConfig>;
  /** Providers served. */
  enabled: string[];
  /** Where bodies too large for a queue message go (S3), when set. */
  rawBucket: string | undefined;
}

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
 * @throws {ConfigError} naming the provider or the problem.
 */
export function loadAuthConfig(env: Env = process.env): Record<string, AuthConfig> {
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
    if (!providerNames().includes(name))
      throw new ConfigError(`AUTH_CONFIG names an unknown provider ${JSON.stringify(name)}`);
  }
  return result.output;
}

/**
 * Reads `PROVIDERS`, the comma-separated providers served (default: all).
 * @throws {ConfigError} for an unknown name.
 */
export function loadEnabledProviders(env: Env = process.env): string[] {
  const names = (env.PROVIDERS ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  for (const name of names) {
    if (!providerNames().includes(name))
      throw new ConfigError(`PROVIDERS names an unknown provider ${JSON.stringify(name)}`);
  }
  return names.length > 0 ? names : providerNames();
}

export interface ProcessConfig {
  tableName: string;
  layout: TableLayout;
  /** Age after which a counter claim is certainly abandoned: above the function timeout, below redelivery. */
  staleAfterMs: number;
}

/** Default retention of event records, days (counters are kept for ever). */
export const DEFAULT_RETENTION_DAYS = 365;
/** The process function runs at most 30 s; a claim twice that old has no batch behind it. */
export const DEFAULT_STALE_AFTER_SECONDS = 60;

function required(env: Env, name: string): string {
  const value = env[name];
  if (!value) throw new ConfigError(`environment variable ${name} is required`);
  return value;
}

function positiveInteger(env: Env, name: string, fallback: number): number {
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

/**
 * Reads the receive function's configuration. Secrets come from Secrets Manager (`SIGNING_SECRET_ARN`, the
 * deployed stack) or, for the local stack only, from `SORI_SECRET_KEY` / `SORI_PREVIOUS_SECRET_KEY`.
 * @throws {ConfigError} at cold start when something is missing or malformed.
 */
export function loadReceiveConfig(env: Env = process.env): ReceiveConfig {
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
    auth: loadAuthConfig(env),
    enabled: loadEnabledProviders(env),
    rawBucket: env.RAW_BUCKET || undefined,
  };
}

/**
 * Reads the table layout: `SHARDS` (default 1) and `RECORD_RETENTION_DAYS` (default 365; `0` keeps records
 * for ever). Writers and readers must use the same values.
 * @throws {ConfigError} when a value is malformed.
 */
export function loadTableLayout(env: Env = process.env): TableLayout {
  const retention = env.RECORD_RETENTION_DAYS;
  const retentionDays =
    retention === '0' ? null : positiveInteger(env, 'RECORD_RETENTION_DAYS', DEFAULT_RETENTION_DAYS);
  return { shards: positiveInteger(env, 'SHARDS', 1), retentionDays };
}

/**
 * Reads the process function's configuration.
 * @throws {ConfigError} at cold start when `TABLE_NAME` is missing or a value is malformed.
 */
export function loadProcessConfig(env: Env = process.env): ProcessConfig {
  return {
    tableName: required(env, 'TABLE_NAME'),
    layout: loadTableLayout(env),
    staleAfterMs: positiveInteger(env, 'COUNTER_STALE_SECONDS', DEFAULT_STALE_AFTER_SECONDS) * 1000,
  };
}
