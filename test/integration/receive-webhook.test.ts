import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { createReceiveHandler } from '../../functions/receive-webhook/receive-webhook';
import type { QueueMessage } from '../../lib/events/event-record';
import { EventQueue } from '../../lib/queue/event-queue';
import { sdkSendMessage } from '../../lib/queue/sdk-send-message';
import { StaticSigningSecrets } from '../../lib/signature/signing-secrets';
import { signBody } from '../../lib/signature/verify-signature';
import { localClientConfig } from '../../local/local-stack';
import { hexSignature, memoryLogger, SORI_FIXTURES, soriBody, webhookEvent } from '../support/deliveries';
import { createTestQueues, localClients, takeMessages } from '../support/local-aws';

const SECRET = 'sk_current_0123456789';
const PREVIOUS = 'sk_previous_0123456789';
const { sqs } = localClients();
let queueUrl: string;
let receive: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

function handlerFor(url: string, maxBodyBytes = 262_144, client = sqs) {
  const handler = createReceiveHandler({
    queue: new EventQueue(sdkSendMessage(client), url),
    secrets: new StaticSigningSecrets({ sori: { current: SECRET, previous: PREVIOUS } }),
    maxBodyBytes,
    logger: memoryLogger().logger,
  });
  return (event: APIGatewayProxyEventV2) =>
    handler(event, {} as never) as Promise<APIGatewayProxyStructuredResultV2>;
}

const signed = (body: string, secret = SECRET, extra: Record<string, string> = {}) =>
  webhookEvent({ body, headers: { 'x-sori-signature': hexSignature(body, secret), ...extra } });

const parsed = (result: APIGatewayProxyStructuredResultV2) => JSON.parse(result.body ?? '');
const queued = async () =>
  (await takeMessages(sqs, queueUrl)).map((body) => JSON.parse(body) as QueueMessage);

beforeAll(async () => {
  ({ queueUrl } = await createTestQueues(sqs));
  receive = handlerFor(queueUrl);
});

describe('receive webhook: authentic SORI deliveries', () => {
  it.each(SORI_FIXTURES)(
    'accepts the seed %s with 202 and enqueues one message with the record and raw body',
    async (name) => {
      const body = soriBody(name);
      const result = await receive(signed(body));
      expect(result.statusCode).toBe(202);
      const answer = parsed(result);
      expect(answer).toEqual({ status: 'accepted', id: expect.stringMatching(/^sori_[0-9a-f]{32}$/) });
      const messages = await queued();
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatchObject({
        v: 2,
        policy: { keyed_by_id: false, counted: expect.any(Boolean), state: null },
        kind: 'event',
        raw: body,
        raw_encoding: 'utf8',
        record: { id: answer.id },
      });
    },
  );

  it('verifies a base64-encoded body (isBase64Encoded) over its decoded bytes', async () => {
    const body = soriBody('click');
    const event = webhookEvent({
      body,
      base64: true,
      headers: { 'x-sori-signature': hexSignature(body, SECRET) },
    });
    const result = await receive(event);
    expect(result.statusCode).toBe(202);
    expect((await queued())[0]?.raw).toBe(body);
  });

  it.each([
    ['base64', (body: string) => signBody(body, SECRET).toString('base64')],
    ['sha256= prefixed hex', (body: string) => `sha256=${hexSignature(body, SECRET)}`],
    ['the previous secret', (body: string) => hexSignature(body, PREVIOUS)],
  ])('accepts a signature in %s', async (_, sign) => {
    const body = soriBody('impression');
    const result = await receive(webhookEvent({ body, headers: { 'x-sori-signature': sign(body) } }));
    expect(result.statusCode).toBe(202);
    await queued();
  });

  it('finds the signature header whatever its case', async () => {
    const body = soriBody('impression');
    const result = await receive(
      webhookEvent({ body, headers: { 'X-Sori-Signature': hexSignature(body, SECRET) } }),
    );
    expect(result.statusCode).toBe(202);
    await queued();
  });

  it('quarantines a signed but unknown event: 202 "quarantined" with the reason, and enqueued', async () => {
    const body = JSON.stringify({
      event: 'campaign.share',
      account_id: 'acc_123456',
      created_at: '2025-10-14T05:25:12.421Z',
    });
    const result = await receive(signed(body));
    expect(result.statusCode).toBe(202);
    expect(parsed(result)).toEqual({
      status: 'quarantined',
      id: expect.stringMatching(/^sori_q_/),
      reason: 'unknown event "campaign.share"',
    });
    expect(await queued()).toMatchObject([
      { kind: 'quarantine', raw: body, record: { reason: 'unknown event "campaign.share"' } },
    ]);
  });

  it.each([
    ['invalid JSON', '{"event":'],
    ['a JSON array', '[]'],
    ['a schema mismatch', JSON.stringify({ event: 'campaign.click', account_id: 'acc_1' })],
    ['an empty body', ''],
  ])('quarantines %s that is signed', async (_, body) => {
    const result = await receive(signed(body));
    expect(result.statusCode).toBe(202);
    expect(parsed(result).status).toBe('quarantined');
    expect(await queued()).toHaveLength(1);
  });
});

describe('receive webhook: refusals', () => {
  const body = soriBody('impression');

  it.each([
    ['no signature', {}],
    ['an empty signature', { 'x-sori-signature': '' }],
    ['a garbage signature', { 'x-sori-signature': 'garbage' }],
    ['another secret', { 'x-sori-signature': hexSignature(body, 'not-the-secret') }],
    ['the signature of another body', { 'x-sori-signature': hexSignature(soriBody('click'), SECRET) }],
  ])('answers 401 with no reason for %s, and enqueues nothing', async (_, headers) => {
    const result = await receive(webhookEvent({ body, headers }));
    expect(result.statusCode).toBe(401);
    expect(parsed(result)).toEqual({ message: 'Unauthorized' });
    expect(await queued()).toEqual([]);
  });

  it('answers 404 for an unknown provider', async () => {
    const result = await receive(
      webhookEvent({ body, provider: 'acme', headers: { 'x-sori-signature': hexSignature(body, SECRET) } }),
    );
    expect(result.statusCode).toBe(404);
    expect(parsed(result)).toEqual({ message: 'Not Found' });
  });

  it.each(['GET', 'PUT', 'DELETE'])('answers 405 with Allow: POST for %s', async (method) => {
    const result = await receive(webhookEvent({ method }));
    expect(result.statusCode).toBe(405);
    expect(result.headers).toMatchObject({ allow: 'POST' });
  });

  it('answers 413 for a body over the configured limit, before looking at the signature', async () => {
    const small = handlerFor(queueUrl, 1024);
    const big = JSON.stringify({ ...JSON.parse(body), padding: 'x'.repeat(2000) });
    expect((await small(signed(big))).statusCode).toBe(413);
    expect((await small(webhookEvent({ body: big }))).statusCode).toBe(413);
    expect((await small(webhookEvent({ body: big, base64: true }))).statusCode).toBe(413);
    expect((await small(signed(body))).statusCode).toBe(202);
    expect(await queued()).toHaveLength(1);
  });

  it('answers 413, and enqueues nothing, for a body within the limit that no queue message can carry when there is no raw store', async () => {
    const roomy = handlerFor(queueUrl, 1024 * 1024);
    // 200 KiB of UTF-8 within SORI's 256 KiB: each 'é' takes six bytes once escaped for the queue.
    const big = JSON.stringify({ ...JSON.parse(body), padding: 'é'.repeat(100 * 1024) });
    expect((await roomy(signed(big))).statusCode).toBe(413);
    expect(await queued()).toEqual([]);
  });

  it('answers 413 for a body over the configured limit whichever provider it is for, Ad Reform included', async () => {
    const token = 'tok_adreform_0123456789abcdef';
    const adreform = (maxBodyBytes: number) => {
      const handler = createReceiveHandler({
        queue: new EventQueue(sdkSendMessage(sqs), queueUrl),
        secrets: new StaticSigningSecrets({ adreform: { url_token: token } }),
        maxBodyBytes,
        logger: memoryLogger().logger,
      });
      return (body: string) =>
        handler(
          {
            ...webhookEvent({ body, provider: 'adreform' }),
            routeKey: 'ANY /webhooks/{provider}/{token}',
            pathParameters: { provider: 'adreform', token },
          },
          {} as never,
        ) as Promise<APIGatewayProxyStructuredResultV2>;
    };
    const fixture = readFileSync(
      join(import.meta.dirname, '../../examples/payloads/adreform/screenshot-set-approved.json'),
      'utf8',
    );
    expect(Buffer.byteLength(fixture)).toBeGreaterThan(1024);
    expect((await adreform(1024)(fixture)).statusCode).toBe(413);
    expect(await queued()).toEqual([]);
    expect((await adreform(262_144)(fixture)).statusCode).toBe(202);
    expect(await queued()).toHaveLength(1);
  });

  it("answers 413 above a provider's own lower limit though the configured one is higher", async () => {
    const generous = handlerFor(queueUrl, 4 * 1024 * 1024);
    const over = JSON.stringify({ ...JSON.parse(body), padding: 'x'.repeat(262_144) });
    expect((await generous(signed(over))).statusCode).toBe(413);
    expect((await generous(signed(body))).statusCode).toBe(202);
    expect(await queued()).toHaveLength(1);
  });

  it('answers 503 with Retry-After when the queue refuses the connection, and the retry is enqueued once', async () => {
    // A real connection refused: nothing listens on port 9 of the loopback. The 503 tells SORI to retry.
    const down = new SQSClient({ ...localClientConfig('http://127.0.0.1:9'), maxAttempts: 2 });
    const result = await handlerFor(queueUrl, 262_144, down)(signed(body));
    expect(result.statusCode).toBe(503);
    expect(result.headers).toMatchObject({ 'retry-after': '5' });
    expect(parsed(result)).toEqual({ message: 'Service Unavailable' });
    const retry = await receive(signed(body));
    expect(retry.statusCode).toBe(202);
    expect((await queued()).map((message) => message.record.id)).toEqual([parsed(retry).id]);
  });
});

describe('receive webhook: the URL-token route (accounts without app_id/secret_key)', () => {
  const body = soriBody('impression');
  const tokenEvent = (token: string) => ({
    ...webhookEvent({ body }),
    routeKey: 'ANY /webhooks/{provider}/{token}',
    pathParameters: { provider: 'sori', token },
  });
  const handlerWith = (allowUnsigned: boolean, urlToken: string | undefined) => {
    const handler = createReceiveHandler({
      queue: new EventQueue(sdkSendMessage(sqs), queueUrl),
      secrets: new StaticSigningSecrets({
        sori: { current: SECRET, ...(urlToken ? { url_token: urlToken } : {}) },
      }),
      maxBodyBytes: 262_144,
      allowUnsigned,
      logger: memoryLogger().logger,
    });
    return (event: APIGatewayProxyEventV2) =>
      handler(event, {} as never) as Promise<APIGatewayProxyStructuredResultV2>;
  };

  it("is off by default: the segment is then read as an app's name, and an app it does not know answers as a wrong signature does (401)", async () => {
    expect((await handlerWith(false, 'tok_secret')(tokenEvent('tok_secret'))).statusCode).toBe(401);
  });

  it('accepts an unsigned delivery with the right token', async () => {
    const result = await handlerWith(true, 'tok_secret')(tokenEvent('tok_secret'));
    expect(result.statusCode).toBe(202);
    expect(await queued()).toHaveLength(1);
  });

  it.each([
    ['a wrong token', 'tok_secreT', 'tok_secret'],
    ['a token prefix', 'tok_', 'tok_secret'],
    ['no token configured', 'anything', undefined],
  ])('answers 401 for %s', async (_, given, configured) => {
    expect((await handlerWith(true, configured)(tokenEvent(given))).statusCode).toBe(401);
    expect(await queued()).toEqual([]);
  });
});
