import type { SigningSecretDocument } from './signing-secrets';

/**
 * Puts a new secret for `provider` into the signing secret document, keeping the one it replaces as
 * `previous` so deliveries signed before the change still verify. Setting the same secret again changes
 * nothing.
 * @returns a new document; the input is not modified.
 */
export function rotateSecret(
  document: SigningSecretDocument,
  provider: string,
  secret: string,
): SigningSecretDocument {
  if (!secret) throw new Error('the new secret is empty');
  const existing = document[provider];
  const current = typeof existing === 'object' ? existing : undefined;
  if (current?.current === secret) return { ...document };
  return { ...document, [provider]: { current: secret, previous: current?.current ?? null } };
}
