import { randomBytes } from 'node:crypto';
import { DEFAULT_APP, isAppName } from '../events/app-name';
import { appEntry, providerEntry, type SigningSecretDocument } from './signing-secrets';

/**
 * Puts a new HMAC secret for `provider` (for its `app`; default: its default app) into the signing secret
 * document, keeping the one it replaces as `previous` so deliveries signed before the change still verify. The
 * provider's other credentials (URL token, Basic), its other apps' keys and every other provider's entry stay as
 * they are; a new app is added beside the others. Setting the same secret again changes nothing.
 * @returns a new document; the input is not modified.
 * @throws when the secret is empty, or `app` is not an app name (see `isAppName`).
 */
export function rotateSecret(
  document: SigningSecretDocument,
  provider: string,
  secret: string,
  app: string = DEFAULT_APP,
): SigningSecretDocument {
  if (!secret) throw new Error('the new secret is empty');
  if (app !== DEFAULT_APP) {
    if (!isAppName(app))
      throw new Error(
        `${JSON.stringify(app.slice(0, 40))} is not an app name: 1 to 32 lower-case letters, digits or hyphens`,
      );
    const entry = providerEntry(document, provider);
    const keys = appEntry(document, provider, app);
    if (keys?.current === secret) return { ...document };
    const apps = { ...entry?.apps, [app]: { current: secret, previous: keys?.current ?? null } };
    return { ...document, [provider]: { ...entry, apps } };
  }
  const current = providerEntry(document, provider);
  if (current?.current === secret) return { ...document };
  return { ...document, [provider]: { ...current, current: secret, previous: current?.current ?? null } };
}

/** A new random URL token: 160 bits, hex, safe in a path segment. */
export const newUrlToken = () => randomBytes(20).toString('hex');

/**
 * Gives `provider` a URL token of its own, replacing the one derived from the generated value (or its earlier
 * own one, which stops working). Its HMAC and Basic credentials and every other provider's entry stay.
 * @returns a new document; the input is not modified.
 */
export function rotateUrlToken(
  document: SigningSecretDocument,
  provider: string,
  token: string = newUrlToken(),
): SigningSecretDocument {
  if (token.length < 16) throw new Error('a URL token needs at least 16 characters');
  return { ...document, [provider]: { ...providerEntry(document, provider), url_token: token } };
}

/**
 * Sets `provider`'s HTTP Basic credentials, keeping its other credentials and every other provider's entry.
 * @returns a new document; the input is not modified.
 */
export function setBasicCredentials(
  document: SigningSecretDocument,
  provider: string,
  basic: { username: string; password: string },
): SigningSecretDocument {
  if (!basic.username || !basic.password) throw new Error('Basic credentials need a user and a password');
  return { ...document, [provider]: { ...providerEntry(document, provider), basic: { ...basic } } };
}
