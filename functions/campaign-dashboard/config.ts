import { loadTableLayout } from '../../lib/config';
import { ConfigError } from '../../lib/errors';
import type { TableLayout } from '../../lib/table/records-table';

type Env = Record<string, string | undefined>;

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
}

function required(env: Env, name: string): string {
  const value = env[name];
  if (!value) throw new ConfigError(`environment variable ${name} is required`);
  return value;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** An https URL (http only on this machine, where tests serve a stand-in), as given. */
function webUrl(name: string, value: string): URL {
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
  };
}
