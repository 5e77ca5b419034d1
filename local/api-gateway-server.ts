import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/** API Gateway's own hard limit on a request body. */
const API_GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;

export type LambdaHttpHandler = (
  event: APIGatewayProxyEventV2,
  context: never,
) => Promise<APIGatewayProxyStructuredResultV2>;

export interface Route {
  /** e.g. `ANY /webhooks/{provider}` */
  routeKey: string;
  pattern: RegExp;
  params: string[];
  handler: LambdaHttpHandler;
}

export interface ApiGatewayServerOptions {
  port: number;
  routes: Route[];
  /** Plain handlers for local-only paths (health, dashboard). Return `false` to fall through. */
  extra?: (request: IncomingMessage, response: ServerResponse) => Promise<boolean>;
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
      return { body: new TextDecoder('utf-8', { fatal: true }).decode(bytes), isBase64Encoded: false };
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

async function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > API_GATEWAY_MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
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

function send(response: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(body);
}

/** A local stand-in for an API Gateway HTTP API with Lambda proxy integrations, on 127.0.0.1 only. */
export async function startApiGatewayServer(
  options: ApiGatewayServerOptions,
): Promise<{ server: Server; port: number; stop(): Promise<void> }> {
  const server = createServer(async (request, response) => {
    try {
      const url = new URL(request.url ?? '/', 'http://127.0.0.1');
      if (options.extra && (await options.extra(request, response))) return;
      for (const route of options.routes) {
        const match = route.pattern.exec(url.pathname);
        if (!match) continue;
        const params = Object.fromEntries(
          route.params.map((name, i) => [name, decodeURIComponent(match[i + 1] ?? '')]),
        );
        const body = await readBody(request);
        if (body === undefined)
          return send(response, 413, JSON.stringify({ message: 'Request Entity Too Large' }));
        const result = await route.handler(toApiGatewayEvent(request, url, route, params, body), {} as never);
        const payload = result.isBase64Encoded
          ? Buffer.from(result.body ?? '', 'base64')
          : (result.body ?? '');
        response.writeHead(result.statusCode ?? 200, result.headers as Record<string, string>);
        response.end(payload);
        return;
      }
      send(response, 404, JSON.stringify({ message: 'Not Found' }));
    } catch {
      if (!response.headersSent) send(response, 500, JSON.stringify({ message: 'Internal Server Error' }));
      else response.destroy();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
