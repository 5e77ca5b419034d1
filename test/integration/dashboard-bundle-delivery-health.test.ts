/**
 * The dashboard function bundled as the stack bundles it, run in a fresh process with the construct's
 * delivery-health variables: the DLQ's messages and the events queue come from the run's SQS server. No
 * CloudWatch runs here: its endpoint is a port nothing listens on, so the refusals are unknown (null), which is
 * what the function answers when CloudWatch cannot be read. (test/aws/pipeline-health.test.ts reads them from
 * moto's CloudWatch.)
 */
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { bundleFunction } from '../../infra/bundle-function';
import { METRICS_NAMESPACE, RECEIVE_SERVICE } from '../../lib/metrics';
import { invokeBundle } from '../support/bundles';
import { dashboardEvent } from '../support/dashboard-events';
import { createTestQueues, createTestTable, localClients } from '../support/local-aws';
import { createTestIssuer, serveJwks } from '../support/token-issuer';

const ROOT = join(import.meta.dirname, '../..');
const POOL = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Health';
const CLIENT = 'health-client';
const issuer = createTestIssuer(POOL, CLIENT);

let bundle: string;
let jwks: Awaited<ReturnType<typeof serveJwks>>;
let env: Record<string, string>;

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  const outdir = await mkdtemp(join(tmpdir(), 'dashboard-health-bundle-'));
  bundle = join(outdir, 'index.mjs');
  await bundleFunction({ entry: join(ROOT, 'functions/campaign-dashboard/handler.ts'), outfile: bundle });
  jwks = await serveJwks(() => issuer.jwks());
  const { dynamodb, sqs } = localClients();
  const { tableName } = await createTestTable(dynamodb);
  const { queueUrl, dlqUrl } = await createTestQueues(sqs);
  for (const i of [1, 2, 3])
    await sqs.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: `{"dead":${i}}` }));
  env = {
    TABLE_NAME: tableName,
    TOKEN_ISSUER: POOL,
    TOKEN_CLIENT_ID: CLIENT,
    TOKEN_JWKS_URL: jwks.url,
    SIGN_IN_URL: 'https://campaign-inbox-health.auth.eu-west-1.amazoncognito.com',
    METRICS_NAMESPACE,
    RECEIVE_METRICS_SERVICE: RECEIVE_SERVICE,
    QUEUE_URL: queueUrl,
    DLQ_URL: dlqUrl,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'bundle',
    AWS_SECRET_ACCESS_KEY: 'bundle',
    AWS_ENDPOINT_URL_DYNAMODB: inject('dynamodbEndpoint'),
    AWS_ENDPOINT_URL_SQS: inject('sqsEndpoint'),
    AWS_ENDPOINT_URL_CLOUDWATCH: `http://127.0.0.1:${await closedPort()}`,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    LOG_LEVEL: 'error',
  };
}, 60_000);
afterAll(() => jwks?.close());

type Answer = { statusCode: number; body: string };

describe('the bundled dashboard function’s delivery health', () => {
  it('answers the DLQ’s messages and an empty queue’s age from SQS, and null refusals when CloudWatch cannot be reached', async () => {
    const day = new Date().toISOString().slice(0, 10);
    const answer = (await invokeBundle(
      bundle,
      env,
      dashboardEvent('/api/dashboard', { query: { day }, token: issuer.accessToken() }),
    )) as Answer;
    expect(answer.statusCode).toBe(200);
    const { delivery } = JSON.parse(answer.body) as {
      delivery: { refused: number | null; dead_letters: number | null; oldest_message_age_s: number | null };
    };
    expect(delivery).toMatchObject({ refused: null, dead_letters: 3, oldest_message_age_s: 0 });
  });

  it('fails the cold start when one metrics variable is given without the other', async () => {
    const { RECEIVE_METRICS_SERVICE: _, ...without } = env;
    const failure = await invokeBundle(bundle, without, dashboardEvent('/dashboard')).then(
      () => undefined,
      (error: { stderr?: string }) => error,
    );
    expect(failure?.stderr).toMatch(/ConfigError: environment variable RECEIVE_METRICS_SERVICE is required/);
  });
});
