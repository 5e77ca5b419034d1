/**
 * Sign-in against a token issuer we did not write: moto's Cognito. The stack's own user pool and page client,
 * made in moto from the template by `deployToMoto`, get a user who signs in with a password (`InitiateAuth`,
 * `USER_PASSWORD_AUTH`) and gets moto's real RS256 tokens, and the synthesized dashboard bundle (the template's
 * `InboxDashboardFunction` as deployed there: its role's statements as an IAM user in moto, the template's
 * environment resolved to that pool, client and domain) reads `/api/dashboard` from moto's table, the key set read
 * from moto's `/<pool id>/.well-known/jwks.json`. moto does not hold a client to its allowed sign-in flows (the
 * template's allows only managed login's authorization code, which moto does not serve): the password sign-in
 * stands for them, and what the function sees is the same, an access token the pool issued for that client.
 *
 * moto signs the tokens of every pool with one key (`kid` "dummy", as its `jwks-public.json` says), so another
 * pool's token is refused here by its issuer, not its signature; the issuer check is what tells pools apart.
 * moto's tokens last an hour and cannot be made shorter, so the expired token is moto's own, verified with the
 * verifier's clock set past its `exp`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessTokenVerifier, fetchJwks, TokenRefusedError } from '../../lib/auth/jwt';
import { dashboardEvent } from '../support/dashboard-events';
import { uniqueName } from '../support/local-aws';
import { MOTO_REGION } from './support/iam';
import { invokeBundleWith } from './support/invoke';
import { moto } from './support/moto';
import { processed, queued, soriEvents } from './support/pipeline';
import { type Deployment, deployToMoto } from './support/stack';

/** Cognito's API in moto, as its administrator. */
const cognito = <T>(operation: string, input: unknown) => moto().cognito.call<T>(operation, input);

interface Pool {
  poolId: string;
  clientId: string;
  issuer: string;
  jwksUrl: string;
  /** The user's tokens, from a password sign-in. */
  tokens: { AccessToken: string; IdToken: string };
}

/** A user with a permanent password in the pool, signed in through `clientId`. */
async function signedIn(poolId: string, clientId: string): Promise<Pool> {
  const email = `${uniqueName('manager')}@example.com`;
  const password = 'Conformance-Passw0rd!';
  await cognito('AdminCreateUser', {
    UserPoolId: poolId,
    Username: email,
    MessageAction: 'SUPPRESS',
    UserAttributes: [
      { Name: 'email', Value: email },
      { Name: 'email_verified', Value: 'true' },
    ],
  });
  await cognito('AdminSetUserPassword', {
    UserPoolId: poolId,
    Username: email,
    Password: password,
    Permanent: true,
  });
  const { AuthenticationResult } = await cognito<{ AuthenticationResult: Pool['tokens'] }>('InitiateAuth', {
    ClientId: clientId,
    AuthFlow: 'USER_PASSWORD_AUTH',
    AuthParameters: { USERNAME: email, PASSWORD: password },
  });
  return {
    poolId,
    clientId,
    issuer: `https://cognito-idp.${MOTO_REGION}.amazonaws.com/${poolId}`,
    jwksUrl: `${moto().endpoint}/${poolId}/.well-known/jwks.json`,
    tokens: AuthenticationResult,
  };
}

/** Another pool than the stack's, signing in by e-mail, with a public client allowing password sign-in. */
async function otherPool(): Promise<Pool> {
  const { UserPool } = await cognito<{ UserPool: { Id: string } }>('CreateUserPool', {
    PoolName: uniqueName('other-users'),
    UsernameAttributes: ['email'],
  });
  const { UserPoolClient } = await cognito<{ UserPoolClient: { ClientId: string } }>('CreateUserPoolClient', {
    UserPoolId: UserPool.Id,
    ClientName: 'page',
    GenerateSecret: false,
    ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
  });
  return signedIn(UserPool.Id, UserPoolClient.ClientId);
}

const claims = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;

let stack: Deployment;
let pool: Pool;
let other: Pool;
let dashboard: { file: string; env: Record<string, string>; accessKeyId: string };
let campaign: string;

beforeAll(async () => {
  stack = await deployToMoto();
  pool = await signedIn(stack.names.userPoolId, stack.names.userPoolClientId);
  other = await otherPool();
  const deployed = stack.functions.dashboard;
  dashboard = {
    file: deployed.file,
    accessKeyId: deployed.key.accessKeyId,
    env: deployed.env({
      // Not in the template (the function derives it from the issuer there): moto serves the key set on its own
      // endpoint, not at the issuer's address.
      TOKEN_JWKS_URL: pool.jwksUrl,
      LOG_LEVEL: 'error',
    }),
  };

  // Three clicks of two devices, through the receive, process and repair bundles.
  const events = soriEvents(['device_a', 'device_b', 'device_a']);
  campaign = events.campaign;
  await processed(stack, await queued(stack, events.bodies));
});
afterAll(() => stack?.close());

type Answer = { statusCode: number; headers: Record<string, string>; body: string };

/** Runs the dashboard bundle on a request; its answer, and the AWS calls it made. */
async function ask(event: ReturnType<typeof dashboardEvent>) {
  const seen = stack.proxy.calls.length;
  const answer = (await invokeBundleWith(dashboard.file, dashboard.env, event)) as Answer;
  return { answer, calls: stack.proxy.calls.slice(seen) };
}

describe('the dashboard behind moto’s Cognito', () => {
  it('moto issues the tokens Cognito does: RS256 with a kid, the pool as iss, client_id and token_use "access" in the access token, aud in the id token', () => {
    expect(
      JSON.parse(Buffer.from(pool.tokens.AccessToken.split('.')[0] ?? '', 'base64url').toString()),
    ).toMatchObject({
      alg: 'RS256',
      kid: expect.any(String),
    });
    expect(claims(pool.tokens.AccessToken)).toMatchObject({
      iss: pool.issuer,
      client_id: pool.clientId,
      token_use: 'access',
    });
    expect(claims(pool.tokens.IdToken)).toMatchObject({
      iss: pool.issuer,
      aud: pool.clientId,
      token_use: 'id',
    });
  });

  it("answers /api/dashboard to the pool's access token with the campaign's clicks and devices as stored, reading moto's table with its role's read-only grant", async () => {
    const day = new Date().toISOString().slice(0, 10);
    const { answer, calls } = await ask(
      dashboardEvent('/api/dashboard', { query: { day }, token: pool.tokens.AccessToken }),
    );
    expect(answer.statusCode).toBe(200);
    const body = JSON.parse(answer.body) as { day: string; campaigns: Record<string, unknown>[] };
    expect(body.day).toBe(day);
    expect(body.campaigns.find((row) => row.campaign_id === campaign)).toMatchObject({
      provider: 'sori',
      impressions: 0,
      clicks: 3,
      unique_devices: 2,
    });
    // Every call signed with the function's role and taken by moto; reads only (the table, the pipeline's
    // metrics and the queues' attributes for delivery health).
    expect(calls.length).toBeGreaterThan(0);
    for (const call of calls) {
      expect(call.accessKeyId).toBe(dashboard.accessKeyId);
      expect(call.status).toBe(200);
      expect(['Query', 'GetItem', 'BatchGetItem', 'GetMetricData', 'GetQueueAttributes']).toContain(
        call.action,
      );
    }
  });

  it("refuses with 401 another pool's access token (moto signs it with the same key: refused by its issuer), the pool's id token, and no token, before reading the table", async () => {
    expect(claims(other.tokens.AccessToken).iss).not.toBe(pool.issuer);
    for (const token of [other.tokens.AccessToken, pool.tokens.IdToken, undefined]) {
      const { answer, calls } = await ask(dashboardEvent('/api/dashboard', token ? { token } : {}));
      expect(answer.statusCode).toBe(401);
      expect(JSON.parse(answer.body)).toEqual({ message: 'Unauthorized' });
      expect(calls).toEqual([]);
    }
  });

  it("serves the page with the sign-in settings of the template: the pool's client and the managed login domain", async () => {
    const { answer } = await ask(dashboardEvent('/dashboard'));
    expect(answer.statusCode).toBe(200);
    const settings = /<script id="campaign-inbox-sign-in" type="application\/json">([^<]*)<\/script>/.exec(
      answer.body,
    )?.[1];
    // The domain moto holds for the stack's pool, made from the template's prefix.
    const { UserPool } = await cognito<{ UserPool: { Domain?: string } }>('DescribeUserPool', {
      UserPoolId: pool.poolId,
    });
    expect(UserPool.Domain).toBe(stack.names.userPoolDomain);
    expect(JSON.parse(settings ?? 'null')).toEqual({
      signInUrl: `https://${UserPool.Domain}.auth.${MOTO_REGION}.amazoncognito.com`,
      clientId: pool.clientId,
      redirectPath: '/dashboard',
    });
  });

  it("refuses moto's access token once the verifier's clock is more than 60 s past its exp, and takes it until then", async () => {
    const { exp } = claims(pool.tokens.AccessToken) as { exp: number };
    const at = (seconds: number) =>
      new AccessTokenVerifier({
        issuer: pool.issuer,
        clientId: pool.clientId,
        readKeySet: fetchJwks(pool.jwksUrl),
        now: () => seconds * 1000,
      });
    await expect(at(exp + 59).verify(pool.tokens.AccessToken)).resolves.toMatchObject({ exp });
    const refused = await at(exp + 60)
      .verify(pool.tokens.AccessToken)
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TokenRefusedError);
    expect((refused as TokenRefusedError).reason).toBe('expired');
  });
});
