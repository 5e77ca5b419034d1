/**
 * An OpenID token issuer for tests: an RSA key generated in the test, tokens signed with it as Cognito signs its
 * access tokens (RS256, `kid` in the header, `client_id` and `token_use` in the payload), and its key set served
 * by a local HTTP server at `/.well-known/jwks.json`.
 */
import { createHmac, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export interface TestIssuer {
  issuer: string;
  clientId: string;
  kid: string;
  publicKey: KeyObject;
  /** The issuer's key set, as `/.well-known/jwks.json` gives it. */
  jwks(): { keys: Record<string, unknown>[] };
  /** An access token valid for an hour from `nowSeconds`, `claims` and `header` laid over its own. */
  accessToken(
    claims?: Record<string, unknown>,
    header?: Record<string, unknown>,
    nowSeconds?: number,
  ): string;
  /** A token signed with HMAC-SHA256, `secret` as the key. */
  hs256(secret: string | Buffer, claims?: Record<string, unknown>): string;
}

/** A fresh issuer with one 2048-bit key. */
export function createTestIssuer(issuer: string, clientId: string, kid = 'test-key-1'): TestIssuer {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const claimsAt = (now: number, claims: Record<string, unknown>) => ({
    iss: issuer,
    sub: 'user-1',
    client_id: clientId,
    token_use: 'access',
    scope: 'openid email',
    iat: now,
    auth_time: now,
    exp: now + 3600,
    jti: 'jti-1',
    username: 'user-1',
    ...claims,
  });
  return {
    issuer,
    clientId,
    kid,
    publicKey,
    jwks: () => ({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }] }),
    accessToken(claims = {}, header = {}, nowSeconds = Math.floor(Date.now() / 1000)) {
      const signed = `${b64({ kid, alg: 'RS256', ...header })}.${b64(claimsAt(nowSeconds, claims))}`;
      return `${signed}.${sign('sha256', Buffer.from(signed), privateKey).toString('base64url')}`;
    },
    hs256(secret, claims = {}) {
      const signed = `${b64({ kid, alg: 'HS256' })}.${b64(claimsAt(Math.floor(Date.now() / 1000), claims))}`;
      return `${signed}.${createHmac('sha256', secret).update(signed).digest('base64url')}`;
    },
  };
}

/**
 * Serves `jwks()` at `/.well-known/jwks.json` on 127.0.0.1, counting the reads.
 * @returns the key set's URL, the number of reads so far and a way to stop the server.
 */
export async function serveJwks(jwks: () => unknown) {
  let reads = 0;
  const server = createServer((request, response) => {
    if (request.url !== '/.well-known/jwks.json') {
      response.writeHead(404).end();
      return;
    }
    reads += 1;
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    reads: () => reads,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
