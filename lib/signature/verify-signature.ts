import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The HMAC algorithms a provider may sign with, and the bytes of each one's digest. */
export const HMAC_DIGEST_BYTES = { sha1: 20, sha256: 32, sha512: 64 } as const;
/** The name of an HMAC algorithm a provider may sign with (see {@link HMAC_DIGEST_BYTES}). */
export type HmacAlgorithm = keyof typeof HMAC_DIGEST_BYTES;

/** How a secret becomes the HMAC key: its UTF-8 text, or (Standard Webhooks) the bytes a `whsec_` value encodes. */
export type SecretFormat = 'text' | 'whsec';

/** How a signature header is written, and how a secret becomes the key it was made with. */
export interface SignatureFormat {
  algorithm: HmacAlgorithm;
  /** The digest's encoding; absent: hex or base64 (standard or URL-safe), whichever the value is. */
  encoding?: 'hex' | 'base64' | undefined;
  /**
   * What every signature starts with (`sha256=`, `v1,`), compared exactly: a signature without it is of another
   * kind or version and is ignored. Absent: an optional `<algorithm>=`, in any case.
   */
  prefix?: string | undefined;
  /** What separates several signatures in one header (Standard Webhooks: a space); absent: one signature. */
  separator?: string | undefined;
  /** Default `text`. */
  secretFormat?: SecretFormat | undefined;
}

/**
 * The most signatures read from one header. A sender signs with its current key and, during a rotation, its
 * previous one (Standard Webhooks sends them "space delimited" so that "webhook consumers can try to verify each
 * signature until one matches"): a handful at most. What follows them is not looked at, so a header of
 * thousands costs no more than this many comparisons per secret.
 */
export const MAX_SIGNATURES_PER_HEADER = 16;

/** The prefix Standard Webhooks puts before a symmetric secret's base64 ("prefixed with `whsec_`"). */
const WHSEC_PREFIX = 'whsec_';

/**
 * Decodes one signature into the digest bytes it carries: hex or base64 (standard or URL-safe), with or without
 * an `<algorithm>=` prefix (`sha256=`), surrounding whitespace ignored. With `encoding`, only that one.
 *
 * @returns the digest bytes, or `undefined` when the value is not a digest of `algorithm` in a known encoding.
 */
export function decodeSignature(
  header: string,
  algorithm: HmacAlgorithm = 'sha256',
  encoding?: 'hex' | 'base64',
): Buffer | undefined {
  let value = header.trim();
  if (value.toLowerCase().startsWith(`${algorithm}=`)) value = value.slice(algorithm.length + 1);
  return decodeDigest(value, algorithm, encoding);
}

function decodeDigest(
  value: string,
  algorithm: HmacAlgorithm,
  encoding: 'hex' | 'base64' | undefined,
): Buffer | undefined {
  const bytes = HMAC_DIGEST_BYTES[algorithm];
  if (encoding !== 'base64' && value.length === bytes * 2 && /^[0-9a-fA-F]+$/.test(value))
    return Buffer.from(value, 'hex');
  if (
    encoding !== 'hex' &&
    /^[A-Za-z0-9+/_-]+={0,2}$/.test(value) &&
    value.replace(/=+$/, '').length === Math.ceil((bytes * 4) / 3)
  ) {
    const decoded = Buffer.from(value.replaceAll('-', '+').replaceAll('_', '/'), 'base64');
    return decoded.length === bytes ? decoded : undefined;
  }
  return undefined;
}

/**
 * The digests a signature header claims, in the header's format: each of its signatures (at most
 * {@link MAX_SIGNATURES_PER_HEADER}) that carries the format's prefix and decodes to a digest of its algorithm.
 * A signature of another version or kind (Standard Webhooks' `v1a,` asymmetric ones beside `v1,`) is skipped.
 */
export function claimedDigests(header: string, format: SignatureFormat): Buffer[] {
  const entries =
    format.separator === undefined
      ? [header]
      : header
          .split(format.separator)
          .filter((entry) => entry.trim() !== '')
          .slice(0, MAX_SIGNATURES_PER_HEADER);
  const digests: Buffer[] = [];
  for (const entry of entries) {
    const value = entry.trim();
    if (format.prefix === undefined) {
      const digest = decodeSignature(value, format.algorithm, format.encoding);
      if (digest) digests.push(digest);
    } else if (value.startsWith(format.prefix)) {
      const digest = decodeDigest(value.slice(format.prefix.length), format.algorithm, format.encoding);
      if (digest) digests.push(digest);
    }
  }
  return digests;
}

/**
 * The HMAC key a secret stands for: its UTF-8 text, or for `whsec` the bytes of the base64 after an optional
 * `whsec_` (Standard Webhooks: "base64 encoded, prefixed with whsec_"; its libraries take the value with or
 * without the prefix).
 * @returns `undefined` for a secret that gives no key (empty, or a `whsec_` value of no bytes).
 */
export function hmacKey(secret: string, format: SecretFormat = 'text'): Buffer | undefined {
  if (format === 'text') return secret.length > 0 ? Buffer.from(secret, 'utf8') : undefined;
  const encoded = secret.startsWith(WHSEC_PREFIX) ? secret.slice(WHSEC_PREFIX.length) : secret;
  const key = Buffer.from(encoded, 'base64');
  return key.length > 0 ? key : undefined;
}

/** What is signed: the raw body bytes, or the parts of a composed string (header values, separators, the body). */
export type SignedContent = Uint8Array | readonly (Uint8Array | string)[];

/** The HMAC of `content` under `key`: a composed string's parts are fed in order, the body never copied. */
function hmacOf(content: SignedContent, key: Buffer, algorithm: HmacAlgorithm): Buffer {
  const hmac = createHmac(algorithm, key);
  if (content instanceof Uint8Array) hmac.update(content);
  else for (const part of content) hmac.update(part);
  return hmac.digest();
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
 * The HMAC of `content` keyed with `secret` read in `format`'s secret format: what a sender of that format
 * signs, for tools and tests that send deliveries.
 * @throws {Error} for a secret that gives no key.
 */
export function signContent(content: SignedContent, secret: string, format: SignatureFormat): Buffer {
  const key = hmacKey(secret, format.secretFormat);
  if (!key) throw new Error('the secret is empty');
  return hmacOf(content, key, format.algorithm);
}

/**
 * How many keys every check tries: a rotation keeps two (the current one and the one before it). An app with
 * one key, an app the secret does not name and a provider with none are tried with a key no one has in the
 * missing places, so that each check computes the same HMACs and its time does not tell them apart.
 */
export const KEYS_PER_CHECK = 2;

/** The key tried in place of a missing one: random, known to no one, and never counted as a match. */
const NO_KEY = randomBytes(32);

/**
 * Checks a signature header against the signed content for each accepted secret (current first, then the
 * previous one, so a rotation loses nothing). The one HMAC check of every provider that signs its deliveries,
 * whether over the raw body bytes or over a string composed of header values and the body; any one of the
 * header's signatures matching is enough.
 *
 * Every check does the same work, so that its time tells nothing of the keys: it computes
 * {@link KEYS_PER_CHECK} HMACs (more only for more secrets), a key no one has standing in for a missing or
 * empty one, and it does so even without a signature to compare them with; every HMAC is compared with every
 * claimed signature in constant time, with no early exit, so which key matched is not told either.
 *
 * @param format the algorithm alone (SHA-256 unless told; hex or base64, an optional `<algorithm>=`), or the
 *   whole format of the header and the secrets
 * @returns `true` when a signature in the header is the HMAC of `content` under one of `secrets`; never throws.
 */
export function verifySignature(
  content: SignedContent,
  header: string | undefined,
  secrets: readonly string[],
  format: HmacAlgorithm | SignatureFormat = 'sha256',
): boolean {
  const signature = typeof format === 'string' ? { algorithm: format } : format;
  const claimed = header === undefined ? [] : claimedDigests(header, signature);
  let matched = false;
  for (let slot = 0; slot < Math.max(KEYS_PER_CHECK, secrets.length); slot += 1) {
    const secret = secrets[slot];
    const key = secret === undefined ? undefined : hmacKey(secret, signature.secretFormat);
    const digest = hmacOf(content, key ?? NO_KEY, signature.algorithm);
    for (const candidate of claimed) {
      // Compared whether or not the key is real, the outcome kept only for a real one: the same steps either way.
      const equal = timingSafeEqual(digest, candidate);
      matched = (equal && key !== undefined) || matched;
    }
  }
  return matched;
}
