import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { QueueMessage } from '../../lib/events/event-record';
import { createLogger } from '../../lib/log';
import { findProvider } from '../../lib/providers';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { signBody } from '../../lib/signature/verify-signature';

/** The providers' own example payloads, as `npm run send` ships them. */
const EXAMPLES = join(import.meta.dirname, '../../examples/payloads');

export const SORI_FIXTURES = [
  'impression',
  'click',
  'authentication',
  'admin-material-created',
  'legacy-impression',
  'legacy-click',
] as const;
export type SoriFixture = (typeof SORI_FIXTURES)[number];

/** One of SORI's example payloads, parsed. */
export function soriPayload(name: SoriFixture): Record<string, unknown> {
  return JSON.parse(readFileSync(join(EXAMPLES, 'sori', `${name}.json`), 'utf8'));
}

/** One of SORI's example payloads as the bytes SORI would send. */
export function soriBody(name: SoriFixture): string {
  return JSON.stringify(soriPayload(name));
}

export const hexSignature = (body: string | Uint8Array, secret: string) =>
  signBody(body, secret).toString('hex');

/** The route API Gateway matched, as a webhook request's route key and path variables name it. */
export interface WebhookRoute {
  routeKey: string;
  path: string;
  pathParameters?: Record<string, string>;
}

/**
 * The route a deployed stack matches for a request to `/webhooks/<provider>[/<token>]`: a served provider's own
 * `POST /webhooks/<name>` (or `POST /webhooks/<name>/{token}`), which names the provider in its route key and
 * passes no `provider` variable; the catch-all `ANY /webhooks/{provider}` (or `.../{token}`) for any other
 * method or a provider not served, or when `catchAll` asks for it.
 */
export function webhookRoute(
  provider: string,
  options: { method?: string; token?: string; catchAll?: boolean } = {},
): WebhookRoute {
  const method = options.method ?? 'POST';
  const { token } = options;
  const path = `/webhooks/${provider}${token === undefined ? '' : `/${token}`}`;
  if (options.catchAll || method !== 'POST' || !findProvider(provider)) {
    return token === undefined
      ? { routeKey: 'ANY /webhooks/{provider}', path, pathParameters: { provider } }
      : { routeKey: 'ANY /webhooks/{provider}/{token}', path, pathParameters: { provider, token } };
  }
  return token === undefined
    ? { routeKey: `POST /webhooks/${provider}`, path }
    : { routeKey: `POST /webhooks/${provider}/{token}`, path, pathParameters: { token } };
}

/**
 * An API Gateway HTTP API (payload v2) event for a webhook request, on the route a deployed stack matches for it
 * (see {@link webhookRoute}): a served provider's own route for a POST, the catch-all for anything else, or
 * always with `catchAll`. `token` is the URL token segment of a provider that authenticates by one.
 */
export function webhookEvent(options: {
  body?: string;
  headers?: Record<string, string>;
  method?: string;
  provider?: string;
  base64?: boolean;
  token?: string;
  catchAll?: boolean;
}): APIGatewayProxyEventV2 {
  const provider = options.provider ?? 'sori';
  const method = options.method ?? 'POST';
  const body = options.body;
  const route = webhookRoute(provider, { method, token: options.token, catchAll: options.catchAll });
  return {
    version: '2.0',
    routeKey: route.routeKey,
    rawPath: route.path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...options.headers },
    ...(route.pathParameters ? { pathParameters: route.pathParameters } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'test',
      domainName: 'test',
      domainPrefix: 'test',
      http: {
        method,
        path: route.path,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'test',
      },
      requestId: 'test',
      routeKey: route.routeKey,
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    ...(body === undefined
      ? { isBase64Encoded: false }
      : options.base64
        ? { body: Buffer.from(body).toString('base64'), isBase64Encoded: true }
        : { body, isBase64Encoded: false }),
  };
}

/** The real structured logger, writing into memory, for assertions on what was (not) logged. */
export function memoryLogger() {
  const lines: string[] = [];
  return { lines, logger: createLogger('test', 'debug', (line) => lines.push(line)) };
}

/**
 * Queue messages of `count` SORI impressions of one campaign-day (`cmp_0` on 2025-10-14), each event and device
 * its own, as the receive function builds them.
 */
export function campaignDayImpressions(count: number): QueueMessage[] {
  const seed = randomUUID().slice(0, 6);
  const base = soriPayload('impression');
  return Array.from({ length: count }, (_, i) => {
    const payload = {
      ...base,
      event: 'campaign.impression',
      activity_id: `act_${seed}_${i}`,
      device_id: `device_${seed}_${i}`,
      created_at: '2025-10-14T05:00:00.000Z',
      campaign: { ...(base.campaign as object), id: 'cmp_0' },
    };
    return buildQueueMessage(sori, Buffer.from(JSON.stringify(payload)), '2026-01-01T00:00:00.000Z');
  });
}
