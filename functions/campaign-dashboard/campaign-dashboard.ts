import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { type AccessTokenClaims, SigningKeysUnavailableError, TokenRefusedError } from '../../lib/auth/jwt';
import type { Logger } from '../../lib/log';
import { type Dashboard, type DashboardQuery, parseDashboardQuery } from '../../lib/queries/dashboard';
import type { ServedPage } from './page';

type Result = APIGatewayProxyStructuredResultV2;

export interface DashboardDeps {
  reader: { read(query: DashboardQuery): Promise<Dashboard> };
  verifier: { verify(token: string): Promise<AccessTokenClaims> };
  page: ServedPage;
  logger: Logger;
  /** Today, `YYYY-MM-DD` (UTC): the range's last day when none is asked for. */
  today?: () => string;
}

/** Every answer: never cached (the data changes and is behind sign-in), never sniffed, HTTPS only. */
const COMMON = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'strict-transport-security': 'max-age=31536000',
  'referrer-policy': 'no-referrer',
};

const json = (statusCode: number, body: unknown, headers: Record<string, string> = {}): Result => ({
  statusCode,
  headers: { 'content-type': 'application/json', ...COMMON, ...headers },
  body: JSON.stringify(body),
});

/**
 * The same answer whatever was wrong with the token, as API Gateway's JWT authorizer gives it: the reason is
 * for the logs, not for whoever holds the token.
 */
const UNAUTHORIZED = () => json(401, { message: 'Unauthorized' }, { 'www-authenticate': 'Bearer' });

/** The bearer token of an `Authorization` header (RFC 6750: the scheme is case-insensitive). */
function bearerToken(event: APIGatewayProxyEventV2): string | undefined {
  const headers = event.headers ?? {};
  const value =
    headers.authorization ??
    Object.entries(headers).find(([name]) => name.toLowerCase() === 'authorization')?.[1];
  return value ? /^Bearer +([^\s]+)\s*$/i.exec(value)?.[1] : undefined;
}

/**
 * The deployed dashboard, for an API Gateway HTTP API (payload v2): `GET /dashboard` answers the page with its
 * sign-in settings and Content-Security-Policy; `GET /api/dashboard` answers the dashboard of a range of days
 * as the local `/api/dashboard` does (the same query rules, the same 400s), and only to a request
 * carrying a valid access token, checked here whatever the gateway checked before: 401 without one, 503 when
 * the issuer's keys cannot be read to tell.
 */
export function createDashboardHandler(deps: DashboardDeps) {
  const today = deps.today ?? (() => new Date().toISOString().slice(0, 10));
  return async (event: APIGatewayProxyEventV2): Promise<Result> => {
    const method = event.requestContext.http.method.toUpperCase();
    const path = event.rawPath;
    if (path !== '/dashboard' && path !== '/api/dashboard') return json(404, { message: 'Not Found' });
    if (method !== 'GET') return json(405, { message: 'Method Not Allowed' }, { allow: 'GET' });
    if (path === '/dashboard') {
      return {
        statusCode: 200,
        headers: {
          'content-type': 'text/html; charset=utf-8',
          ...COMMON,
          'content-security-policy': deps.page.contentSecurityPolicy,
          'x-frame-options': 'DENY',
        },
        body: deps.page.body,
      };
    }
    const token = bearerToken(event);
    if (!token) {
      deps.logger.info('dashboard request refused', {
        reason: 'no-token',
        requestId: event.requestContext.requestId,
      });
      return UNAUTHORIZED();
    }
    let claims: AccessTokenClaims;
    try {
      claims = await deps.verifier.verify(token);
    } catch (error) {
      if (error instanceof TokenRefusedError) {
        deps.logger.info('dashboard request refused', {
          reason: error.reason,
          detail: error.message,
          requestId: event.requestContext.requestId,
        });
        return UNAUTHORIZED();
      }
      if (error instanceof SigningKeysUnavailableError) {
        deps.logger.error('the token issuer keys could not be read', { error });
        return json(503, { message: 'Service Unavailable' }, { 'retry-after': '5' });
      }
      throw error;
    }
    const parsed = parseDashboardQuery(event.queryStringParameters ?? {}, today());
    if (!parsed.ok) return json(400, { message: parsed.message });
    try {
      const dashboard = await deps.reader.read(parsed.query);
      deps.logger.debug('dashboard read', {
        user: claims.username ?? claims.sub,
        from: dashboard.from,
        to: dashboard.to,
      });
      return json(200, dashboard);
    } catch (error) {
      deps.logger.error('the dashboard could not be read', { error });
      return json(500, { message: 'Internal Server Error' });
    }
  };
}
