import { createPublicKey, type KeyObject, verify } from 'node:crypto';

/** Why a token was refused: for logs only (the caller answers a plain 401 whatever the reason). */
export type TokenRefusal =
  | 'malformed'
  | 'algorithm'
  | 'unknown-key'
  | 'signature'
  | 'issuer'
  | 'token-use'
  | 'client'
  | 'expired'
  | 'not-yet-valid';

/** The token is not one this deployment accepts; `reason` and the message say why, for the logs. */
export class TokenRefusedError extends Error {
  constructor(
    readonly reason: TokenRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'TokenRefusedError';
  }
}

/**
 * The issuer's keys could not be read, so no token can be checked: the token may be valid, and the caller should
 * answer that it cannot tell now (503), not that the token is bad.
 */
export class SigningKeysUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SigningKeysUnavailableError';
  }
}

/** One key of a JSON Web Key Set (RFC 7517), as far as an RSA signature key needs it. */
export interface JsonWebKey {
  kty?: string;
  kid?: string;
  use?: string;
  alg?: string;
  n?: string;
  e?: string;
}

/** Reads the issuer's key set; must give up by itself (see {@link fetchJwks}). */
export type ReadKeySet = () => Promise<{ keys: JsonWebKey[] }>;

/** The claims a verified access token carries that callers use. */
export interface AccessTokenClaims {
  iss: string;
  sub: string | undefined;
  client_id: string;
  token_use: 'access';
  exp: number;
  username: string | undefined;
  [claim: string]: unknown;
}

/** How an {@link AccessTokenVerifier} is set up: whose tokens it takes, where their keys are, its leeway. */
export interface AccessTokenVerifierOptions {
  /** The `iss` every token must carry, compared exactly (`https://cognito-idp.<region>.amazonaws.com/<pool>`). */
  issuer: string;
  /** The app client the token was issued to: Cognito access tokens name it in `client_id` (they carry no `aud`). */
  clientId: string;
  /** Where the issuer's keys are read: usually {@link fetchJwks} of `${issuer}/.well-known/jwks.json`. */
  readKeySet: ReadKeySet;
  /** Seconds of clock difference allowed on `exp` and `nbf`; 60 by default. */
  leewaySeconds?: number;
  /** The current time in milliseconds; `Date.now` by default. */
  now?: () => number;
  /**
   * Least time between two reads of the key set prompted by an unknown `kid`, in milliseconds (30 s by default):
   * tokens with made-up key ids must not make every request a call to the issuer.
   */
  refetchIntervalMs?: number;
}

/** Tokens longer than this are refused unread: a Cognito access token is some 1 KB, and parsing costs. */
const MAX_TOKEN_LENGTH = 16 * 1024;
const SEGMENT = /^[A-Za-z0-9_-]+$/;
/** An unsecured JWT (`alg: none`) has an empty signature: read as far as its header, to name its refusal. */
const SIGNATURE = /^[A-Za-z0-9_-]*$/;
/** RFC 7518 requires RSA keys of 2048 bits or more for RS256. */
const MIN_MODULUS_BITS = 2048;

/**
 * Reads a JSON Web Key Set over HTTPS with `fetch`, giving up after `timeoutMs`.
 * @throws {SigningKeysUnavailableError} on a network error, a timeout, a status other than 200 or a body that
 * is not a key set.
 */
export function fetchJwks(url: string, timeoutMs = 3_000): ReadKeySet {
  return async () => {
    let body: unknown;
    try {
      const response = await fetch(url, {
        signal: AbortSignal.timeout(timeoutMs),
        headers: { accept: 'application/json' },
      });
      if (response.status !== 200) {
        throw new SigningKeysUnavailableError(`the key set at ${url} answered ${response.status}`);
      }
      body = await response.json();
    } catch (error) {
      if (error instanceof SigningKeysUnavailableError) throw error;
      throw new SigningKeysUnavailableError(`the key set at ${url} could not be read`, { cause: error });
    }
    const keys = (body as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(keys)) throw new SigningKeysUnavailableError(`${url} holds no "keys" array`);
    return { keys: keys.filter((key): key is JsonWebKey => typeof key === 'object' && key !== null) };
  };
}

function decodeJson(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new TokenRefusedError('malformed', `the ${what} is not base64url-encoded JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TokenRefusedError('malformed', `the ${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** An RSA signature key of the set as a public key, or `undefined` for any other kind of key. */
function publicKeyOf(jwk: JsonWebKey): KeyObject | undefined {
  if (jwk.kty !== 'RSA' || typeof jwk.n !== 'string' || typeof jwk.e !== 'string') return undefined;
  if (jwk.use !== undefined && jwk.use !== 'sig') return undefined;
  if (jwk.alg !== undefined && jwk.alg !== 'RS256') return undefined;
  try {
    const key = createPublicKey({ key: { kty: 'RSA', n: jwk.n, e: jwk.e }, format: 'jwk' });
    return (key.asymmetricKeyDetails?.modulusLength ?? 0) >= MIN_MODULUS_BITS ? key : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Verifies OpenID access tokens (RS256 JWTs) of one issuer and one app client with `node:crypto` alone: the
 * signature against the issuer's published keys (read once per container, and again once when a token names a
 * key not seen yet, as after the issuer's key rotation), `iss`, `token_use`, `client_id`, `exp` and `nbf`.
 */
export class AccessTokenVerifier {
  private keys: Promise<Map<string, KeyObject>> | undefined;
  private lastRead = Number.NEGATIVE_INFINITY;
  private readonly leeway: number;
  private readonly now: () => number;
  private readonly refetchIntervalMs: number;

  constructor(private readonly options: AccessTokenVerifierOptions) {
    this.leeway = options.leewaySeconds ?? 60;
    this.now = options.now ?? Date.now;
    this.refetchIntervalMs = options.refetchIntervalMs ?? 30_000;
  }

  /**
   * @returns the token's claims when every check passes.
   * @throws {TokenRefusedError} naming the first check that failed.
   * @throws {SigningKeysUnavailableError} when the issuer's keys could not be read.
   */
  async verify(token: string): Promise<AccessTokenClaims> {
    if (token.length > MAX_TOKEN_LENGTH) throw new TokenRefusedError('malformed', 'the token is too long');
    const parts = token.split('.');
    const [headerPart = '', payloadPart = '', signaturePart = ''] = parts;
    if (
      parts.length !== 3 ||
      !SEGMENT.test(headerPart) ||
      !SEGMENT.test(payloadPart) ||
      !SIGNATURE.test(signaturePart)
    ) {
      throw new TokenRefusedError('malformed', 'a JWT is three base64url segments joined by dots');
    }
    const header = decodeJson(headerPart, 'header');
    // Only RS256: the algorithm is chosen here, never by the token, so `none` and HS256 signed with the public
    // key as a shared secret are both refused before any key is looked at.
    if (header.alg !== 'RS256') {
      throw new TokenRefusedError('algorithm', `alg ${JSON.stringify(header.alg)} is not RS256`);
    }
    // RFC 7515: a recipient must refuse a token whose `crit` names extensions it does not understand (all).
    if (header.crit !== undefined) throw new TokenRefusedError('malformed', 'the header has crit extensions');
    if (typeof header.kid !== 'string') throw new TokenRefusedError('unknown-key', 'the header names no kid');
    const payload = decodeJson(payloadPart, 'payload');
    const key = await this.key(header.kid);
    const signed = Buffer.from(`${headerPart}.${payloadPart}`, 'ascii');
    if (!verify('sha256', signed, key, Buffer.from(signaturePart, 'base64url'))) {
      throw new TokenRefusedError('signature', 'the signature does not match the key');
    }
    return this.checkClaims(payload);
  }

  private checkClaims(payload: Record<string, unknown>): AccessTokenClaims {
    const { issuer, clientId } = this.options;
    if (payload.iss !== issuer) {
      throw new TokenRefusedError('issuer', `iss ${JSON.stringify(payload.iss)} is not ${issuer}`);
    }
    if (payload.token_use !== 'access') {
      throw new TokenRefusedError(
        'token-use',
        `token_use ${JSON.stringify(payload.token_use)} is not "access"`,
      );
    }
    if (payload.client_id !== clientId) {
      throw new TokenRefusedError(
        'client',
        `client_id ${JSON.stringify(payload.client_id)} is not this app's client`,
      );
    }
    const now = this.now() / 1000;
    if (typeof payload.exp !== 'number' || !Number.isFinite(payload.exp)) {
      throw new TokenRefusedError('malformed', 'exp is missing or not a number');
    }
    if (now >= payload.exp + this.leeway) {
      throw new TokenRefusedError('expired', `expired at ${new Date(payload.exp * 1000).toISOString()}`);
    }
    if (payload.nbf !== undefined) {
      if (typeof payload.nbf !== 'number' || !Number.isFinite(payload.nbf)) {
        throw new TokenRefusedError('malformed', 'nbf is not a number');
      }
      if (now < payload.nbf - this.leeway) {
        throw new TokenRefusedError(
          'not-yet-valid',
          `not valid before ${new Date(payload.nbf * 1000).toISOString()}`,
        );
      }
    }
    return {
      ...payload,
      iss: issuer,
      sub: typeof payload.sub === 'string' ? payload.sub : undefined,
      client_id: clientId,
      token_use: 'access',
      exp: payload.exp,
      username: typeof payload.username === 'string' ? payload.username : undefined,
    };
  }

  /** The key named `kid`: from the set read before, else from the set read again (at most once per interval). */
  private async key(kid: string): Promise<KeyObject> {
    const known = await this.keySet(false);
    const found = known.get(kid);
    if (found) return found;
    if (this.now() - this.lastRead >= this.refetchIntervalMs) {
      const fresh = (await this.keySet(true)).get(kid);
      if (fresh) return fresh;
    }
    throw new TokenRefusedError('unknown-key', `no RS256 key ${JSON.stringify(kid)} in the issuer's key set`);
  }

  private keySet(again: boolean): Promise<Map<string, KeyObject>> {
    if (this.keys && !again) return this.keys;
    this.lastRead = this.now();
    const reading = this.options.readKeySet().then((set) => {
      const keys = new Map<string, KeyObject>();
      for (const jwk of set.keys) {
        const key = typeof jwk.kid === 'string' ? publicKeyOf(jwk) : undefined;
        if (key && jwk.kid) keys.set(jwk.kid, key);
      }
      return keys;
    });
    // A failed read is not kept: the next request tries again rather than failing until the container ends.
    const previous = this.keys;
    const kept: Promise<Map<string, KeyObject>> = reading.catch((error: unknown) => {
      if (this.keys === kept) this.keys = previous;
      throw error;
    });
    this.keys = kept;
    return kept;
  }
}
