/**
 * Sign-in against a token issuer we did not write: moto's Cognito. A user pool and its client are made in moto,
 * a user signs in with a password (`InitiateAuth`, `USER_PASSWORD_AUTH`) and gets moto's real RS256 tokens, and
 * the synthesized dashboard bundle (the template's `InboxDashboardFunction`, with its role's statements as an IAM
 * user in moto and the template's environment, the pool's references resolved to the pool made in moto) reads
 * `/api/dashboard` from moto's table, the key set read from moto's `/<pool id>/.well-known/jwks.json`.
 *
 * moto signs the tokens of every pool with one key (`kid` "dummy", as its `jwks-public.json` says), so another
 * pool's token is refused here by its issuer, not its signature; the issuer check is what tells pools apart.
 * moto's tokens last an hour and cannot be made shorter, so the expired token is moto's own, verified with the
 * verifier's clock set past its `exp`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessTokenVerifier, fetchJwks, TokenRefusedError } from '../../lib/auth/jwt';
import { AwsJsonClient } from '../../lib/aws/aws-json-client';
import { bundledFunction } from '../support/bundles';
import { dashboardEvent } from '../support/dashboard-events';
import { uniqueName } from '../support/local-aws';
import { MOTO_ACCOUNT, MOTO_REGION } from './support/iam';
import { invokeBundleWith } from './support/invoke';
import { moto } from './support/moto';
import { processed, queued, soriEvents } from './support/pipeline';
import {
  functionOf,
  motoPolicy,
  type Physical,
  resolvedStatements,
  resolveValue,
  templateStatements,
} from './support/policy';
import { type Deployment, deployToMoto, synthesize } from './support/stack';

const DASHBOARD = 'InboxDashboardFunction';

/** Cognito's API in moto, as its administrator. */
function cognito() {
  const aws = moto();
  const client = new AwsJsonClient({
    service: 'cognito-idp',
    region: MOTO_REGION,
    endpoint: aws.endpoint,
    targetPrefix: 'AWSCognitoIdentityProviderService',
    jsonVersion: '1.1',
    credentials: () => aws.admin,
    maxAttempts: 1,
    timeoutMs: 10_000,
  });
  return <T>(operation: string, input: unknown) => client.call<T>(operation, input);
}

interface Pool {
  poolId: string;
  clientId: string;
  issuer: string;
  jwksUrl: string;
  /** The user's tokens, from a password sign-in. */
  tokens: { AccessToken: string; IdToken: string };
}

/** A user pool signing in by e-mail, a public client allowing password sign-in, a user with a permanent password. */
async function poolWithUser(): Promise<Pool> {
  const call = cognito();
  const { UserPool } = await call<{ UserPool: { Id: string } }>('CreateUserPool', {
    PoolName: uniqueName('dashboard-users'),
    UsernameAttributes: ['email'],
  });
  const poolId = UserPool.Id;
  const { UserPoolClient } = await call<{ UserPoolClient: { ClientId: string } }>('CreateUserPoolClient', {
    UserPoolId: poolId,
    ClientName: 'page',
    GenerateSecret: false,
    ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
  });
  const email = `${uniqueName('manager')}@example.com`;
  const password = 'Conformance-Passw0rd!';
  await call('AdminCreateUser', {
    UserPoolId: poolId,
    Username: email,
    MessageAction: 'SUPPRESS',
    UserAttributes: [
      { Name: 'email', Value: email },
      { Name: 'email_verified', Value: 'true' },
    ],
  });
  await call('AdminSetUserPassword', {
    UserPoolId: poolId,
    Username: email,
    Password: password,
    Permanent: true,
  });
  const { AuthenticationResult } = await call<{ AuthenticationResult: Pool['tokens'] }>('InitiateAuth', {
    ClientId: UserPoolClient.ClientId,
    AuthFlow: 'USER_PASSWORD_AUTH',
    AuthParameters: { USERNAME: email, PASSWORD: password },
  });
  return {
    poolId,
    clientId: UserPoolClient.ClientId,
    issuer: `https://cognito-idp.${MOTO_REGION}.amazonaws.com/${poolId}`,
    jwksUrl: `${moto().endpoint}/${poolId}/.well-known/jwks.json`,
    tokens: AuthenticationResult,
  };
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
  [pool, other] = [await poolWithUser(), await poolWithUser()];
  const { outdir, resources } = await synthesize();
  // The template's user pool, client and domain, as the pool made in moto (moto's Cognito has no domains: the
  // prefix is only shown in the page's sign-in settings).
  const ofType = (type: string) => Object.keys(resources).filter((id) => resources[id]?.Type === type);
  const cognitoResources: Record<string, Physical> = {};
  for (const id of ofType('AWS::Cognito::UserPool')) {
    cognitoResources[id] = {
      ref: pool.poolId,
      attributes: {
        ProviderURL: `cognito-idp.${MOTO_REGION}.amazonaws.com/${pool.poolId}`,
        Arn: `arn:aws:cognito-idp:${MOTO_REGION}:${MOTO_ACCOUNT}:userpool/${pool.poolId}`,
      },
    };
  }
  for (const id of ofType('AWS::Cognito::UserPoolClient'))
    cognitoResources[id] = { ref: pool.clientId, attributes: {} };
  for (const id of ofType('AWS::Cognito::UserPoolDomain'))
    cognitoResources[id] = { ref: 'campaign-inbox-conformance', attributes: {} };
  const physical = { ...stack.physical, ...cognitoResources };

  const { functionId, roleId } = functionOf(resources, DASHBOARD);
  const bundle = await bundledFunction(outdir, resources, functionId);
  const statements = resolvedStatements(templateStatements(resources, roleId), physical);
  const key = await moto().createUser(uniqueName('dashboard'), motoPolicy(statements));
  stack.proxy.grant(key.accessKeyId, statements);
  const environment = Object.fromEntries(
    Object.entries(bundle.properties.Environment?.Variables ?? {}).map(([name, value]) => [
      name,
      resolveValue(value, physical),
    ]),
  );
  dashboard = {
    file: bundle.file,
    accessKeyId: key.accessKeyId,
    env: {
      ...environment,
      // Not in the template (the function derives it from the issuer there): moto serves the key set on its own
      // endpoint, not at the issuer's address.
      TOKEN_JWKS_URL: pool.jwksUrl,
      AWS_REGION: MOTO_REGION,
      AWS_ACCESS_KEY_ID: key.accessKeyId,
      AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: stack.proxy.endpoint,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      LOG_LEVEL: 'error',
    },
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
    // Every call signed with the function's role and taken by moto; reads only.
    expect(calls.length).toBeGreaterThan(0);
    for (const call of calls) {
      expect(call.accessKeyId).toBe(dashboard.accessKeyId);
      expect(call.status).toBe(200);
      expect(['Query', 'GetItem', 'BatchGetItem']).toContain(call.action);
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
    expect(JSON.parse(settings ?? 'null')).toEqual({
      signInUrl: `https://campaign-inbox-conformance.auth.${MOTO_REGION}.amazoncognito.com`,
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
