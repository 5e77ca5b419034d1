import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AccessTokenVerifier, fetchJwks } from '../../lib/auth/jwt';
import { createLambdaLogger, type Level } from '../../lib/log';
import { DashboardReader } from '../../lib/queries/dashboard';
import type { PipelineHealth } from '../../lib/queries/pipeline-health';
import { createDashboardHandler } from './campaign-dashboard';
import type { DashboardConfig } from './config';
import { servedPage } from './page';

/**
 * How long the issuer's key set may take to read. API Gateway waits 30 s for the function; a key set that does
 * not come in 3 s answers 503, and the page tries again.
 */
export const JWKS_TIMEOUT_MS = 3_000;

/** The path the page is served at, which the user pool client names as its callback and sign-out URL. */
export const DASHBOARD_PATH = '/dashboard';

export interface DashboardRuntime {
  dynamodb: DynamoDBClient;
  logLevel: Level;
  /** Where refusals, dead letters and the oldest message's age are read; without it they are `null`. */
  pipelineHealth?: PipelineHealth;
  /** Fields every log line carries: the running invocation's (`createInvocationContext`). */
  logContext?: () => Readonly<Record<string, unknown>>;
}

/**
 * The dashboard function as deployed, from its configuration and the page's HTML: the deployed entry point and
 * the tests build it here, so what is tested is what runs.
 */
export function composeDashboardHandler(config: DashboardConfig, html: string, runtime: DashboardRuntime) {
  return createDashboardHandler({
    reader: new DashboardReader(
      runtime.dynamodb,
      config.tableName,
      config.layout,
      runtime.pipelineHealth,
      config.signals,
    ),
    verifier: new AccessTokenVerifier({
      issuer: config.tokenIssuer,
      clientId: config.tokenClientId,
      readKeySet: fetchJwks(config.jwksUrl, JWKS_TIMEOUT_MS),
    }),
    page: servedPage(html, {
      signInUrl: config.signInUrl,
      clientId: config.tokenClientId,
      redirectPath: DASHBOARD_PATH,
    }),
    logger: createLambdaLogger('campaign-dashboard', runtime.logLevel, runtime.logContext),
  });
}
