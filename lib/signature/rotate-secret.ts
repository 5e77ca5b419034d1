import { randomBytes } from 'node:crypto';
import { providerEntry, type SigningSecretDocument } from './signing-secrets';

/**
 * Puts a new HMAC secret for `provider` into the signing secret document, keeping the one it replaces as
 * `previous` so deliveries signed before the change still verify. The provider's other credentials (URL
 * token, Basic) and every other provider's entry stay as they are. Setting the same secret again changes
 * nothing.
 * @returns a new document; the input is not modified.
 */
export function rotateSecret(
  document: SigningSecretDocument,
  provider: string,
  secret: string,
): SigningSecretDocument {
  if (!secret) throw new Error('the new secret is empty');
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
