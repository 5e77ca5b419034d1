import {
  DEPLOYED_LOG_LEVEL,
  type EnvironmentOf,
  loadTableLayout,
  type ProviderSettings,
  type ProviderVariables,
  providerVariables,
  type TableSettings,
  type TableVariables,
  tableVariables,
} from '../../lib/config';
import { ConfigError } from '../../lib/errors';
import { type Level, levelFrom } from '../../lib/log';
import { isBuiltInProvider, providerNames } from '../../lib/providers';
import { registerCustomProviders } from '../../lib/providers/declarative';
import {
  readSignalThresholds,
  type SignalThresholds,
  type SignalVariables,
  signalVariables,
} from '../../lib/signals/thresholds';
import type { TableLayout } from '../../lib/table/records-table';

/** The dashboard function's environment as the stack writes it. */
export interface DashboardVariables extends TableVariables, ProviderVariables, SignalVariables {
  TOKEN_ISSUER: string;
  TOKEN_CLIENT_ID: string;
  SIGN_IN_URL: string;
  /** Delivery health: the receive function's refusal metrics (their namespace and `service`), and the queues. */
  METRICS_NAMESPACE: string;
  RECEIVE_METRICS_SERVICE: string;
  QUEUE_URL?: string;
  DLQ_URL?: string;
  POWERTOOLS_LOG_LEVEL: string;
}

/** What the dashboard function may read besides: where the issuer's keys are, when not at its well-known URL. */
interface DashboardTuningVariables {
  TOKEN_JWKS_URL: string;
  LOG_LEVEL: string;
}

type Env = EnvironmentOf<DashboardVariables & DashboardTuningVariables>;

/** What the stack knows when it writes the dashboard function's environment. */
export interface DashboardSettings {
  table: TableSettings;
  tokenIssuer: string;
  tokenClientId: string;
  signInUrl: string;
  /** Where delivery health is read: the receive function's metrics, and the queues when given. */
  health: { namespace: string; service: string; queueUrl?: string | undefined; dlqUrl?: string | undefined };
  providers: ProviderSettings;
  /** The fraud and quality signals' thresholds; unset: their defaults. */
  signals?: SignalThresholds;
}

/** @returns the dashboard function's environment, which {@link readDashboardEnvironment} reads back. */
export function dashboardVariables(settings: DashboardSettings): DashboardVariables {
  const { health } = settings;
  return {
    ...tableVariables(settings.table),
    TOKEN_ISSUER: settings.tokenIssuer,
    TOKEN_CLIENT_ID: settings.tokenClientId,
    SIGN_IN_URL: settings.signInUrl,
    METRICS_NAMESPACE: health.namespace,
    RECEIVE_METRICS_SERVICE: health.service,
    ...providerVariables(settings.providers),
    ...(health.queueUrl ? { QUEUE_URL: health.queueUrl } : {}),
    ...(health.dlqUrl ? { DLQ_URL: health.dlqUrl } : {}),
    ...(settings.signals ? signalVariables(settings.signals) : {}),
    POWERTOOLS_LOG_LEVEL: DEPLOYED_LOG_LEVEL,
  };
}

export interface DashboardConfig {
  tableName: string;
  layout: TableLayout;
  /** The `iss` of the access tokens taken: `https://cognito-idp.<region>.amazonaws.com/<userPoolId>`. */
  tokenIssuer: string;
  /** The user pool client the page signs in with; access tokens name it in `client_id`. */
  tokenClientId: string;
  /** Where the issuer publishes its signing keys. */
  jwksUrl: string;
  /** The managed login's base URL, `https://<prefix>.auth.<region>.amazoncognito.com`, without a trailing slash. */
  signInUrl: string;
  /** The fraud and quality signals' thresholds (the CTR's applies when the page is read). */
  signals: SignalThresholds;
}

function required(env: Env, name: keyof DashboardVariables & string): string {
  const value = env[name];
  if (!value) throw new ConfigError(`environment variable ${name} is required`);
  return value;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** An https URL (http only on this machine, where tests serve a stand-in), as given. */
function webUrl(name: keyof (DashboardVariables & DashboardTuningVariables), value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`environment variable ${name} must be a URL, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    throw new ConfigError(`environment variable ${name} must be an https URL, got ${JSON.stringify(value)}`);
  }
  return url;
}

/**
 * Reads the dashboard function's configuration: the table as the other functions read it (`TABLE_NAME`,
 * `SHARDS`, `RECORD_RETENTION_DAYS`), the token issuer and client (`TOKEN_ISSUER`, `TOKEN_CLIENT_ID`, optional
 * `TOKEN_JWKS_URL`, by default the issuer's `/.well-known/jwks.json`) and the sign-in base URL (`SIGN_IN_URL`).
 * @throws {ConfigError} at cold start when something is missing or malformed.
 */
export function loadDashboardConfig(env: Env = process.env): DashboardConfig {
  const tokenIssuer = required(env, 'TOKEN_ISSUER');
  webUrl('TOKEN_ISSUER', tokenIssuer);
  const jwksUrl = env.TOKEN_JWKS_URL || `${tokenIssuer}/.well-known/jwks.json`;
  webUrl('TOKEN_JWKS_URL', jwksUrl);
  const signIn = webUrl('SIGN_IN_URL', required(env, 'SIGN_IN_URL'));
  if (signIn.pathname !== '/' || signIn.search || signIn.hash) {
    throw new ConfigError('environment variable SIGN_IN_URL must be an origin, without a path');
  }
  return {
    tableName: required(env, 'TABLE_NAME'),
    layout: loadTableLayout(env),
    tokenIssuer,
    tokenClientId: required(env, 'TOKEN_CLIENT_ID'),
    jwksUrl,
    signInUrl: signIn.origin,
    signals: readSignalThresholds(env),
  };
}

/** Everything the dashboard function reads from its environment at cold start. */
export interface DashboardEnvironment {
  config: DashboardConfig;
  /** The names of the configured providers (`CUSTOM_PROVIDERS`), now served besides the built-in ones. */
  customProviders: string[];
  logLevel: Level;
}

/**
 * Reads the dashboard function's environment, once per container, but for where delivery health is read
 * (`METRICS_NAMESPACE`, `RECEIVE_METRICS_SERVICE`, `PROVIDERS`, `QUEUE_URL`, `DLQ_URL`: `loadPipelineHealthConfig`,
 * kept apart so that the stack, which imports this module for {@link dashboardVariables}, loads no SQS client).
 * It serves the configured providers (`CUSTOM_PROVIDERS`) first: read delivery health after it, so that the
 * list of providers served may name them.
 * @throws {ConfigError} at cold start when something is missing or malformed.
 */
export function readDashboardEnvironment(env: Env = process.env): DashboardEnvironment {
  registerCustomProviders(env.CUSTOM_PROVIDERS);
  return {
    config: loadDashboardConfig(env),
    customProviders: providerNames().filter((name) => !isBuiltInProvider(name)),
    logLevel: levelFrom(env.POWERTOOLS_LOG_LEVEL ?? env.LOG_LEVEL),
  };
}
