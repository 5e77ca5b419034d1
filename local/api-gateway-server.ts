import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Logger } from '../lib/log';
import { findProvider } from '../lib/providers';
import { RefusalCounts } from './activity';

/** API Gateway's own hard limit on a request body. */
const API_GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;
/**
 * How long an idle keep-alive connection stays open. Node's default (5 s) is shorter than the idle timeout of
 * common HTTP client pools, so a pooled sender would race the close and see "other side closed"; API Gateway
 * keeps idle connections far longer.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

export type LambdaHttpHandler = (
  event: APIGatewayProxyEventV2,
  context: never,
) => Promise<APIGatewayProxyStructuredResultV2>;

/** A route's throttle, as API Gateway's route settings give it: requests per second, and the burst. */
export interface RouteThrottle {
  rateLimit: number;
  burstLimit: number;
}

export interface Route {
  /** e.g. `ANY /webhooks/{provider}`; its method (`ANY`: every one) is the one the route takes. */
  routeKey: string;
  pattern: RegExp;
  params: string[];
  handler: LambdaHttpHandler;
  /**
   * The provider of a route of its own (`POST /webhooks/sori`), whose path names it without a `{provider}`
   * path parameter: its refusals are counted for it.
   */
  provider?: string;
  /** Its own throttle, in place of the server's {@link ApiGatewayServerOptions.defaultThrottle}. */
  throttle?: RouteThrottle;
  /**
   * The most body bytes the handler takes for this request, or `undefined` when it reads none (a method or a
   * provider it refuses): a body is read only that far. API Gateway's own 10 MiB limit without it.
   */
  bodyLimit?: (params: Record<string, string>, method: string) => number | undefined;
  /** The handler's answer to a body over {@link bodyLimit}; API Gateway's own 413 without it. */
  tooLarge?: (size: number, limit: number) => APIGatewayProxyStructuredResultV2;
}

export interface ApiGatewayServerOptions {
  port: number;
  routes: Route[];
  /** Plain handlers for local-only paths (health, dashboard). Return `false` to fall through. */
  extra?: (request: IncomingMessage, response: ServerResponse) => Promise<boolean>;
  /** Gets one line per webhook request: the route key and the status, never the path (it may hold a token). */
  logger?: Logger;
  /** Where refusals are counted (see {@link startApiGatewayServer}); a new count by default. */
  refusals?: RefusalCounts;
  /**
   * The stage's throttle, for each route without its own; with neither, a route is not throttled. API Gateway
   * keeps one token bucket per route, so the default is each route's, not a total they share.
   */
  defaultThrottle?: RouteThrottle;
  /** The clock of the throttles, milliseconds; `performance.now` by default. */
  now?: () => number;
}

/**
 * API Gateway's throttle of one route, a token bucket: it holds up to `burstLimit` requests' tokens, starts
 * full, and gains `rateLimit` tokens a second; a request that finds no whole token is answered 429.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly throttle: RouteThrottle,
    now: number,
  ) {
    this.tokens = throttle.burstLimit;
    this.last = now;
  }

  /** Takes a token at `now` (milliseconds); `false` when none is left, which is a 429. */
  take(now: number): boolean {
    const elapsed = Math.max(0, now - this.last) / 1000;
    this.last = Math.max(this.last, now);
    this.tokens = Math.min(this.throttle.burstLimit, this.tokens + elapsed * this.throttle.rateLimit);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

const methodOf = (route: Route) => route.routeKey.split(' ')[0] ?? 'ANY';

/**
 * API Gateway's choice among the routes a request matches: the one that matches most exactly, a literal path
 * segment over a path variable, and a route's own method over `ANY`. Sorted once, matched in order.
 */
function bySpecificity(routes: readonly Route[]): Route[] {
  const rank = (route: Route) => route.params.length * 2 + (methodOf(route) === 'ANY' ? 1 : 0);
  return [...routes].sort((a, b) => rank(a) - rank(b));
}

const TEXT_TYPES = /^(application\/([\w.+-]*json|x-www-form-urlencoded|xml)|text\/)/i;

/**
 * Lambda proxy integration v2 delivers text bodies as strings and everything else base64-encoded. A body that
 * claims to be text but is not valid UTF-8 is base64-encoded too, so its bytes reach the handler unchanged.
 */
function encodeBody(
  bytes: Buffer,
  contentType: string | undefined,
): { body?: string; isBase64Encoded: boolean } {
  if (bytes.length === 0) return { isBase64Encoded: false };
  if (contentType && TEXT_TYPES.test(contentType)) {
    try {
      // ignoreBOM keeps a leading byte-order mark in the string: the bytes re-encoded are the bytes signed.
      const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
      return { body: text, isBase64Encoded: false };
    } catch {}
  }
  return { body: bytes.toString('base64'), isBase64Encoded: true };
}

/** Header names lower-cased and repeated headers joined with commas, as API Gateway HTTP APIs do. */
function collectHeaders(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    const name = (request.rawHeaders[i] ?? '').toLowerCase();
    const value = request.rawHeaders[i + 1] ?? '';
    headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  return headers;
}

/**
 * Reads the body, up to `limit` bytes. Past it the reading stops (the request is paused, not destroyed, so the
 * answer still goes out) and `undefined` is returned.
 */
function readBody(request: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      request.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      done();
      request.pause();
      resolve(undefined);
    };
    const onEnd = () => {
      done();
      resolve(Buffer.concat(chunks));
    };
    const onError = (error: Error) => {
      done();
      reject(error);
    };
    const onClose = () => {
      done();
      reject(new Error('the request was aborted before its body ended'));
    };
    request.on('data', onData);
    request.once('end', onEnd);
    request.once('error', onError);
    request.once('close', onClose);
  });
}

/** Builds the API Gateway HTTP API (payload v2) event for a request matched to `route`. */
export function toApiGatewayEvent(
  request: IncomingMessage,
  url: URL,
  route: Route,
  params: Record<string, string>,
  body: Buffer,
): APIGatewayProxyEventV2 {
  const headers = collectHeaders(request);
  const now = new Date();
  return {
    version: '2.0',
    routeKey: route.routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(url.search ? { queryStringParameters: Object.fromEntries(url.searchParams) } : {}),
    pathParameters: params,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? '127.0.0.1',
      domainPrefix: 'local',
      http: {
        method: request.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: route.routeKey,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...encodeBody(body, headers['content-type']),
  };
}

/** The route's path parameters, URL-decoded; `undefined` when one is no valid percent-encoding. */
function decodeParams(route: Route, match: RegExpExecArray): Record<string, string> | undefined {
  try {
    return Object.fromEntries(route.params.map((name, i) => [name, decodeURIComponent(match[i + 1] ?? '')]));
  } catch {
    return undefined;
  }
}

function send(response: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(body);
}

/**
 * A local stand-in for an API Gateway HTTP API with Lambda proxy integrations, on 127.0.0.1 only.
 *
 * Routes are chosen as API Gateway chooses them (the most exact match), and throttled as its route settings
 * throttle them: a token bucket per route, its own throttle or the stage's default, 429 past it.
 *
 * It counts refusals as the deployed receive function does: each 4xx answer of a route with a `provider` path
 * parameter (or a provider route of its own), its own 413 for a body over the limit included; never a 429 of a
 * throttle, which the function does not see. A refusal is counted for a provider only when a
 * POST named one this build serves; any other name, and any other method, is counted in the total alone, so the
 * counts never grow with what senders put in paths.
 */
export async function startApiGatewayServer(options: ApiGatewayServerOptions): Promise<{
  server: Server;
  port: number;
  /** The refusals answered since the server started. */
  refusals: RefusalCounts;
  stop(graceMs?: number): Promise<void>;
}> {
  const gateway: Gateway = {
    options,
    refusals: options.refusals ?? new RefusalCounts(),
    now: options.now ?? (() => performance.now()),
    routes: bySpecificity(options.routes),
    buckets: new Map(),
  };
  for (const route of gateway.routes) {
    const throttle = route.throttle ?? options.defaultThrottle;
    if (throttle) gateway.buckets.set(route, new TokenBucket(throttle, gateway.now()));
  }
  const server = createServer((request, response) => handleRequest(gateway, request, response));
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  // Above the keep-alive timeout, so a request arriving on a connection about to idle out is not cut short.
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    refusals: gateway.refusals,
    stop: (graceMs = 2_000) => stopServer(server, graceMs),
  };
}

/** The server's routes in the order they are matched, their throttles, and where refusals are counted. */
interface Gateway {
  options: ApiGatewayServerOptions;
  refusals: RefusalCounts;
  now: () => number;
  routes: Route[];
  buckets: Map<Route, TokenBucket>;
}

/** One request under way: its route once matched, what counts its refusal, and its one log line. */
interface Exchange {
  request: IncomingMessage;
  response: ServerResponse;
  routeKey?: string;
  refusal?: () => void;
  log(status: number): void;
}

/** Answers a request: a local-only path, else the route API Gateway would choose, else 404. */
async function handleRequest(gateway: Gateway, request: IncomingMessage, response: ServerResponse) {
  const { options } = gateway;
  const started = performance.now();
  const exchange: Exchange = {
    request,
    response,
    log(status) {
      if (status >= 400 && status < 500) exchange.refusal?.();
      options.logger?.info('webhook request', {
        routeKey: exchange.routeKey,
        status,
        durationMs: Math.round(performance.now() - started),
      });
    },
  };
  try {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (options.extra && (await options.extra(request, response))) return;
    const matched = matchRoute(gateway.routes, request.method ?? 'GET', url.pathname);
    if (matched) await serveRoute(gateway, exchange, url, matched.route, matched.params);
    else send(response, 404, JSON.stringify({ message: 'Not Found' }));
  } catch (error) {
    options.logger?.error('local API Gateway failed a request', { routeKey: exchange.routeKey, error });
    if (!response.headersSent) send(response, 500, JSON.stringify({ message: 'Internal Server Error' }));
    else response.destroy();
  }
}

/** The first route, in matching order, that takes the method and the path, with its path parameters. */
function matchRoute(
  routes: Route[],
  method: string,
  path: string,
): { route: Route; params: Record<string, string> } | undefined {
  for (const route of routes) {
    const routeMethod = methodOf(route);
    if (routeMethod !== 'ANY' && routeMethod !== method) continue;
    const match = route.pattern.exec(path);
    if (!match) continue;
    const params = decodeParams(route, match);
    // A path that does not decode names no provider: no route matches it.
    return params ? { route, params } : undefined;
  }
  return undefined;
}

/** Serves a matched route: its throttle, its body within the route's limit, then its handler's answer. */
async function serveRoute(
  gateway: Gateway,
  exchange: Exchange,
  url: URL,
  route: Route,
  params: Record<string, string>,
): Promise<void> {
  const { request, response } = exchange;
  const method = request.method ?? 'GET';
  exchange.routeKey = route.routeKey;
  // Throttled before anything else, as API Gateway does: the function never sees the request, so it is not one
  // of the function's refusals either.
  const bucket = gateway.buckets.get(route);
  if (bucket && !bucket.take(gateway.now())) {
    exchange.log(429);
    // Its body is never read: the connection cannot serve another request after it.
    send(response, 429, JSON.stringify({ message: 'Too Many Requests' }), {
      ...(request.complete ? {} : { connection: 'close' }),
    });
    return;
  }
  if (route.provider !== undefined || route.params.includes('provider')) {
    const named = route.provider ?? params.provider ?? '';
    const provider = method === 'POST' ? findProvider(named)?.name : undefined;
    exchange.refusal = () => gateway.refusals.note(provider);
  }
  const body = await readRouteBody(exchange, route, params);
  if (body === undefined) return;
  const result = await route.handler(toApiGatewayEvent(request, url, route, params, body), {} as never);
  const payload = result.isBase64Encoded ? Buffer.from(result.body ?? '', 'base64') : (result.body ?? '');
  exchange.log(result.statusCode ?? 200);
  response.writeHead(result.statusCode ?? 200, result.headers as Record<string, string>);
  response.end(payload);
}

/**
 * The request's body as far as the route reads it (none when it takes none).
 * @returns `undefined` when the body was over the route's limit and the request has been answered.
 */
async function readRouteBody(
  exchange: Exchange,
  route: Route,
  params: Record<string, string>,
): Promise<Buffer | undefined> {
  const { request, response } = exchange;
  const limit = route.bodyLimit
    ? route.bodyLimit(params, request.method ?? 'GET')
    : API_GATEWAY_MAX_BODY_BYTES;
  const tooLarge = (size: number, max: number) => {
    exchange.log(413);
    const answer = route.tooLarge?.(size, max) ?? {
      statusCode: 413,
      body: JSON.stringify({ message: 'Request Entity Too Large' }),
    };
    // The rest of the body is never read: the connection cannot serve another request after it.
    response.writeHead(answer.statusCode ?? 413, {
      'content-type': 'application/json',
      ...(answer.headers as Record<string, string>),
      connection: 'close',
    });
    response.end(answer.body ?? '');
    return undefined;
  };
  if (limit === undefined) {
    // Unread, the body leaves the connection unusable for a next request.
    if (!request.complete) response.setHeader('connection', 'close');
    return Buffer.alloc(0);
  }
  // Refused from its declared length before a byte of it is read, as it could not be taken anyway.
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > limit) return tooLarge(declared, limit);
  return (await readBody(request, limit)) ?? tooLarge(limit + 1, limit);
}

/**
 * Closes the server: requests under way get `graceMs` to be answered; idle keep-alive connections go at once,
 * and each connection as soon as its request is answered.
 */
function stopServer(server: Server, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearInterval(idle);
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}
