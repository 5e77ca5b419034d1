import { createHmac, timingSafeEqual } from 'node:crypto';

/** The HMAC algorithms a provider may sign with, and the bytes of each one's digest. */
export const HMAC_DIGEST_BYTES = { sha1: 20, sha256: 32, sha512: 64 } as const;
export type HmacAlgorithm = keyof typeof HMAC_DIGEST_BYTES;

/**
 * Decodes a signature header value into the digest bytes it carries: hex or base64 (standard or URL-safe), with
 * or without an `<algorithm>=` prefix (`sha256=`), surrounding whitespace ignored.
 *
 * @returns the digest bytes, or `undefined` when the value is not a digest of `algorithm` in a known encoding.
 */
export function decodeSignature(header: string, algorithm: HmacAlgorithm = 'sha256'): Buffer | undefined {
  const bytes = HMAC_DIGEST_BYTES[algorithm];
  let value = header.trim();
  if (value.toLowerCase().startsWith(`${algorithm}=`)) value = value.slice(algorithm.length + 1);
  if (value.length === bytes * 2 && /^[0-9a-fA-F]+$/.test(value)) return Buffer.from(value, 'hex');
  if (
    /^[A-Za-z0-9+/_-]+={0,2}$/.test(value) &&
    value.replace(/=+$/, '').length === Math.ceil((bytes * 4) / 3)
  ) {
    const decoded = Buffer.from(value.replaceAll('-', '+').replaceAll('_', '/'), 'base64');
    return decoded.length === bytes ? decoded : undefined;
  }
  return undefined;
}

/** The HMAC of `body` keyed with `secret` (SHA-256 unless told). */
export function signBody(
  body: Uint8Array | string,
  secret: string,
  algorithm: HmacAlgorithm = 'sha256',
): Buffer {
  return createHmac(algorithm, secret).update(body).digest();
}

/**
 * Checks a signature header against the raw body bytes for each accepted secret (current first, then the
 * previous one, so a rotation loses nothing). The one HMAC check of every provider that signs its body.
 * Comparison is constant-time; every secret is tried so the time taken does not tell which one matched.
 *
 * @returns `true` when the header is the HMAC of `body` under one of `secrets`; never throws.
 */
export function verifySignature(
  body: Uint8Array,
  header: string | undefined,
  secrets: readonly string[],
  algorithm: HmacAlgorithm = 'sha256',
): boolean {
  if (header === undefined) return false;
  const claimed = decodeSignature(header, algorithm);
  if (claimed === undefined) return false;
  let matched = false;
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    if (timingSafeEqual(signBody(body, secret, algorithm), claimed)) matched = true;
  }
  return matched;
}
