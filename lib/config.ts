import { ConfigError } from './errors';

type Env = Record<string, string | undefined>;

/** 256 KiB: SQS's classic message limit, and far above any SORI payload. */
export const DEFAULT_MAX_BODY_BYTES = 262_144;

export type SecretsConfig =
  | { source: 'secrets-manager'; secretArn: string; ttlMs: number }
  | { source: 'env'; document: Record<string, { current: string; previous: string | null }> };

export interface ReceiveConfig {
  queueUrl: string;
  maxBodyBytes: number;
  secrets: SecretsConfig;
  allowUnsigned: boolean;
}

export interface ProcessConfig {
  tableName: string;
}

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
  };
}

/**
 * Reads the process function's configuration.
 * @throws {ConfigError} at cold start when `TABLE_NAME` is missing.
 */
export function loadProcessConfig(env: Env = process.env): ProcessConfig {
  return { tableName: required(env, 'TABLE_NAME') };
}
