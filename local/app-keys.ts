import { ConfigError } from '../lib/errors';
import { isAppName } from '../lib/events/app-name';
import { signsWithHmac } from '../lib/providers/apps';
import type { AppSecret } from '../lib/signature/signing-secrets';

/** One app's keys as `APP_SECRET_KEYS` gives them: the current key alone, or the current and the previous. */
type AppKeys = string | { current: string; previous?: string | null };

/**
 * Reads the keys of providers' apps for `npm start` (`APP_SECRET_KEYS`, JSON:
 * `{"sori":{"agency-a":"sk_…","agency-b":{"current":"sk_…","previous":"sk_…"}}}`), the local twin of what
 * `set-secret --app` puts in the deployed signing secret.
 * @param served the providers the stack serves
 * @returns the apps by provider, as the signing secret document holds them; `{}` when unset
 * @throws {ConfigError} naming `APP_SECRET_KEYS`, the provider and the app, when a value cannot be used.
 */
export function readAppKeys(
  text: string | undefined,
  served: readonly string[],
): Record<string, Record<string, AppSecret>> {
  if (text === undefined || text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError('APP_SECRET_KEYS is not JSON (e.g. {"sori":{"agency-a":"sk_…"}})');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new ConfigError(
      'APP_SECRET_KEYS must be an object of providers, like {"sori":{"agency-a":"sk_…"}}',
    );
  const apps: Record<string, Record<string, { current: string; previous: string | null }>> = {};
  for (const [provider, byApp] of Object.entries(parsed)) {
    if (!served.includes(provider))
      throw new ConfigError(`APP_SECRET_KEYS names ${JSON.stringify(provider)}, not a provider served`);
    if (!signsWithHmac(provider))
      throw new ConfigError(
        `APP_SECRET_KEYS.${provider}: ${provider} does not sign with an HMAC, so it has no apps`,
      );
    if (typeof byApp !== 'object' || byApp === null || Array.isArray(byApp))
      throw new ConfigError(
        `APP_SECRET_KEYS.${provider} must be an object of apps, like {"agency-a":"sk_…"}`,
      );
    apps[provider] = {};
    for (const [app, keys] of Object.entries(byApp as Record<string, AppKeys>)) {
      const at = `APP_SECRET_KEYS.${provider}.${app}`;
      if (!isAppName(app))
        throw new ConfigError(
          `${at}: not an app name (1 to 32 lower-case letters, digits or hyphens, not default)`,
        );
      const current = typeof keys === 'string' ? keys : keys?.current;
      const previous = typeof keys === 'string' ? null : (keys?.previous ?? null);
      if (
        typeof current !== 'string' ||
        current === '' ||
        (previous !== null && typeof previous !== 'string')
      )
        throw new ConfigError(`${at} must be a key, or {"current":"…","previous":"…"}`);
      (apps[provider] as Record<string, { current: string; previous: string | null }>)[app] = {
        current,
        previous,
      };
    }
  }
  return apps;
}

/**
 * The local stack's extra credentials with the apps' keys beside each provider's own: SORI's own keys are the
 * stack's secret (`SORI_SECRET_KEY`, `SORI_PREVIOUS_SECRET_KEY`), kept under its apps.
 */
export function credentialsWithApps(
  credentials: Record<string, { current: string; previous: string | null }>,
  apps: Record<string, Record<string, AppSecret>>,
  soriSecret: string,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, { current?: string | null; previous?: string | null; apps?: Record<string, AppSecret> }> {
  const merged: Record<
    string,
    { current?: string | null; previous?: string | null; apps?: Record<string, AppSecret> }
  > = { ...credentials };
  for (const [provider, byApp] of Object.entries(apps)) {
    const own =
      provider === 'sori'
        ? { current: soriSecret, previous: env.SORI_PREVIOUS_SECRET_KEY || null }
        : (credentials[provider] ?? {});
    merged[provider] = { ...own, apps: byApp };
  }
  return merged;
}
