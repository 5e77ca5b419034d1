import { toHttpAnswer } from '../functions/receive-webhook/render-http-errors';
import { checkProviderThrottles, providerThrottle, type RouteThrottle } from '../infra/config';
import { PayloadTooLargeError } from '../lib/errors';
import { findProvider, providerNames } from '../lib/providers';
import { appRouteKeys, type ProviderApps } from '../lib/providers/apps';
import type { LambdaHttpHandler, Route } from './api-gateway-server';

/**
 * The receive handler's own limit for a request, applied before its body is read: a provider's, capped by the
 * deployment's; `undefined` for a method or a provider the handler refuses, which looks at no body.
 */
function bodyLimitOf(maxBodyBytes: number) {
  return (params: Record<string, string>, method: string) => {
    const provider = findProvider(params.provider ?? '');
    if (method !== 'POST' || !provider) return undefined;
    return Math.min(provider.maxBodyBytes ?? maxBodyBytes, maxBodyBytes);
  };
}

/** The receive handler's answer to a body over its limit, as it renders the error itself. */
function tooLarge(size: number, limit: number) {
  const answer = toHttpAnswer(new PayloadTooLargeError(size, limit));
  return {
    statusCode: answer.status,
    headers: { 'content-type': 'application/json', ...answer.headers },
    body: JSON.stringify({ message: answer.message }),
  };
}

/**
 * The webhook routes of the deployed API, each to `receive`: each provider's own two POST routes and one per app
 * given a route of its own (each with its throttle, when `throttles` are kept), then the catch-all routes for
 * everything else (a provider not known, any method but POST), which the handler answers 404 and 405.
 * @throws as the deployed settings are checked, when a provider's or an app's throttle is wrong.
 */
export function webhookRoutes(
  receive: LambdaHttpHandler,
  maxBodyBytes: number,
  throttles: { providers?: Record<string, Partial<RouteThrottle>> } | undefined,
  apps: ProviderApps = {},
): Route[] {
  const bodyLimit = bodyLimitOf(maxBodyBytes);
  const limits = throttles
    ? checkProviderThrottles(throttles.providers ?? {}, [...providerNames(), ...appRouteKeys(apps)])
    : undefined;
  const providerRoutes = providerNames().flatMap((name): Route[] => {
    // The deployed handler as it is: it reads the provider from the route key, as API Gateway gives it.
    const shared = {
      handler: receive,
      provider: name,
      bodyLimit: (_params: Record<string, string>, method: string) => bodyLimit({ provider: name }, method),
      tooLarge,
      ...(limits ? { throttle: providerThrottle(limits, name) } : {}),
    };
    const path = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    // An app's own route: a literal last segment, preferred to `{token}` as API Gateway prefers it.
    const appRoutes = (apps[name] ?? []).map(
      (app): Route => ({
        ...shared,
        ...(limits ? { throttle: providerThrottle(limits, `${name}/${app}`) } : {}),
        routeKey: `POST /webhooks/${name}/${app}`,
        pattern: new RegExp(`^/webhooks/${path}/${app}/?$`),
        params: [],
      }),
    );
    return [
      ...appRoutes,
      {
        routeKey: `POST /webhooks/${name}`,
        pattern: new RegExp(`^/webhooks/${path}/?$`),
        params: [],
        ...shared,
      },
      {
        routeKey: `POST /webhooks/${name}/{token}`,
        pattern: new RegExp(`^/webhooks/${path}/([^/]+)/?$`),
        params: ['token'],
        ...shared,
      },
    ];
  });
  const catchAll = { handler: receive, bodyLimit, tooLarge };
  return [
    ...providerRoutes,
    {
      routeKey: 'ANY /webhooks/{provider}',
      pattern: /^\/webhooks\/([^/]+)\/?$/,
      params: ['provider'],
      ...catchAll,
    },
    {
      routeKey: 'ANY /webhooks/{provider}/{token}',
      pattern: /^\/webhooks\/([^/]+)\/([^/]+)\/?$/,
      params: ['provider', 'token'],
      ...catchAll,
    },
  ];
}
