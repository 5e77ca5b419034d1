import { createHmac, timingSafeEqual } from 'node:crypto';

const SHA256_BYTES = 32;
const HEX_DIGEST = /^[0-9a-fA-F]{64}$/;
const BASE64_DIGEST = /^[A-Za-z0-9+/_-]{43}={0,1}$/;

/**
 * Decodes a signature header value into the 32 digest bytes it carries: hex or base64 (standard or URL-safe),
 * with or without a `sha256=` prefix, surrounding whitespace ignored.
 *
 * @returns the digest bytes, or `undefined` when the value is not a SHA-256 digest in a known encoding.
 */
export function decodeSignature(header: string): Buffer | undefined {
  let value = header.trim();
  if (value.toLowerCase().startsWith('sha256=')) value = value.slice('sha256='.length);
  if (HEX_DIGEST.test(value)) return Buffer.from(value, 'hex');
  if (BASE64_DIGEST.test(value)) {
    const bytes = Buffer.from(value.replaceAll('-', '+').replaceAll('_', '/'), 'base64');
    return bytes.length === SHA256_BYTES ? bytes : undefined;
  }
  return undefined;
}

/** HMAC-SHA256 of `body` keyed with `secret`. */
export function signBody(body: Uint8Array | string, secret: string): Buffer {
  return createHmac('sha256', secret).update(body).digest();
}

/**
 * Checks a signature header against the raw body bytes for each accepted secret (current first, then the
 * previous one, so a rotation loses nothing). Comparison is constant-time; every secret is tried so the time
 * taken does not tell which one matched.
 *
 * @returns `true` when the header is the HMAC-SHA256 of `body` under one of `secrets`; never throws.
 */
export function verifySignature(
  body: Uint8Array,
  header: string | undefined,
  secrets: readonly string[],
): boolean {
  if (header === undefined) return false;
  const claimed = decodeSignature(header);
  if (claimed === undefined) return false;
  let matched = false;
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    if (timingSafeEqual(signBody(body, secret), claimed)) matched = true;
  }
  return matched;
}
