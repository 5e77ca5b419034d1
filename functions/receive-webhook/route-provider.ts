import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/**
 * A provider's own routes: `POST /webhooks/<name>`, `POST /webhooks/<name>/{token}`, and `POST
 * /webhooks/<name>/<app>` for each of its apps given a route of its own.
 */
const PROVIDER_ROUTE = /^POST \/webhooks\/([^/{}]+)(?:\/\{token\}|\/([^/{}]+))?$/;

/**
 * The provider name a request's route gives: the `{provider}` path variable of the catch-all routes, else the
 * name in the route key of a provider's own route, whose path names it literally (API Gateway then passes no
 * `provider` path variable); `''` when neither names one. Never the raw path: that is the sender's to choose.
 */
export function routeProvider(event: APIGatewayProxyEventV2): string {
  const variable = event.pathParameters?.provider;
  if (variable !== undefined) return variable;
  return PROVIDER_ROUTE.exec(event.routeKey ?? '')?.[1] ?? '';
}

/**
 * The app an app's own route names in its route key (`POST /webhooks/sori/agency-a`), `undefined` on any other
 * route: an app without a route of its own comes by the `{token}` route, its name the `token` path variable.
 */
export function routeApp(event: APIGatewayProxyEventV2): string | undefined {
  if (event.pathParameters?.provider !== undefined) return undefined;
  return PROVIDER_ROUTE.exec(event.routeKey ?? '')?.[2];
}
