/**
 * The receive and dashboard functions bundled as the stack bundles them and run as Lambda's Node runtime runs
 * them, in a fresh process each, with the configured providers in `CUSTOM_PROVIDERS`: a provider added by
 * configuration alone is served from the cold start, and a wrong configuration fails the cold start naming the
 * provider and the field. Secrets Manager is a stand-in (no local server exists for it).
 */
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { bundleFunction } from '../../infra/bundle-function';
import { QueueMessageSchema } from '../../lib/events/event-record';
import { registerCustomProviders } from '../../lib/providers/declarative';
import { invokeBundle } from '../support/bundles';
import { dashboardEvent } from '../support/dashboard-events';
import { webhookEvent } from '../support/deliveries';
import { type SecretsManagerStandIn, startSecretsManagerStandIn } from '../support/deployed-receive';
import {
  createTestQueues,
  createTestTable,
  localClients,
  takeMessages,
  uniqueName,
} from '../support/local-aws';
import { storeAndFold } from '../support/store-and-fold';
import { createTestIssuer, serveJwks } from '../support/token-issuer';

const ROOT = join(import.meta.dirname, '../..');
const DOCS = readFileSync(join(ROOT, 'docs/custom-providers.md'), 'utf8');
const EXAMPLE = /```json\n([\s\S]*?)\n```/.exec(
  DOCS.slice(DOCS.indexOf('<!-- example: CUSTOM_PROVIDERS -->')),
)?.[1] as string;
const BEACON_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const POOL = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Custom';
const CLIENT = 'custom-client';
const issuer = createTestIssuer(POOL, CLIENT);
const { dynamodb, sqs } = localClients();

let receiveBundle: string;
let dashboardBundle: string;
let secrets: SecretsManagerStandIn;
let jwks: Awaited<ReturnType<typeof serveJwks>>;

const AWS_ENV = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bundle',
  AWS_SECRET_ACCESS_KEY: 'bundle',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  LOG_LEVEL: 'error',
};

beforeAll(async () => {
  const outdir = await mkdtemp(join(tmpdir(), 'custom-providers-bundles-'));
  receiveBundle = await bundleFunction({
    entry: join(ROOT, 'functions/receive-webhook/handler.ts'),
    outfile: join(outdir, 'receive', 'index.mjs'),
  });
  dashboardBundle = await bundleFunction({
    entry: join(ROOT, 'functions/campaign-dashboard/handler.ts'),
    outfile: join(outdir, 'dashboard', 'index.mjs'),
  });
  secrets = await startSecretsManagerStandIn({ beacon: { current: BEACON_SECRET, previous: null } });
  jwks = await serveJwks(() => issuer.jwks());
}, 60_000);
afterAll(async () => {
  await secrets?.close();
  await jwks?.close();
});

const coldStartFailure = (bundle: string, env: Record<string, string>, event: unknown) =>
  invokeBundle(bundle, env, event).then(
    () => undefined,
    (error: { stderr?: string }) => error.stderr ?? '',
  );

describe('the bundled functions with CUSTOM_PROVIDERS', () => {
  it('receive a Standard Webhooks delivery of a configured provider the list of providers served names, and the dashboard drills into its campaign', async () => {
    const { queueUrl } = await createTestQueues(sqs);
    const receiveEnv = {
      ...AWS_ENV,
      CUSTOM_PROVIDERS: EXAMPLE,
      PROVIDERS: 'sori,beacon',
      SIGNING_SECRET_ARN: secrets.arn,
      QUEUE_URL: queueUrl,
      AWS_ENDPOINT_URL_SQS: inject('sqsEndpoint'),
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
    };
    const campaign = uniqueName('cmp_bundle');
    const now = Date.now();
    const body = JSON.stringify({
      type: 'click.recorded',
      timestamp: new Date(now).toISOString(),
      data: { campaign_id: campaign, device_id: 'dev_bundle' },
    });
    const headers = {
      'webhook-id': 'msg_bundle_1',
      'webhook-timestamp': String(Math.floor(now / 1000)),
      'webhook-signature': new Webhook(BEACON_SECRET).sign('msg_bundle_1', new Date(now), body),
    };
    const answer = (await invokeBundle(
      receiveBundle,
      receiveEnv,
      webhookEvent({ provider: 'beacon', body, headers }),
    )) as { statusCode: number; body: string };
    expect(answer.statusCode).toBe(202);
    // A provider configured but not in the list served is not served.
    const unserved = (await invokeBundle(
      receiveBundle,
      { ...receiveEnv, PROVIDERS: 'sori' },
      webhookEvent({ provider: 'beacon', body, headers }),
    )) as { statusCode: number };
    expect(unserved.statusCode).toBe(404);

    const messages = (await takeMessages(sqs, queueUrl)).map((text) =>
      v.parse(QueueMessageSchema, JSON.parse(text)),
    );
    expect(messages).toEqual([
      expect.objectContaining({
        kind: 'event',
        record: expect.objectContaining({
          provider: 'beacon',
          campaign_id: campaign,
          activity_id: 'msg_bundle_1',
        }),
        // What the provider's code decided at receipt, the click's kind and the impressions it pairs with included.
        policy: {
          keyed_by_id: false,
          counted: true,
          state: null,
          counted_as: 'clicks',
          pairs_with: ['impression.recorded'],
        },
      }),
    ]);

    // The consumer stores it (this process knows the providers too: it registered the same configuration).
    registerCustomProviders(EXAMPLE);
    const table = await createTestTable(dynamodb);
    try {
      await storeAndFold(table.writer, table.counters, messages);
    } finally {
      registerCustomProviders(undefined);
    }
    const dashboardEnv = {
      ...AWS_ENV,
      CUSTOM_PROVIDERS: EXAMPLE,
      TABLE_NAME: table.tableName,
      TOKEN_ISSUER: POOL,
      TOKEN_CLIENT_ID: CLIENT,
      TOKEN_JWKS_URL: jwks.url,
      SIGN_IN_URL: 'https://campaign-inbox-custom.auth.eu-west-1.amazoncognito.com',
      AWS_ENDPOINT_URL_DYNAMODB: inject('dynamodbEndpoint'),
    };
    const day = new Date(now).toISOString().slice(0, 10);
    const drill = (env: Record<string, string>) =>
      invokeBundle(
        dashboardBundle,
        env,
        dashboardEvent('/api/dashboard', {
          query: { day, provider: 'beacon', campaign },
          token: issuer.accessToken(),
        }),
      ) as Promise<{ statusCode: number; body: string }>;
    const shown = await drill(dashboardEnv);
    expect(shown.statusCode).toBe(200);
    expect(JSON.parse(shown.body)).toMatchObject({ totals: { clicks: 1 } });
    // Without the configuration the dashboard knows no such provider.
    const { CUSTOM_PROVIDERS: _, ...without } = dashboardEnv;
    expect((await drill(without)).statusCode).toBe(400);
  });

  it('fail their cold start naming the provider and the field when CUSTOM_PROVIDERS is wrong', async () => {
    const wrong = JSON.stringify(
      (JSON.parse(EXAMPLE) as Record<string, unknown>[]).map((provider) =>
        provider.name === 'acme-ads' ? { ...provider, algorithm: 'md5' } : provider,
      ),
    );
    const receive = await coldStartFailure(
      receiveBundle,
      {
        ...AWS_ENV,
        CUSTOM_PROVIDERS: wrong,
        SIGNING_SECRET_ARN: secrets.arn,
        QUEUE_URL: 'http://127.0.0.1:9/q',
      },
      webhookEvent({ provider: 'beacon', body: '{}' }),
    );
    expect(receive).toMatch(/ConfigError: CUSTOM_PROVIDERS: provider "acme-ads", algorithm: expected/);
    const dashboard = await coldStartFailure(
      dashboardBundle,
      { ...AWS_ENV, CUSTOM_PROVIDERS: wrong, TABLE_NAME: 't', TOKEN_ISSUER: POOL, TOKEN_CLIENT_ID: CLIENT },
      dashboardEvent('/dashboard'),
    );
    expect(dashboard).toMatch(/ConfigError: CUSTOM_PROVIDERS: provider "acme-ads", algorithm: expected/);
  });
});
