/**
 * The deployed dashboard's sign-in in a real browser: the page and its API answered by the dashboard function
 * (composed as deployed, on the run's local DynamoDB server), behind a local HTTP server that hands it requests
 * as API Gateway does. Cognito's managed login (`/oauth2/authorize`, `/oauth2/token`, `/logout`) is a stand-in
 * written here, by necessity: nothing available offline serves it (moto's Cognito issues tokens through the API
 * but has no managed login). The stand-in checks what Cognito checks of a public client with PKCE (the client,
 * the exact redirect URI, S256, the verifier against the challenge, a code used once) and signs access tokens
 * with a key generated here, which the function verifies from the stand-in's key set.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { composeDashboardHandler } from '../../functions/campaign-dashboard/compose';
import { loadDashboardConfig } from '../../functions/campaign-dashboard/config';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { dashboardEvent } from '../support/dashboard-events';
import { soriPayload } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';
import { storeAndFold } from '../support/store-and-fold';
import { createTestIssuer, type TestIssuer } from '../support/token-issuer';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const DAY = '2025-10-14';
const CLIENT = 'browser-client';
const ISSUER = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Browser';
const { dynamodb } = localClients();

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};
const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
const body = (request: IncomingMessage) =>
  new Promise<string>((resolve) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });

/** Cognito's managed login for one public client, as far as the page uses it; every request it saw. */
async function startManagedLogin(issuer: TestIssuer, dashboardOrigin: () => string) {
  const seen: { path: string; query: Record<string, string>; form?: Record<string, string> }[] = [];
  const codes = new Map<string, { challenge: string; redirectUri: string }>();
  const state = { refuseNext: false, issued: [] as string[], claims: {} as Record<string, unknown> };
  const redirectUri = () => `${dashboardOrigin()}/dashboard`;
  const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const query = Object.fromEntries(url.searchParams);
    const entry: (typeof seen)[number] = { path: url.pathname, query };
    seen.push(entry);
    const fail = (status: number, error: string) =>
      response
        .writeHead(status, {
          'content-type': 'application/json',
          'access-control-allow-origin': dashboardOrigin(),
        })
        .end(JSON.stringify({ error }));
    if (url.pathname === '/.well-known/jwks.json') {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(issuer.jwks()));
      return;
    }
    if (url.pathname === '/oauth2/authorize') {
      if (
        query.response_type !== 'code' ||
        query.client_id !== CLIENT ||
        query.redirect_uri !== redirectUri() ||
        query.code_challenge_method !== 'S256' ||
        !query.code_challenge ||
        query.scope !== 'openid email'
      ) {
        return fail(400, 'invalid_request');
      }
      const back = new URL(redirectUri());
      if (state.refuseNext) {
        state.refuseNext = false;
        back.searchParams.set('error', 'access_denied');
        back.searchParams.set('error_description', 'the user is not allowed');
      } else {
        const code = `code-${seen.length}`;
        codes.set(code, { challenge: query.code_challenge, redirectUri: query.redirect_uri ?? '' });
        back.searchParams.set('code', code);
      }
      back.searchParams.set('state', query.state ?? '');
      // A user with a managed login session is sent back at once.
      response.writeHead(302, { location: back.href }).end();
      return;
    }
    if (url.pathname === '/oauth2/token' && request.method === 'POST') {
      const form = Object.fromEntries(new URLSearchParams(await body(request)));
      entry.form = form;
      const granted = codes.get(form.code ?? '');
      codes.delete(form.code ?? '');
      const challenge = createHash('sha256')
        .update(form.code_verifier ?? '')
        .digest('base64url');
      if (
        request.headers['content-type'] !== 'application/x-www-form-urlencoded' ||
        form.grant_type !== 'authorization_code' ||
        form.client_id !== CLIENT ||
        !granted ||
        granted.redirectUri !== form.redirect_uri ||
        granted.challenge !== challenge
      ) {
        return fail(400, 'invalid_grant');
      }
      const accessToken = issuer.accessToken({ jti: `jti-${seen.length}`, ...state.claims });
      state.issued.push(accessToken);
      response
        .writeHead(200, {
          'content-type': 'application/json',
          'access-control-allow-origin': dashboardOrigin(),
        })
        .end(
          JSON.stringify({
            access_token: accessToken,
            id_token: issuer.accessToken({ token_use: 'id', client_id: undefined, aud: CLIENT }),
            token_type: 'Bearer',
            expires_in: 3600,
          }),
        );
      return;
    }
    if (url.pathname === '/logout') {
      if (query.client_id !== CLIENT || query.logout_uri !== redirectUri())
        return fail(400, 'invalid_request');
      response.writeHead(302, { location: query.logout_uri }).end();
      return;
    }
    fail(404, 'not_found');
  });
  const origin = await listen(server);
  return { origin, seen, state, close: () => close(server) };
}

/** The dashboard function behind an HTTP server, as API Gateway's `$default` stage hands it requests. */
async function startDashboardApi(handler: ReturnType<typeof composeDashboardHandler>) {
  const authorizations: (string | undefined)[] = [];
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/api/dashboard') authorizations.push(request.headers.authorization);
    const headers = Object.fromEntries(
      Object.entries(request.headers).filter(
        (entry): entry is [string, string] => typeof entry[1] === 'string',
      ),
    );
    const answer = (await handler(
      dashboardEvent(url.pathname, {
        method: request.method ?? 'GET',
        headers,
        query: Object.fromEntries(url.searchParams),
      }),
    )) as APIGatewayProxyStructuredResultV2 & { headers: Record<string, string> };
    response.writeHead(answer.statusCode ?? 500, answer.headers).end(answer.body);
  });
  const origin = await listen(server);
  return { origin, authorizations, close: () => close(server) };
}

async function storedDay() {
  const table = await createTestTable(dynamodb);
  const message = (event: 'impression' | 'click', i: number) =>
    buildQueueMessage(
      sori,
      Buffer.from(
        JSON.stringify({
          ...soriPayload(event),
          activity_id: `act_sign_in_${event}_${i}`,
          device_id: `device_${i}`,
          campaign: { id: 'cmp_signed', name: 'Signed-in campaign' },
        }),
      ),
      `${DAY}T12:00:00.000Z`,
    );
  await storeAndFold(table.writer, table.counters, [message('impression', 1), message('click', 2)]);
  return table.tableName;
}

// Chromium comes from Debian, as for the local dashboard's browser tests; without it this suite is skipped.
describe.skipIf(!existsSync(CHROMIUM))('the deployed dashboard’s sign-in in a real browser', () => {
  let browser: Browser;
  let tableName: string;
  let html: string;
  let login: Awaited<ReturnType<typeof startManagedLogin>>;
  let api: Awaited<ReturnType<typeof startDashboardApi>>;
  let page: Page;
  let violations: string[];

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--headless',
        '--disable-gpu',
        '--disable-background-networking',
        '--no-first-run',
      ],
    });
    tableName = await storedDay();
    html = await readFile(
      join(import.meta.dirname, '../../functions/campaign-dashboard/page/index.html'),
      'utf8',
    );
  });
  afterAll(() => browser?.close());

  beforeEach(async () => {
    const issuer = createTestIssuer(ISSUER, CLIENT);
    let dashboardOrigin = '';
    login = await startManagedLogin(issuer, () => dashboardOrigin);
    api = await startDashboardApi(
      composeDashboardHandler(
        loadDashboardConfig({
          TABLE_NAME: tableName,
          TOKEN_ISSUER: issuer.issuer,
          TOKEN_CLIENT_ID: CLIENT,
          TOKEN_JWKS_URL: `${login.origin}/.well-known/jwks.json`,
          SIGN_IN_URL: login.origin,
        }),
        html,
        { dynamodb, logLevel: 'error' },
      ),
    );
    dashboardOrigin = api.origin;
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    violations = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    page.on('pageerror', (error) => violations.push(String(error)));
  });
  afterEach(async () => {
    await page?.close();
    await api?.close();
    await login?.close();
  });

  const campaignRow = () => page.locator('tr[data-campaign="cmp_signed"] td').allTextContents();

  it('signs in with the authorization code and PKCE, takes the code off the address, keeps the day, and reads the API with the bearer token, with no Content-Security-Policy violation', async () => {
    await page.goto(`${api.origin}/dashboard?day=${DAY}`);
    await expect
      .poll(campaignRow, { timeout: 15_000 })
      .toEqual(['Signed-in campaigncmp_signed', 'sori', '1', '1', '100.0 %', '2']);
    expect(new URL(page.url()).pathname + new URL(page.url()).search).toBe(`/dashboard?day=${DAY}`);
    expect(await page.locator('#day-picker').inputValue()).toBe(DAY);
    const authorize = login.seen.filter((r) => r.path === '/oauth2/authorize');
    const token = login.seen.filter((r) => r.path === '/oauth2/token');
    expect(authorize).toHaveLength(1);
    expect(token).toHaveLength(1);
    expect(token[0]?.form).toMatchObject({ grant_type: 'authorization_code', client_id: CLIENT });
    expect(api.authorizations.length).toBeGreaterThan(0);
    for (const authorization of api.authorizations)
      expect(authorization).toBe(`Bearer ${login.state.issued[0]}`);
    // The access token stays in this tab's session storage, nowhere else.
    expect(await page.evaluate('localStorage.length')).toBe(0);
    expect(
      JSON.parse(String(await page.evaluate(`sessionStorage.getItem('campaign-inbox.tokens')`))),
    ).toMatchObject({
      accessToken: login.state.issued[0],
    });
    expect(await page.locator('#sign-out').isVisible()).toBe(true);
    expect(violations).toEqual([]);
  });

  it('signs in again when the API answers 401 to the stored token', async () => {
    await page.goto(`${api.origin}/dashboard?day=${DAY}`);
    await expect.poll(campaignRow, { timeout: 15_000 }).toHaveLength(6);
    // A token the function refuses (signed by another key), stored as if signed in an hour ago.
    const forged = createTestIssuer(ISSUER, CLIENT).accessToken();
    const stored = {
      accessToken: forged,
      expiresAt: Date.now() + 3_600_000,
      signedInAt: Date.now() - 3_600_000,
    };
    await page.evaluate(
      `sessionStorage.setItem('campaign-inbox.tokens', ${JSON.stringify(JSON.stringify(stored))})`,
    );
    await expect
      .poll(() => login.seen.filter((r) => r.path === '/oauth2/token').length, { timeout: 15_000 })
      .toBe(2);
    await expect.poll(campaignRow, { timeout: 15_000 }).toHaveLength(6);
    expect(api.authorizations).toContain(`Bearer ${forged}`);
    expect(api.authorizations.at(-1)).toBe(`Bearer ${login.state.issued[1]}`);
    expect(violations).toEqual([]);
  });

  it('signs out through the managed login’s logout endpoint with the client and the page as logout URI, forgetting the token', async () => {
    await page.goto(`${api.origin}/dashboard?day=${DAY}`);
    await expect.poll(campaignRow, { timeout: 15_000 }).toHaveLength(6);
    login.state.refuseNext = true;
    await page.locator('#sign-out').click();
    // Back from the logout, the page signs in anew; the stand-in refuses that one, so the page stays signed out.
    await expect
      .poll(() => page.locator('#banner').textContent(), { timeout: 15_000 })
      .toBe('Sign-in failed: the user is not allowed. Reload the page to try again.');
    const logout = login.seen.filter((r) => r.path === '/logout');
    expect(logout).toEqual([
      { path: '/logout', query: { client_id: CLIENT, logout_uri: `${api.origin}/dashboard` } },
    ]);
    expect(await page.evaluate(`sessionStorage.getItem('campaign-inbox.tokens')`)).toBeNull();
  });

  it('says so instead of signing in again and again when the API refuses a token just given', async () => {
    // The pool gives tokens of another client than the function takes: each fresh token is refused.
    login.state.claims = { client_id: 'another-client' };
    await page.goto(`${api.origin}/dashboard?day=${DAY}`);
    await expect
      .poll(() => page.locator('#banner').textContent(), { timeout: 15_000 })
      .toBe(
        'Signed in, but the dashboard refused the token. Ask the administrator to check the sign-in settings.',
      );
    expect(login.seen.filter((r) => r.path === '/oauth2/authorize')).toHaveLength(1);
    expect(api.authorizations).toEqual([`Bearer ${login.state.issued[0]}`]);
  });

  it('says why when the sign-in is refused, and does not start it again by itself', async () => {
    login.state.refuseNext = true;
    await page.goto(`${api.origin}/dashboard?day=${DAY}`);
    await expect
      .poll(() => page.locator('#banner').textContent(), { timeout: 15_000 })
      .toBe('Sign-in failed: the user is not allowed. Reload the page to try again.');
    expect(await page.locator('#banner').isVisible()).toBe(true);
    // Several refresh periods later, still one attempt and no call of the API.
    await page.waitForTimeout(4_500);
    expect(login.seen.filter((r) => r.path === '/oauth2/authorize')).toHaveLength(1);
    expect(api.authorizations).toEqual([]);
    expect(new URL(page.url()).search).toBe(`?day=${DAY}`);
  });
  it("shows a fixed message, not the link's words, for a sign-in error this page did not ask for (a crafted link)", async () => {
    const words = encodeURIComponent('Your account is locked: call 555-0100 now');
    await page.goto(`${api.origin}/dashboard?error=access_denied&error_description=${words}`);
    await expect
      .poll(() => page.locator('#banner').textContent(), { timeout: 15_000 })
      .toBe('Sign-in failed. Reload the page to try again.');
    expect(await page.content()).not.toContain('555-0100');
    expect(api.authorizations).toEqual([]);
  });
});
