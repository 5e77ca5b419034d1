import { DEFAULT_APP, isAppName } from '../events/app-name';
import { findProvider } from './index';

export { AppNameSchema, DEFAULT_APP, isAppName } from '../events/app-name';

/** The apps given routes of their own, by provider: `{"sori":["agency-a","agency-b"]}`. */
export type ProviderApps = Record<string, string[]>;

/**
 * Reads the apps given routes of their own at synth (the CDK context value `providerApps`, JSON text or already
 * parsed): each gets `POST /webhooks/<provider>/<app>` and a throttle of its own (`providerThrottles` names it
 * `<provider>/<app>`). Any other app name still reaches its provider's `{token}` route, where a delivery is
 * verified with that app's keys as well: these routes are for the throttles.
 * @param served the providers the stack serves
 * @param signs whether a provider signs its deliveries with an HMAC: only such a provider tells apps apart by
 *   their keys (a URL-token provider's last segment is its token)
 * @throws naming `providerApps`, the provider and the app, when a provider is not served or does not sign, an
 *   app's name does not fit a path segment or is `default` (the provider's own URL), or a name is listed twice.
 */
export function parseProviderApps(
  value: unknown,
  served: readonly string[],
  signs: (provider: string) => boolean,
): ProviderApps {
  if (value === undefined || value === null || value === '') return {};
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new Error(
        `context providerApps must be JSON like {"sori":["agency-a"]}, got ${JSON.stringify(value.slice(0, 80))}`,
      );
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error('context providerApps must be an object of providers, like {"sori":["agency-a"]}');
  const apps: ProviderApps = {};
  for (const [provider, names] of Object.entries(parsed)) {
    const key = `providerApps.${provider}`;
    if (!served.includes(provider))
      throw new Error(
        `context providerApps names ${JSON.stringify(provider)}, which this stack does not serve (it serves ${served.join(', ')})`,
      );
    if (!signs(provider))
      throw new Error(
        `context ${key}: ${provider} does not sign its deliveries with an HMAC, so its apps cannot be told apart by their keys`,
      );
    if (!Array.isArray(names) || names.some((name) => typeof name !== 'string'))
      throw new Error(`context ${key} must be a list of app names, like ["agency-a"]`);
    const seen = new Set<string>();
    for (const name of names as string[]) {
      if (name === DEFAULT_APP)
        throw new Error(
          `context ${key}: "default" is the provider's own URL (/webhooks/${provider}), not an app`,
        );
      if (!isAppName(name))
        throw new Error(
          `context ${key}: ${JSON.stringify(name.slice(0, 40))} is not an app name (1 to 32 lower-case letters, digits or hyphens)`,
        );
      if (seen.has(name)) throw new Error(`context ${key}: ${JSON.stringify(name)} is listed twice`);
      seen.add(name);
    }
    apps[provider] = [...seen];
  }
  return apps;
}

/** @returns `<provider>/<app>` for every app given a route of its own: the names `providerThrottles` takes. */
export const appRouteKeys = (apps: ProviderApps): string[] =>
  Object.entries(apps).flatMap(([provider, names]) => names.map((name) => `${provider}/${name}`));

/**
 * @returns `true` when `provider` signs its deliveries with an HMAC as a stack configures it: by its `auth`
 *   override's scheme when it has one, else by its own; a provider added by configuration always does. Only such
 *   a provider can have apps (for {@link parseProviderApps}).
 */
export function signsWithHmac(
  provider: string,
  config: { auth?: Readonly<Record<string, unknown>>; customProviders?: readonly { name: string }[] } = {},
): boolean {
  const override = config.auth?.[provider] as { scheme?: { kind?: unknown } } | undefined;
  if (override?.scheme?.kind !== undefined) return override.scheme.kind === 'hmac';
  if (config.customProviders?.some((custom) => custom.name === provider)) return true;
  return findProvider(provider)?.auth.scheme.kind === 'hmac';
}
