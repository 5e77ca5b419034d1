import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/**
 * A provider's own routes: `POST /webhooks/<name>`, `POST /webhooks/<name>/{token}`, and `POST
 * /webhooks/<name>/<app>` for each of its apps given a route of its own.
 */
const PROVIDER_ROUTE = /^POST \/webhooks\/([^/{}]+)(?:\/\{token\}|\/([^/{}]+))?$/;

/**
 * The paths the HTTP API's catch-all routes take, `/webhooks/{provider}` and `/webhooks/{provider}/{token}`:
 * one or two whole segments after `/webhooks`, nothing more.
 */
const WEBHOOK_PATH = /^\/webhooks\/([^/]+)(?:\/([^/]+))?$/;

/** The path variables of the HTTP API's webhook routes. */
type RouteParameters = { provider?: string; token?: string };

/**
 * Whether a Lambda function URL invoked the function rather than the HTTP API: a function URL has no routes, and
 * names every request's route `$default`; the HTTP API in front of this function has no `$default` route.
 */
export function isFunctionUrlEvent(event: APIGatewayProxyEventV2): boolean {
  return event.routeKey === '$default';
}

/**
 * The path variables the request's route gives. API Gateway passes them itself; a function URL passes the path
 * alone, so they are read from it as the catch-all routes would match it (each segment decoded, as API Gateway
 * decodes a path variable): `undefined` for a path no webhook route takes, which the HTTP API would have
 * answered 404 without invoking the function.
 */
export function routeParameters(event: APIGatewayProxyEventV2): RouteParameters | undefined {
  if (!isFunctionUrlEvent(event)) return event.pathParameters ?? {};
  const match = WEBHOOK_PATH.exec(event.rawPath ?? event.requestContext?.http?.path ?? '');
  if (!match) return undefined;
  try {
    const [provider = '', token] = [match[1], match[2]].map((segment) =>
      segment === undefined ? undefined : decodeURIComponent(segment),
    );
    return token === undefined ? { provider } : { provider, token };
  } catch {
    // A malformed escape: no route's variable could hold it.
    return undefined;
  }
}

/**
 * The provider name a request's route gives: the `{provider}` path variable of the catch-all routes (read from
 * the path behind a function URL), else the name in the route key of a provider's own route, whose path names
 * it literally (API Gateway then passes no `provider` path variable); `''` when neither names one.
 */
export function routeProvider(event: APIGatewayProxyEventV2): string {
  const variable = routeParameters(event)?.provider;
  if (variable !== undefined) return variable;
  return PROVIDER_ROUTE.exec(event.routeKey ?? '')?.[1] ?? '';
}

/**
 * The app an app's own route names in its route key (`POST /webhooks/sori/agency-a`), `undefined` on any other
 * route: an app without a route of its own comes by the `{token}` route, its name the `token` path variable, as
 * every app does behind a function URL.
 */
export function routeApp(event: APIGatewayProxyEventV2): string | undefined {
  if (isFunctionUrlEvent(event) || event.pathParameters?.provider !== undefined) return undefined;
  return PROVIDER_ROUTE.exec(event.routeKey ?? '')?.[2];
}
