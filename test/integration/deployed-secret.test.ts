import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { rotateSecret, rotateUrlToken } from '../../lib/signature/rotate-secret';
import {
  credentialsOf,
  type SigningSecretDocument,
  tokenWebhookUrl,
} from '../../lib/signature/signing-secrets';
import { hexSignature, soriBody } from '../support/deliveries';
import {
  type DeployedReceive,
  generatedSecretDocument,
  loadDeployedReceive,
} from '../support/deployed-receive';
import { startSqsStandIn } from '../support/sqs-stand-in';

// The deployed receive function (functions/receive-webhook/handler.ts) run in-process with the construct's
// environment, its SQS client on the run's fauxqs server. Secrets Manager has no local server: a stand-in
// answers GetSecretValue with the document CloudFormation would generate from the construct's template, and
// fails on demand where a test injects an outage (see test/support/deployed-receive.ts).

const FIXTURES = join(import.meta.dirname, '../../examples/payloads');
const BODIES: Record<string, string> = {
  symphony: readFileSync(join(FIXTURES, 'symphony/campaign-created.json'), 'utf8'),
  adreform: readFileSync(join(FIXTURES, 'adreform/screenshot-set-approved.json'), 'utf8'),
  optimizely: readFileSync(join(FIXTURES, 'optimizely/bounce.json'), 'utf8'),
};
const URL_TOKEN_PROVIDERS = Object.keys(BODIES);
const JSON_HEADERS = { 'content-type': 'application/json' };

let receive: DeployedReceive | undefined;
afterEach(async () => {
  await receive?.close();
  receive = undefined;
});

const tokenOf = (document: SigningSecretDocument, provider: string) =>
  credentialsOf(document, provider).urlToken ?? '';
/** The stack's `WebhookUrl` output, from which set-secret builds the URLs it prints. */
const WEBHOOK_URL = 'https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/webhooks/sori';
/** The path of the URL `npm run set-secret -- --show-token-url` prints for `provider`. */
const printedPath = (document: SigningSecretDocument, provider: string) =>
  new URL(tokenWebhookUrl(WEBHOOK_URL, document, provider) ?? WEBHOOK_URL).pathname;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('deployed receive function, with the signing secret the stack generates', () => {
  it("opens each URL-token provider's route with the URL set-secret prints for it, and no other provider's route; the generated value opens none", async () => {
    const document = generatedSecretDocument();
    receive = await loadDeployedReceive({ document });
    const generated = document.url_token ?? '';
    expect(generated).toMatch(/^[A-Za-z0-9]{40}$/);
    for (const provider of URL_TOKEN_PROVIDERS) {
      const token = tokenOf(document, provider);
      expect(token).not.toBe(generated);
      expect(printedPath(document, provider)).toBe(`/webhooks/${provider}/${token}`);
      const own = await receive.invoke({
        path: printedPath(document, provider),
        headers: JSON_HEADERS,
        body: BODIES[provider],
      });
      expect(own.response.statusCode, `${provider} with its own token`).toBe(202);
      for (const other of URL_TOKEN_PROVIDERS.filter((name) => name !== provider)) {
        const crossed = await receive.invoke({
          path: `/webhooks/${other}/${token}`,
          headers: JSON_HEADERS,
          body: BODIES[other],
        });
        expect(crossed.response.statusCode, `${provider}'s token on ${other}'s route`).toBe(401);
      }
      const bare = await receive.invoke({
        path: `/webhooks/${provider}/${generated}`,
        headers: JSON_HEADERS,
        body: BODIES[provider],
      });
      expect(bare.response.statusCode, `the generated value on ${provider}'s route`).toBe(401);
    }
    expect(await receive.takeQueued()).toHaveLength(URL_TOKEN_PROVIDERS.length);
  });

  it('refuses everything for a provider without credentials: SORI before set-secret, a Basic provider with none set', async () => {
    const document = generatedSecretDocument();
    receive = await loadDeployedReceive({
      document,
      props: { auth: { optimizely: { scheme: { kind: 'basic' } } } },
    });
    const body = soriBody('impression');
    const answers = [
      // SORI's key is not set yet: no signature verifies, whatever key made it.
      await receive.invoke({
        path: '/webhooks/sori',
        headers: { ...JSON_HEADERS, 'x-sori-signature': hexSignature(body, '') },
        body,
      }),
      await receive.invoke({
        path: '/webhooks/sori',
        headers: { ...JSON_HEADERS, 'x-sori-signature': hexSignature(body, document.url_token ?? '') },
        body,
      }),
      await receive.invoke({ path: '/webhooks/sori', headers: JSON_HEADERS, body }),
      // Optimizely is configured for Basic and has no Basic credentials.
      await receive.invoke({
        path: '/webhooks/optimizely',
        headers: { ...JSON_HEADERS, authorization: `Basic ${Buffer.from(':').toString('base64')}` },
        body: BODIES.optimizely,
      }),
      await receive.invoke({
        path: '/webhooks/optimizely',
        headers: {
          ...JSON_HEADERS,
          authorization: `Basic ${Buffer.from('optimizely:x').toString('base64')}`,
        },
        body: BODIES.optimizely,
      }),
    ];
    expect(answers.map(({ response }) => response.statusCode)).toEqual([401, 401, 401, 401, 401]);
    // Neither takes the URL-token route, even with the token derived for it.
    for (const provider of ['sori', 'optimizely']) {
      const { response } = await receive.invoke({
        path: `/webhooks/${provider}/${tokenOf(document, provider)}`,
        headers: JSON_HEADERS,
        body: provider === 'sori' ? body : BODIES.optimizely,
      });
      // SORI signs: its last segment names an app, and an app it does not know answers as a wrong signature.
      expect(response.statusCode, `${provider}'s URL-token route`).toBe(provider === 'sori' ? 401 : 404);
    }
    expect(await receive.takeQueued()).toEqual([]);
  });

  it("rotating one provider's credential keeps every other provider's working", async () => {
    const generated = generatedSecretDocument();
    const before = rotateSecret(generated, 'sori', 'sk_sori_before');
    receive = await loadDeployedReceive({ document: before, env: { SIGNING_SECRET_TTL_SECONDS: '1' } });
    const soriSigned = (secret: string) => {
      const body = soriBody('click');
      return {
        path: '/webhooks/sori',
        headers: { ...JSON_HEADERS, 'x-sori-signature': hexSignature(body, secret) },
        body,
      };
    };
    const byToken = (provider: string, token: string) => ({
      path: `/webhooks/${provider}/${token}`,
      headers: JSON_HEADERS,
      body: BODIES[provider],
    });
    expect((await receive.invoke(soriSigned('sk_sori_before'))).response.statusCode).toBe(202);

    // What set-secret does: a new URL token for Symphony, then a new SORI key.
    const after = rotateSecret(rotateUrlToken(before, 'symphony'), 'sori', 'sk_sori_after');
    receive.secretsManager.document = after;
    const callsBefore = receive.secretsManager.calls;
    await sleep(1_100);

    const status = async (request: Parameters<DeployedReceive['invoke']>[0]) =>
      (await receive?.invoke(request))?.response.statusCode;
    expect(await status(byToken('symphony', tokenOf(after, 'symphony')))).toBe(202);
    expect(receive.secretsManager.calls).toBe(callsBefore + 1);
    expect(await status(byToken('symphony', tokenOf(before, 'symphony')))).toBe(401);
    for (const provider of ['adreform', 'optimizely']) {
      expect(tokenOf(after, provider)).toBe(tokenOf(before, provider));
      expect(await status(byToken(provider, tokenOf(before, provider))), provider).toBe(202);
    }
    expect(await status(soriSigned('sk_sori_after'))).toBe(202);
    expect(await status(soriSigned('sk_sori_before'))).toBe(202);
    expect(await status(soriSigned('sk_sori_unknown'))).toBe(401);
  });
});

describe('deployed receive function, when Secrets Manager fails', () => {
  it('answers 503 with retry-after while the first read fails, and takes the retried delivery once it is back', async () => {
    const document = rotateSecret(generatedSecretDocument(), 'sori', 'sk_outage');
    receive = await loadDeployedReceive({ document });
    receive.secretsManager.failing = true;
    const body = soriBody('impression');
    const delivery = {
      path: '/webhooks/sori',
      headers: { ...JSON_HEADERS, 'x-sori-signature': hexSignature(body, 'sk_outage') },
      body,
    };
    for (let attempt = 0; attempt < 2; attempt++) {
      const { response } = await receive.invoke(delivery);
      expect(response.statusCode).toBe(503);
      expect(response.headers?.['retry-after']).toBe('5');
    }
    // Every request tries again while there is no copy at all.
    expect(receive.secretsManager.calls).toBe(2);
    expect(await receive.takeQueued()).toEqual([]);

    receive.secretsManager.failing = false;
    expect((await receive.invoke(delivery)).response.statusCode).toBe(202);
    expect(await receive.takeQueued()).toHaveLength(1);
  });

  it('keeps verifying with the cached secret when a refresh fails, logs it without the secret, counts it, and waits before retrying', async () => {
    const document = rotateSecret(generatedSecretDocument(), 'sori', 'sk_cached_secret_value');
    receive = await loadDeployedReceive({ document, env: { SIGNING_SECRET_TTL_SECONDS: '1' } });
    const signed = (name: 'impression' | 'click') => {
      const body = soriBody(name);
      return {
        path: '/webhooks/sori',
        headers: { ...JSON_HEADERS, 'x-sori-signature': hexSignature(body, 'sk_cached_secret_value') },
        body,
      };
    };
    expect((await receive.invoke(signed('impression'))).response.statusCode).toBe(202);
    receive.secretsManager.failing = true;
    await sleep(1_100);

    const { response, stdout, stderr } = await receive.invoke(signed('click'));
    expect(response.statusCode).toBe(202);
    expect(receive.secretsManager.calls).toBe(2);
    const warning = stderr
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { level: string; message: string; error?: { name: string } })
      .find((entry) => entry.message.includes('signing secret refresh failed'));
    expect(warning).toMatchObject({ level: 'WARN', error: { name: 'InternalServiceError' } });
    const emf = stdout
      .split('\n')
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(emf.some((metrics) => metrics.SecretRefreshFailures === 1)).toBe(true);
    for (const secret of ['sk_cached_secret_value', document.url_token ?? '']) {
      expect(stdout + stderr).not.toContain(secret);
    }

    // The next requests within 30 s use the cached copy without calling Secrets Manager again.
    await sleep(1_100);
    expect((await receive.invoke(signed('impression'))).response.statusCode).toBe(202);
    expect(receive.secretsManager.calls).toBe(2);
    expect(await receive.takeQueued()).toHaveLength(3);
  });
});

describe('deployed receive function, AWS credentials', () => {
  it('signs its SQS requests with the credentials Lambda puts in its environment (the role’s), session token included', async () => {
    // The stand-in records the request headers: no local SQS server checks signatures.
    const sqs = await startSqsStandIn();
    try {
      receive = await loadDeployedReceive({
        document: rotateSecret(generatedSecretDocument(), 'sori', 'sk_role_test'),
        env: {
          AWS_ENDPOINT_URL_SQS: sqs.endpoint,
          AWS_ACCESS_KEY_ID: 'ASIAROLETEST0000001',
          AWS_SECRET_ACCESS_KEY: 'role-secret-access-key',
          AWS_SESSION_TOKEN: 'role-session-token',
        },
      });
      const body = soriBody('impression');
      const { response } = await receive.invoke({
        path: '/webhooks/sori',
        headers: { ...JSON_HEADERS, 'x-sori-signature': hexSignature(body, 'sk_role_test') },
        body,
      });
      expect(response.statusCode).toBe(202);
      expect(sqs.seen).toHaveLength(1);
      expect(String(sqs.seen[0]?.authorization)).toMatch(
        /^AWS4-HMAC-SHA256 Credential=ASIAROLETEST0000001\//,
      );
      expect(sqs.seen[0]?.['x-amz-security-token']).toBe('role-session-token');
    } finally {
      await sqs.close();
    }
  });
});
