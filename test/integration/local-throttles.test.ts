import { afterEach, describe, expect, it } from 'vitest';
import { RefusalCounts } from '../../local/activity';
import { type LambdaHttpHandler, startApiGatewayServer } from '../../local/api-gateway-server';
import { type LocalStack, type LocalThrottles, startLocalStack } from '../../local/local-stack';
import { hexSignature, memoryLogger, SORI_FIXTURES, soriBody } from '../support/deliveries';

const SECRET = 'sk_local_throttles';
const SYMPHONY_TOKEN = 'tok_local_throttles_0123456789';
const running: Array<{ stop(): Promise<void> }> = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.stop()));
});

async function start(throttles: LocalThrottles): Promise<LocalStack> {
  const stack = await startLocalStack({
    port: 0,
    secret: SECRET,
    urlTokens: { symphony: SYMPHONY_TOKEN },
    logger: memoryLogger().logger,
    throttles,
  });
  running.push(stack);
  return stack;
}

async function post(port: number, path: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: response.status, body: await response.text() };
}

const signedSori = (port: number, name: (typeof SORI_FIXTURES)[number]) => {
  const body = soriBody(name);
  return post(port, '/webhooks/sori', body, { 'x-sori-signature': hexSignature(body, SECRET) });
};

const TOO_MANY = JSON.stringify({ message: 'Too Many Requests' });

describe('local API Gateway throttles, as the deployed route settings', () => {
  it("answers a flood on Symphony's route and on unknown paths 429 past their limits, while SORI's deliveries sent during it are all answered 202", async () => {
    // Symphony's route and the stage's default (the catch-all routes) at 1 request a second, bursts of 5; SORI
    // keeps the deployed default of its own (100 a second, bursts of 200).
    const stack = await start({
      stage: { rateLimit: 1, burstLimit: 5 },
      providers: { symphony: { rateLimit: 1, burstLimit: 5 } },
    });
    const flood = (path: string) =>
      Promise.all(Array.from({ length: 40 }, () => post(stack.port, path, '{"event":"flood"}')));
    const [symphony, unknown, sori] = await Promise.all([
      flood(`/webhooks/symphony/${SYMPHONY_TOKEN}`),
      flood('/webhooks/acme'),
      Promise.all(SORI_FIXTURES.map((name) => signedSori(stack.port, name))),
    ]);
    for (const [what, answers] of [
      ['symphony', symphony],
      ['unknown paths', unknown],
    ] as const) {
      const throttled = answers.filter((answer) => answer.status === 429);
      expect(throttled.length, what).toBeGreaterThan(0);
      for (const answer of throttled) expect(answer.body, what).toBe(TOO_MANY);
    }
    // The unknown provider's requests that got through were the function's own 404.
    expect(new Set(unknown.map((answer) => answer.status))).toEqual(new Set([404, 429]));
    expect(sori.map((answer) => answer.status)).toEqual(SORI_FIXTURES.map(() => 202));
  });

  it("answers SORI's own route 429 past SORI's own burst, and the other routes still answer: Symphony's, and a GET on SORI's URL (405 on the catch-all route)", async () => {
    const stack = await start({ providers: { sori: { rateLimit: 1, burstLimit: 2 } } });
    const answers = await Promise.all(Array.from({ length: 30 }, () => signedSori(stack.port, 'click')));
    const statuses = answers.map((answer) => answer.status);
    expect(statuses).toContain(429);
    expect(new Set(statuses)).toEqual(new Set([202, 429]));
    for (const answer of answers.filter((a) => a.status === 429)) expect(answer.body).toBe(TOO_MANY);

    const symphony = await post(stack.port, `/webhooks/symphony/${SYMPHONY_TOKEN}`, '{}');
    expect(symphony.status).not.toBe(429);
    const get = await fetch(`http://127.0.0.1:${stack.port}/webhooks/sori`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });

  it('throttles nothing without the option, as before: a burst past the deployed default is all answered', async () => {
    const stack = await startLocalStack({ port: 0, secret: SECRET, logger: memoryLogger().logger });
    running.push(stack);
    // 120 deliveries in four quick waves of 30: past SORI's deployed burst of 100.
    const statuses: number[] = [];
    for (let wave = 0; wave < 4; wave++) {
      const answers = await Promise.all(
        Array.from({ length: 30 }, () => signedSori(stack.port, 'impression')),
      );
      statuses.push(...answers.map((answer) => answer.status));
    }
    expect(statuses).toEqual(Array.from({ length: 120 }, () => 202));
  });
});

describe('local API Gateway route choice', () => {
  it('takes the most exact route as API Gateway does, whatever their order: a literal path over a path variable, a method over ANY; a 429 is not counted as a refusal', async () => {
    const calls: string[] = [];
    const handler =
      (name: string): LambdaHttpHandler =>
      async (event) => {
        calls.push(`${name} ${JSON.stringify(event.pathParameters ?? {})}`);
        return { statusCode: 400, body: '{}' };
      };
    const refusals = new RefusalCounts();
    const server = await startApiGatewayServer({
      port: 0,
      refusals,
      routes: [
        {
          routeKey: 'ANY /webhooks/{provider}',
          pattern: /^\/webhooks\/([^/]+)\/?$/,
          params: ['provider'],
          handler: handler('catch-all'),
        },
        {
          routeKey: 'POST /webhooks/sori',
          pattern: /^\/webhooks\/sori\/?$/,
          params: [],
          provider: 'sori',
          handler: handler('sori'),
          throttle: { rateLimit: 1, burstLimit: 1 },
        },
      ],
    });
    running.push(server);
    const url = `http://127.0.0.1:${server.port}/webhooks/sori`;
    expect((await fetch(url, { method: 'POST', body: '{}' })).status).toBe(400);
    expect((await fetch(url)).status).toBe(400);
    expect((await fetch(`http://127.0.0.1:${server.port}/webhooks/acme`, { method: 'POST' })).status).toBe(
      400,
    );
    // The literal route had its one token: the rest of a quick run is throttled (it would need a second each).
    const rest = await Promise.all(
      Array.from({ length: 10 }, () => fetch(url, { method: 'POST', body: '{}' })),
    );
    expect(rest.map((r) => r.status)).toContain(429);
    expect(calls.slice(0, 3)).toEqual([
      'sori {}',
      'catch-all {"provider":"sori"}',
      'catch-all {"provider":"acme"}',
    ]);
    const refused = rest.filter((r) => r.status === 400).length;
    // The 400s the handlers answered, SORI's POSTs counted for it; the 429s nowhere.
    expect(refusals.over('2000-01-01', '2999-12-31', ['sori'])).toEqual({
      total: 3 + refused,
      by_provider: { sori: 1 + refused },
    });
  });
});
