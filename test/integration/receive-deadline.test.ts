import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createReceiveHandler } from '../../functions/receive-webhook/receive-webhook';
import { S3RawStore } from '../../lib/blobs/raw-store';
import type { QueueMessage } from '../../lib/events/event-record';
import { EventQueue } from '../../lib/queue/event-queue';
import { sdkSendMessage } from '../../lib/queue/sdk-send-message';
import { secretsManagerReadSecret } from '../../lib/receive/services';
import { rotateSecret } from '../../lib/signature/rotate-secret';
import { StaticSigningSecrets } from '../../lib/signature/signing-secrets';
import { localClientConfig } from '../../local/local-stack';
import { hexSignature, memoryLogger, soriBody, webhookEvent } from '../support/deliveries';
import {
  type DeployedReceive,
  generatedSecretDocument,
  loadDeployedReceive,
  startSecretsManagerStandIn,
} from '../support/deployed-receive';
import { createTestQueues, localClients, uniqueName } from '../support/local-aws';
import { type ProxyDelay, type SlowProxy, startSlowProxy } from '../support/slow-proxy';
import { SQS_OK, type SqsReply, startSqsStandIn } from '../support/sqs-stand-in';

// The deployed receive function (functions/receive-webhook/handler.ts) run in-process with the construct's
// environment, given a Lambda context whose remaining time each test sets. No local server can be made slow on
// demand: a proxy holds requests to the run's fauxqs server (its SQS and S3 APIs) for a scripted time, the
// Secrets Manager stand-in holds its answers, and an SQS stand-in answers what no real server does (a 2xx
// without a MessageId, a kept-alive connection closed while a request waits).

const SECRET = 'sk_deadline';
const JSON_HEADERS = { 'content-type': 'application/json' };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let receive: DeployedReceive | undefined;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await receive?.close();
  receive = undefined;
  for (const close of closers.splice(0)) await close();
});

/** A signed SORI delivery; `padding` bytes make it large enough for the raw bucket (over 96 KiB). */
function delivery(padding = 0) {
  const body = padding
    ? JSON.stringify({ ...JSON.parse(soriBody('impression')), padding: 'x'.repeat(padding) })
    : soriBody('click');
  return {
    path: '/webhooks/sori',
    headers: { ...JSON_HEADERS, 'x-sori-signature': hexSignature(body, SECRET) },
    body,
  };
}
const LARGE = 120_000;

/**
 * The deployed function with SQS and S3 behind slow proxies, its secret read once already and due for a
 * refresh (TTL 1 s, past), so the next invocation refreshes it before anything else.
 */
async function deployedWithSlowServices() {
  const sqsProxy = await startSlowProxy(inject('sqsEndpoint'));
  const s3Proxy = await startSlowProxy(inject('sqsEndpoint'));
  closers.push(sqsProxy.close, s3Proxy.close);
  receive = await loadDeployedReceive({
    document: rotateSecret(generatedSecretDocument(), 'sori', SECRET),
    env: {
      SIGNING_SECRET_TTL_SECONDS: '1',
      AWS_ENDPOINT_URL_SQS: sqsProxy.endpoint,
      AWS_ENDPOINT_URL_S3: s3Proxy.endpoint,
    },
  });
  const s3 = new S3Client({ ...localClientConfig(inject('sqsEndpoint')), forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: receive.rawBucket }));
  s3.destroy();
  expect((await receive.invoke(delivery())).response.statusCode).toBe(202);
  expect(await receive.takeQueued()).toHaveLength(1);
  await sleep(1_100);
  return { receive, sqsProxy, s3Proxy };
}

/** Scripts the proxy's next delays; what it has received and passed on from now is counted apart. */
function slow(proxy: SlowProxy, delays: ProxyDelay[]) {
  proxy.delays = delays;
  const { received, forwarded } = proxy;
  return {
    received: () => proxy.received - received,
    forwarded: () => proxy.forwarded - forwarded,
  };
}

describe('deployed receive function, with one deadline for the invocation', () => {
  it('answers 503 before the function times out when the secret refresh, the S3 put and SQS are all slow, never a late 202', async () => {
    const { receive, sqsProxy, s3Proxy } = await deployedWithSlowServices();
    // Each call within its own limit, together past the 4 s timeout: a refresh that gets no answer (1 s), an S3
    // put answered after 1.2 s, a first SendMessage that hangs (1.2 s) and a second answered after 0.9 s.
    receive.secretsManager.delayMs = 10_000;
    const s3 = slow(s3Proxy, [1_200]);
    const sqs = slow(sqsProxy, ['hang', 900]);
    const { response, remainingMsAtAnswer } = await receive.invoke(delivery(LARGE), { remainingMs: 4_000 });
    expect(remainingMsAtAnswer).toBeGreaterThan(0);
    expect(response.statusCode).toBe(503);
    expect(response.headers?.['retry-after']).toBe('5');
    expect(s3.forwarded()).toBe(1);
    // No SendMessage reached the queue, so nothing is stored for the 503: SORI's retry is the only copy.
    expect(sqs.forwarded()).toBe(0);
    expect(await receive.takeQueued()).toEqual([]);
  });

  it('answers 202 after a slow secret refresh and S3 put when SendMessage returns a MessageId in time', async () => {
    const { receive, sqsProxy, s3Proxy } = await deployedWithSlowServices();
    receive.secretsManager.delayMs = 500;
    slow(s3Proxy, [600]);
    slow(sqsProxy, [300]);
    const { response, remainingMsAtAnswer } = await receive.invoke(delivery(LARGE), { remainingMs: 4_000 });
    expect(remainingMsAtAnswer).toBeGreaterThan(0);
    expect(response.statusCode).toBe(202);
    const queued = (await receive.takeQueued()).map((body) => JSON.parse(body) as QueueMessage);
    expect(queued).toHaveLength(1);
    expect(queued[0]?.raw_ref).toMatch(new RegExp(`^s3://${receive.rawBucket}/raw/sori/`));
  });

  it('answers 503 before the function times out when the S3 put outlasts the time left, and sends nothing to SQS', async () => {
    const { receive, sqsProxy, s3Proxy } = await deployedWithSlowServices();
    receive.secretsManager.delayMs = 10_000;
    slow(s3Proxy, ['hang']);
    const sqs = slow(sqsProxy, [0]);
    // The put's own limit (2.5 s) after the refresh's (1 s) ends past the 3 s the context gives.
    const { response, remainingMsAtAnswer } = await receive.invoke(delivery(LARGE), { remainingMs: 3_000 });
    expect(remainingMsAtAnswer).toBeGreaterThan(0);
    expect(response.statusCode).toBe(503);
    expect(sqs.received()).toBe(0);
  });

  it('answers 503 when the time is up before SendMessage could start, without sending it', async () => {
    const { receive, sqsProxy } = await deployedWithSlowServices();
    receive.secretsManager.delayMs = 10_000;
    const sqs = slow(sqsProxy, [0]);
    // The refresh takes the whole time the context gives, less than its own 1 s limit.
    const { response, remainingMsAtAnswer } = await receive.invoke(delivery(), { remainingMs: 900 });
    expect(remainingMsAtAnswer).toBeGreaterThan(0);
    expect(response.statusCode).toBe(503);
    expect(sqs.received()).toBe(0);
  });
});

/** The deployed function with its SQS endpoint on a stand-in answering `replies`. */
async function deployedWithSqsStandIn(replies: SqsReply[]) {
  const standIn = await startSqsStandIn(replies);
  closers.push(standIn.close);
  receive = await loadDeployedReceive({
    document: rotateSecret(generatedSecretDocument(), 'sori', SECRET),
    env: { AWS_ENDPOINT_URL_SQS: standIn.endpoint },
  });
  return { receive, standIn };
}

describe('deployed receive function, when SQS answers without a MessageId', () => {
  it.each([
    ['an empty body', { status: 200, raw: '' }],
    ['a JSON body without a MessageId', { status: 200, body: {} }],
  ] as [string, SqsReply][])(
    'answers 503, not 202, when every SendMessage gets a 2xx with %s',
    async (_, reply) => {
      const { receive, standIn } = await deployedWithSqsStandIn([reply]);
      const { response } = await receive.invoke(delivery());
      expect(response.statusCode).toBe(503);
      expect(response.headers?.['retry-after']).toBe('5');
      expect(standIn.seen).toHaveLength(2);
    },
  );

  it('answers 202 when the retried SendMessage returns a MessageId', async () => {
    const { receive, standIn } = await deployedWithSqsStandIn([{ status: 200, raw: '' }, SQS_OK]);
    expect((await receive.invoke(delivery())).response.statusCode).toBe(202);
    expect(standIn.seen).toHaveLength(2);
  });
});

describe('deployed receive function, when a kept-alive SQS connection was closed', () => {
  it('counts the resend on a new connection against the deadline, and answers before the function times out', async () => {
    // The first delivery leaves a connection open; the second finds it closed only after a second's wait, and
    // its resend would hang: it has what is left of the deadline, not a whole try.
    const { receive, standIn } = await deployedWithSqsStandIn([SQS_OK, { dropAfterMs: 1_000 }, 'hang']);
    expect((await receive.invoke(delivery())).response.statusCode).toBe(202);
    const { response, remainingMsAtAnswer } = await receive.invoke(delivery(), { remainingMs: 2_000 });
    expect(remainingMsAtAnswer).toBeGreaterThan(0);
    expect(response.statusCode).toBe(503);
    expect(standIn.ports[1]).toBe(standIn.ports[0]);
    expect(standIn.ports[2]).not.toBe(standIn.ports[1]);
  });
});

describe('receive flow without a Lambda context (the local server)', () => {
  it('takes its deadline from the configured timeout: a queue that never answers gets a 503 within it', async () => {
    const { sqs } = localClients();
    const { queueUrl } = await createTestQueues(sqs);
    sqs.destroy();
    const proxy = await startSlowProxy(inject('sqsEndpoint'), ['hang']);
    closers.push(proxy.close);
    // The SDK's client, as the local server builds it, with its own time limit well past the configured one.
    const client = new SQSClient({
      ...localClientConfig(proxy.endpoint),
      maxAttempts: 1,
      requestHandler: { socketTimeout: 5_000 },
    });
    closers.push(async () => client.destroy());
    const handler = createReceiveHandler({
      queue: new EventQueue(sdkSendMessage(client), queueUrl),
      secrets: new StaticSigningSecrets({ sori: { current: SECRET } }),
      maxBodyBytes: 262_144,
      logger: memoryLogger().logger,
      timeoutMs: 2_000,
    });
    const body = soriBody('impression');
    const started = Date.now();
    const result = (await handler(
      webhookEvent({ body, headers: { 'x-sori-signature': hexSignature(body, SECRET) } }),
      {} as never,
    )) as APIGatewayProxyStructuredResultV2;
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(result.statusCode).toBe(503);
    expect(proxy.forwarded).toBe(0);
  });
});

describe("the receive function's other calls, against the deadline", () => {
  // A cut at the deadline may come this much late on a loaded machine; a call that ran to its own limit comes
  // later still.
  const LATE_AT_MOST = 700;

  it('S3: cuts a put that gets no answer at the deadline, and starts none once it has passed', async () => {
    const proxy = await startSlowProxy(inject('sqsEndpoint'), ['hang']);
    closers.push(proxy.close);
    const client = new S3Client({
      ...localClientConfig(proxy.endpoint),
      forcePathStyle: true,
      maxAttempts: 1,
      requestHandler: { socketTimeout: 5_000 },
    });
    closers.push(async () => client.destroy());
    const store = new S3RawStore(uniqueName('raw'), () => client);
    const deadline = Date.now() + 1_000;
    await expect(store.put('sori', Buffer.alloc(1_000, 'x'), deadline)).rejects.toThrow();
    expect(Date.now()).toBeLessThan(deadline + LATE_AT_MOST);
    expect(proxy.received).toBe(1);

    await expect(store.put('sori', Buffer.alloc(1_000, 'y'), Date.now() - 1)).rejects.toThrow();
    expect(proxy.received).toBe(1);
  });

  it('Secrets Manager: cuts a read that gets no answer at the deadline, before its own limit', async () => {
    const standIn = await startSecretsManagerStandIn(generatedSecretDocument());
    closers.push(standIn.close);
    standIn.delayMs = 10_000;
    const read = secretsManagerReadSecret(
      'us-east-1',
      { maxAttempts: 1, timeoutMs: 5_000, credentials: () => ({ accessKeyId: 'a', secretAccessKey: 'b' }) },
      { AWS_ENDPOINT_URL_SECRETS_MANAGER: standIn.endpoint },
    );
    const deadline = Date.now() + 1_000;
    await expect(read(standIn.arn, deadline)).rejects.toMatchObject({ name: 'AwsTimeoutError' });
    expect(Date.now()).toBeLessThan(deadline + LATE_AT_MOST);
  });
});
