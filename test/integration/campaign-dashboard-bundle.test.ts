/**
 * The dashboard function bundled with the stack's own esbuild options (infra/bundling.ts) and run as Lambda's
 * Node runtime runs it, in a fresh process: the page travels inside the bundle, the token is verified against a
 * key set served over HTTP, the data comes from the run's local DynamoDB server, and a missing variable fails
 * the cold start.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { bundleFunction } from '../../infra/bundle-function';
import { invokeBundle } from '../support/bundles';
import { dashboardEvent } from '../support/dashboard-events';
import { createTestTable, localClients } from '../support/local-aws';
import { createTestIssuer, serveJwks } from '../support/token-issuer';

const ROOT = join(import.meta.dirname, '../..');
const POOL = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Bundle';
const CLIENT = 'bundle-client';
const SIGN_IN = 'https://campaign-inbox-bundle.auth.eu-west-1.amazoncognito.com';
const issuer = createTestIssuer(POOL, CLIENT);

let bundle: string;
let jwks: Awaited<ReturnType<typeof serveJwks>>;
let env: Record<string, string>;

beforeAll(async () => {
  const outdir = await mkdtemp(join(tmpdir(), 'campaign-dashboard-bundle-'));
  bundle = join(outdir, 'index.mjs');
  // As the stack's NodejsFunction and `npm run build` bundle every function.
  await bundleFunction({ entry: join(ROOT, 'functions/campaign-dashboard/handler.ts'), outfile: bundle });
  jwks = await serveJwks(() => issuer.jwks());
  const { tableName } = await createTestTable(localClients().dynamodb);
  env = {
    TABLE_NAME: tableName,
    TOKEN_ISSUER: POOL,
    TOKEN_CLIENT_ID: CLIENT,
    TOKEN_JWKS_URL: jwks.url,
    SIGN_IN_URL: SIGN_IN,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'bundle',
    AWS_SECRET_ACCESS_KEY: 'bundle',
    AWS_ENDPOINT_URL_DYNAMODB: inject('dynamodbEndpoint'),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    LOG_LEVEL: 'error',
  };
}, 60_000);
afterAll(() => jwks?.close());

type Answer = { statusCode: number; headers: Record<string, string>; body: string };

describe('the bundled dashboard function', () => {
  it('carries the page inside the bundle and serves it with the sign-in settings', async () => {
    const answer = (await invokeBundle(bundle, env, dashboardEvent('/dashboard'))) as Answer;
    expect(answer.statusCode).toBe(200);
    expect(answer.body).toContain('<title>campaign-inbox · campaigns</title>');
    expect(answer.body).toContain(
      `<script id="campaign-inbox-sign-in" type="application/json">${JSON.stringify({ signInUrl: SIGN_IN, clientId: CLIENT, redirectPath: '/dashboard' })}</script>`,
    );
    expect(answer.headers['content-security-policy']).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
  });

  it('answers 401 without a token and the day’s dashboard with a valid one', async () => {
    const day = '2025-10-14';
    const refused = (await invokeBundle(
      bundle,
      env,
      dashboardEvent('/api/dashboard', { query: { day } }),
    )) as Answer;
    expect(refused.statusCode).toBe(401);
    const answer = (await invokeBundle(
      bundle,
      env,
      dashboardEvent('/api/dashboard', { query: { day }, token: issuer.accessToken() }),
    )) as Answer;
    expect(answer.statusCode).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ day, campaigns: [], totals: { impressions: 0 } });
  });

  it('fails the cold start naming the variable when TOKEN_ISSUER is missing', async () => {
    const { TOKEN_ISSUER: _, ...without } = env;
    const failure = await invokeBundle(bundle, without, dashboardEvent('/dashboard')).then(
      () => undefined,
      (error: { stderr?: string }) => error,
    );
    expect(failure?.stderr).toMatch(/ConfigError: environment variable TOKEN_ISSUER is required/);
  });
});
