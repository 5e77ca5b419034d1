import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  AccessTokenVerifier,
  type JsonWebKey,
  SigningKeysUnavailableError,
  TokenRefusedError,
} from '../../lib/auth/jwt';
import { createTestIssuer } from '../support/token-issuer';

const ISSUER = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool';
const CLIENT = 'dashboard-client';
const NOW = 1_800_000_000;

/** A verifier over an in-memory key set that counts its reads; the clock is `clock.now` seconds. */
function setup(options: { refetchIntervalMs?: number } = {}) {
  const issuer = createTestIssuer(ISSUER, CLIENT);
  const state = { keys: issuer.jwks().keys as JsonWebKey[], reads: 0, fail: false };
  const clock = { now: NOW };
  const verifier = new AccessTokenVerifier({
    issuer: ISSUER,
    clientId: CLIENT,
    readKeySet: async () => {
      state.reads += 1;
      if (state.fail) throw new SigningKeysUnavailableError('the issuer is down');
      return { keys: state.keys };
    },
    now: () => clock.now * 1000,
    ...options,
  });
  const token = (claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
    issuer.accessToken(claims, header, NOW);
  return { issuer, state, clock, verifier, token };
}

async function refusal(verifier: AccessTokenVerifier, token: string) {
  const error = await verifier.verify(token).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(TokenRefusedError);
  return (error as TokenRefusedError).reason;
}

describe('AccessTokenVerifier', () => {
  it("accepts a valid RS256 access token of the issuer and the app's client, and returns its claims", async () => {
    const { verifier, token } = setup();
    await expect(verifier.verify(token())).resolves.toMatchObject({
      iss: ISSUER,
      client_id: CLIENT,
      token_use: 'access',
      sub: 'user-1',
      exp: NOW + 3600,
    });
  });

  it('refuses a token expired more than 60 s ago, and accepts one expired less than 60 s ago (clock skew)', async () => {
    const { verifier, token, clock } = setup();
    const expiring = token({ exp: NOW + 10 });
    clock.now = NOW + 10 + 59;
    await expect(verifier.verify(expiring)).resolves.toMatchObject({ exp: NOW + 10 });
    clock.now = NOW + 10 + 60;
    expect(await refusal(verifier, expiring)).toBe('expired');
  });

  it('refuses a token not valid for more than 60 s yet (nbf), and accepts one valid within 60 s', async () => {
    const { verifier, token } = setup();
    expect(await refusal(verifier, token({ nbf: NOW + 61 }))).toBe('not-yet-valid');
    await expect(verifier.verify(token({ nbf: NOW + 60 }))).resolves.toBeDefined();
  });

  it('refuses a token without exp', async () => {
    const { verifier, token } = setup();
    expect(await refusal(verifier, token({ exp: undefined }))).toBe('malformed');
    expect(await refusal(verifier, token({ exp: '1900000000' }))).toBe('malformed');
  });

  it('refuses a token of another issuer signed with the same key, and an issuer that only differs by a trailing slash', async () => {
    const { verifier, token } = setup();
    expect(
      await refusal(verifier, token({ iss: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other' })),
    ).toBe('issuer');
    expect(await refusal(verifier, token({ iss: `${ISSUER}/` }))).toBe('issuer');
  });

  it('refuses a token issued to another app client of the same pool', async () => {
    const { verifier, token } = setup();
    expect(await refusal(verifier, token({ client_id: 'another-client' }))).toBe('client');
  });

  it('refuses an id token (token_use "id", the client in aud) in place of an access token', async () => {
    const { verifier, token } = setup();
    const idToken = token({ token_use: 'id', client_id: undefined, aud: CLIENT, email: 'a@example.com' });
    expect(await refusal(verifier, idToken)).toBe('token-use');
  });

  it('refuses alg "none", with or without a signature segment, before reading any key', async () => {
    const { verifier, token, state } = setup();
    const [, payload] = token().split('.');
    const none = Buffer.from(JSON.stringify({ alg: 'none', kid: 'test-key-1' })).toString('base64url');
    expect(await refusal(verifier, `${none}.${payload}.`)).toBe('algorithm');
    expect(await refusal(verifier, `${none}.${payload}.c2ln`)).toBe('algorithm');
    expect(state.reads).toBe(0);
  });

  it('refuses HS256 signed with the public key as the HMAC secret', async () => {
    const { verifier, issuer } = setup();
    const pem = issuer.publicKey.export({ type: 'spki', format: 'pem' });
    const forged = issuer.hs256(pem, { exp: NOW + 3600, iat: NOW });
    expect(await refusal(verifier, forged)).toBe('algorithm');
  });

  it('refuses a token whose kid is not in the key set after reading the set again once, and reads it again no sooner than the interval', async () => {
    const { verifier, token, state, clock } = setup({ refetchIntervalMs: 30_000 });
    await verifier.verify(token());
    expect(state.reads).toBe(1);
    expect(await refusal(verifier, token({}, { kid: 'made-up-1' }))).toBe('unknown-key');
    // Read once at the first token; the made-up kid is not among the keys read then, nor long ago: 30 s have
    // not passed, so no second read.
    expect(state.reads).toBe(1);
    clock.now += 31;
    expect(await refusal(verifier, token({}, { kid: 'made-up-2' }))).toBe('unknown-key');
    expect(state.reads).toBe(2);
    expect(await refusal(verifier, token({}, { kid: 'made-up-3' }))).toBe('unknown-key');
    expect(state.reads).toBe(2);
  });

  it('finds a key the issuer added after the first read (a key rotation) with one more read', async () => {
    const { verifier, token, state, clock } = setup();
    await verifier.verify(token());
    const next = createTestIssuer(ISSUER, CLIENT, 'test-key-2');
    state.keys = [...state.keys, ...(next.jwks().keys as JsonWebKey[])];
    clock.now += 31;
    await expect(verifier.verify(next.accessToken({}, {}, NOW))).resolves.toMatchObject({ iss: ISSUER });
    expect(state.reads).toBe(2);
    await verifier.verify(next.accessToken({}, {}, NOW));
    expect(state.reads).toBe(2);
  });

  it('refuses a token whose payload was changed after signing', async () => {
    const { verifier, token } = setup();
    const [header, , signature] = token().split('.');
    const payload = Buffer.from(
      JSON.stringify({
        iss: ISSUER,
        client_id: CLIENT,
        token_use: 'access',
        exp: NOW + 86_400,
        sub: 'admin',
      }),
    ).toString('base64url');
    expect(await refusal(verifier, `${header}.${payload}.${signature}`)).toBe('signature');
  });

  it('refuses a token signed by another key that claims the issuer key id', async () => {
    const { verifier } = setup();
    const impostor = createTestIssuer(ISSUER, CLIENT, 'test-key-1');
    expect(await refusal(verifier, impostor.accessToken({}, {}, NOW))).toBe('signature');
  });

  it('ignores keys of the set that cannot verify RS256: another type, an encryption key, another algorithm, under 2048 bits', async () => {
    const { verifier, state, token } = setup();
    const [good] = state.keys as [JsonWebKey];
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    for (const key of [
      { ...good, use: 'enc' },
      { ...good, alg: 'RS512' },
      { ...small, kid: good.kid },
      { ...ec, kid: good.kid },
    ]) {
      const fresh = new AccessTokenVerifier({
        issuer: ISSUER,
        clientId: CLIENT,
        readKeySet: async () => ({ keys: [key as JsonWebKey] }),
        now: () => NOW * 1000,
      });
      expect(await refusal(fresh, token())).toBe('unknown-key');
    }
    expect(await verifier.verify(token())).toBeDefined();
  });

  it.each([
    ['empty', ''],
    ['one segment', 'abc'],
    ['two segments', 'abc.def'],
    ['four segments', 'a.b.c.d'],
    ['a header that is not base64url JSON', 'bm90IGpzb24.eyJhIjoxfQ.c2ln'],
    ['a header that is a JSON array', `${Buffer.from('[1]').toString('base64url')}.eyJhIjoxfQ.c2ln`],
    ['characters outside base64url', 'ey+J.ey/J.c2ln'],
    ['a header with a space', 'eyJ hbGc.eyJhIjoxfQ.c2ln'],
  ])('refuses a malformed token: %s', async (_, token) => {
    const { verifier } = setup();
    expect(await refusal(verifier, token)).toBe('malformed');
  });

  it('refuses a payload that is not JSON, and a header with crit extensions', async () => {
    const { verifier, token } = setup();
    const [header, , signature] = token().split('.');
    expect(await refusal(verifier, `${header}.bm90IGpzb24.${signature}`)).toBe('malformed');
    expect(await refusal(verifier, token({}, { crit: ['exp'] }))).toBe('malformed');
  });

  it("says the keys are unavailable when the issuer's key set cannot be read, and reads it again at the next token", async () => {
    const { verifier, token, state } = setup();
    state.fail = true;
    await expect(verifier.verify(token())).rejects.toBeInstanceOf(SigningKeysUnavailableError);
    state.fail = false;
    await expect(verifier.verify(token())).resolves.toBeDefined();
    expect(state.reads).toBe(2);
  });
});
