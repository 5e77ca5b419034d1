/**
 * The deployed dashboard function, run in-process against the run's local DynamoDB server, with access tokens
 * signed by a key generated here and served from a local key-set server: what it answers with and without a
 * valid token, and that its data equals the local dashboard's for the same table.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeDashboardHandler } from '../../functions/campaign-dashboard/compose';
import { loadDashboardConfig } from '../../functions/campaign-dashboard/config';
import { sori } from '../../lib/providers/sori';
import { DashboardReader } from '../../lib/queries/dashboard';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { DEFAULT_LAYOUT } from '../../lib/table/records-table';
import { createDashboard } from '../../local/dashboard';
import { dashboardEvent } from '../support/dashboard-events';
import { soriPayload } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';
import { storeAndFold } from '../support/store-and-fold';
import { createTestIssuer, serveJwks } from '../support/token-issuer';

const { dynamodb } = localClients();
const PAGE = join(import.meta.dirname, '../../functions/campaign-dashboard/page/index.html');
const DAY = '2025-10-14';
const POOL = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Dashboard';
const CLIENT = 'dashboard-client-id';
const SIGN_IN = 'https://campaign-inbox-test.auth.eu-west-1.amazoncognito.com';

const issuer = createTestIssuer(POOL, CLIENT);
/** Another user pool of the same region: its own key, its own `iss`, the same client id. */
const otherPool = createTestIssuer(
  'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other',
  CLIENT,
  'k2',
);

let jwks: Awaited<ReturnType<typeof serveJwks>>;
let tableName: string;
let handler: ReturnType<typeof composeDashboardHandler>;
let html: string;

/** Three SORI impressions of two devices and a click, in two campaigns, stored and folded. */
async function storedDay() {
  const table = await createTestTable(dynamodb);
  const message = (event: 'impression' | 'click', i: number, campaign: string) =>
    buildQueueMessage(
      sori,
      Buffer.from(
        JSON.stringify({
          ...soriPayload(event),
          activity_id: `act_dash_${event}_${i}`,
          device_id: `device_${i % 2}`,
          campaign: { id: campaign, name: `Campaign ${campaign}` },
        }),
      ),
      `${DAY}T12:00:00.000Z`,
    );
  await storeAndFold(table.writer, table.counters, [
    message('impression', 1, 'cmp_a'),
    message('impression', 2, 'cmp_a'),
    message('impression', 3, 'cmp_b'),
    message('click', 4, 'cmp_a'),
  ]);
  return table.tableName;
}

beforeAll(async () => {
  jwks = await serveJwks(() => issuer.jwks());
  tableName = await storedDay();
  html = await readFile(PAGE, 'utf8');
  const config = loadDashboardConfig({
    TABLE_NAME: tableName,
    TOKEN_ISSUER: POOL,
    TOKEN_CLIENT_ID: CLIENT,
    TOKEN_JWKS_URL: jwks.url,
    SIGN_IN_URL: SIGN_IN,
  });
  handler = composeDashboardHandler(config, html, { dynamodb, logLevel: 'error' });
});
afterAll(() => jwks?.close());

const call = async (...args: Parameters<typeof dashboardEvent>) =>
  (await handler(dashboardEvent(...args))) as APIGatewayProxyStructuredResultV2 & {
    headers: Record<string, string>;
    body: string;
  };

/** What the local dashboard (`npm start`, `npm run dashboard`) answers at `path` for the same table. */
async function localAnswer(path: string) {
  const serve = createDashboard(new DashboardReader(dynamodb, tableName, DEFAULT_LAYOUT));
  const server: Server = createServer((request, response) => {
    void serve(request, response).then((served) => {
      if (!served) response.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: response.status, body: await response.json() };
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('the campaign dashboard function', () => {
  it('answers /api/dashboard with 401 and one generic message without a token, and for an expired token, another pool’s token, an id token, a token of another client and a non-bearer scheme', async () => {
    const now = Math.floor(Date.now() / 1000);
    const refused = [
      await call('/api/dashboard', { query: { day: DAY } }),
      await call('/api/dashboard', { query: { day: DAY }, token: issuer.accessToken({}, {}, now - 7200) }),
      await call('/api/dashboard', { query: { day: DAY }, token: otherPool.accessToken() }),
      await call('/api/dashboard', {
        query: { day: DAY },
        token: issuer.accessToken({ token_use: 'id', client_id: undefined, aud: CLIENT }),
      }),
      await call('/api/dashboard', {
        query: { day: DAY },
        token: issuer.accessToken({ client_id: 'other' }),
      }),
      await call('/api/dashboard', {
        query: { day: DAY },
        headers: { authorization: `Basic ${issuer.accessToken()}` },
      }),
    ];
    for (const answer of refused) {
      expect(answer.statusCode).toBe(401);
      expect(JSON.parse(answer.body)).toEqual({ message: 'Unauthorized' });
      expect(answer.headers['www-authenticate']).toBe('Bearer');
      expect(answer.headers['cache-control']).toBe('no-store');
    }
  });

  it('answers a valid access token with the same JSON the local /api/dashboard gives for the same table and day', async () => {
    const answer = await call('/api/dashboard', { query: { day: DAY }, token: issuer.accessToken() });
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json');
    expect(answer.headers['cache-control']).toBe('no-store');
    const local = await localAnswer(`/api/dashboard?day=${DAY}`);
    expect(local.status).toBe(200);
    const body = JSON.parse(answer.body);
    expect(body).toEqual(local.body);
    // Not two empty answers: the stored day is there.
    // Two devices, one of them in both campaigns: counted once across campaigns.
    expect(body.totals).toEqual({ impressions: 3, clicks: 1, unique_devices: 2 });
    expect(body.campaigns.map((c: { campaign_id: string }) => c.campaign_id)).toEqual(['cmp_a', 'cmp_b']);
  });

  it('answers 400 as the local dashboard does for a day that is not a calendar day, and 401 for it without a token', async () => {
    for (const day of ['2025-02-30', 'yesterday', `${DAY},${DAY}`]) {
      const answer = await call('/api/dashboard', { query: { day }, token: issuer.accessToken() });
      const local = await localAnswer(`/api/dashboard?day=${encodeURIComponent(day)}`);
      expect([answer.statusCode, JSON.parse(answer.body)]).toEqual([400, local.body]);
      expect(local.status).toBe(400);
      expect((await call('/api/dashboard', { query: { day } })).statusCode).toBe(401);
    }
  });

  it('serves the page at /dashboard with its sign-in settings injected, uncached, framed by nobody, and a Content-Security-Policy that lets only its own inline script run', async () => {
    const answer = await call('/dashboard');
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(answer.headers['x-frame-options']).toBe('DENY');
    const settings = /<script id="campaign-inbox-sign-in" type="application\/json">([^<]*)<\/script>/.exec(
      answer.body,
    );
    expect(JSON.parse(settings?.[1] ?? 'null')).toEqual({
      signInUrl: SIGN_IN,
      clientId: CLIENT,
      redirectPath: '/dashboard',
    });
    // The page is the local one, the settings added and nothing else.
    expect(answer.body.replace(settings?.[0] ?? '', '').replace(/\s+/g, '')).toBe(html.replace(/\s+/g, ''));

    const csp = Object.fromEntries(
      answer.headers['content-security-policy']?.split(/;\s*/).map((d) => {
        const [name = '', ...values] = d.split(' ');
        return [name, values];
      }) ?? [],
    );
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map(
      (m) =>
        `'sha256-${createHash('sha256')
          .update(m[1] ?? '')
          .digest('base64')}'`,
    );
    expect(scripts).toHaveLength(1);
    expect(csp['default-src']).toEqual(["'none'"]);
    expect(csp['script-src']).toEqual(scripts);
    expect(csp['connect-src']).toEqual(["'self'", SIGN_IN]);
    expect(csp['frame-ancestors']).toEqual(["'none'"]);
    expect(csp['base-uri']).toEqual(["'none'"]);
    expect(answer.headers['content-security-policy']).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
  });

  it("reads the issuer's key set once for many requests, not once per request", async () => {
    const counted = await serveJwks(() => issuer.jwks());
    try {
      const own = composeDashboardHandler(
        loadDashboardConfig({
          TABLE_NAME: tableName,
          TOKEN_ISSUER: POOL,
          TOKEN_CLIENT_ID: CLIENT,
          TOKEN_JWKS_URL: counted.url,
          SIGN_IN_URL: SIGN_IN,
        }),
        html,
        { dynamodb, logLevel: 'error' },
      );
      expect(counted.reads()).toBe(0);
      for (let i = 0; i < 5; i++) {
        const answer = (await own(
          dashboardEvent('/api/dashboard', { query: { day: DAY }, token: issuer.accessToken() }),
        )) as APIGatewayProxyStructuredResultV2;
        expect(answer.statusCode).toBe(200);
      }
      expect(counted.reads()).toBe(1);
    } finally {
      await counted.close();
    }
  });

  it('answers 503 with Retry-After, not 401, when the key set does not answer in time', async () => {
    // A server that takes the request and never answers: the read gives up after its timeout.
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as AddressInfo;
      const stalled = composeDashboardHandler(
        loadDashboardConfig({
          TABLE_NAME: tableName,
          TOKEN_ISSUER: POOL,
          TOKEN_CLIENT_ID: CLIENT,
          TOKEN_JWKS_URL: `http://127.0.0.1:${port}/.well-known/jwks.json`,
          SIGN_IN_URL: SIGN_IN,
        }),
        html,
        { dynamodb, logLevel: 'error' },
      );
      const answer = (await stalled(
        dashboardEvent('/api/dashboard', { token: issuer.accessToken() }),
      )) as APIGatewayProxyStructuredResultV2 & { headers: Record<string, string> };
      expect(answer.statusCode).toBe(503);
      expect(answer.headers['retry-after']).toBe('5');
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('answers 404 for another path and 405 for another method', async () => {
    expect((await call('/api/other', { token: issuer.accessToken() })).statusCode).toBe(404);
    const post = await call('/api/dashboard', { method: 'POST', token: issuer.accessToken() });
    expect(post.statusCode).toBe(405);
    expect(post.headers.allow).toBe('GET');
  });
});
