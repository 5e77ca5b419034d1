/**
 * The synthesized receive bundle against moto: its own Signature Version 4 client calling moto's Secrets Manager
 * and SQS, its S3 put of a large body, each call verified by moto and judged by the receive role's statements.
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INLINE_RAW_BYTES } from '../../lib/blobs/raw-store';
import type { QueueMessage } from '../../lib/events/event-record';
import { sori } from '../../lib/providers/sori';
import { SMALL_EVENT_MAX_BODY_BYTES } from '../../lib/providers/validation';
import { toAsciiJson } from '../../lib/queue/event-queue';
import { buildQueueMessage, MAX_QUEUE_MESSAGE_BYTES } from '../../lib/receive/build-queue-message';

import { hexSignature, soriPayload, webhookEvent } from '../support/deliveries';
import { invokeBundleWith } from './support/invoke';
import { moto } from './support/moto';
import type { SeenCall } from './support/proxy';
import { drain } from './support/queues';
import { type Deployment, deployToMoto } from './support/stack';

let stack: Deployment;
beforeAll(async () => {
  stack = await deployToMoto();
});
afterAll(() => stack?.close());

/** Letters outside ASCII (two, three and four bytes in UTF-8), controls, DEL, line separators, quotes. */
const HOSTILE = 'Été 🎉 한국어 \u0000\u0001\u001f\u007f\u0085\u2028\u2029 "q" \\ <x>';

type Answer = { statusCode: number; headers?: Record<string, string>; body: string };

/** Sends `body`, signed with the stack's SORI key, through the receive bundle; what the proxy saw with it. */
async function receive(body: string, env: Record<string, string> = {}) {
  const seen = stack.proxy.calls.length;
  const answer = (await invokeBundleWith(
    stack.functions.receive.file,
    stack.functions.receive.env(env),
    webhookEvent({ body, headers: { 'x-sori-signature': hexSignature(body, stack.soriKey) } }),
  )) as Answer;
  const calls = stack.proxy.calls.slice(seen);
  return { answer, calls, summary: calls.map((c) => [c.service, c.action, c.status, c.code, c.by]) };
}

/** Every call the receive bundle made was signed with its role's key and taken by moto. */
function takenByMoto(calls: SeenCall[]) {
  for (const call of calls) {
    expect(call).toMatchObject({
      accessKeyId: stack.functions.receive.key.accessKeyId,
      by: 'moto',
      status: 200,
    });
  }
}

/**
 * A click whose raw body is as close to the queue's 256 KiB as a body kept inline gets once escaped for the
 * queue: padded with characters that escaping takes from one or two bytes to six.
 */
function nearQueueLimit(): { body: string; bytes: number } {
  const base = {
    ...soriPayload('click'),
    activity_id: 'act_near_limit',
    campaign: { id: 'cmp_near', name: HOSTILE },
  };
  const receivedAt = new Date().toISOString();
  const sized = (n: number) => {
    const body = JSON.stringify({ ...base, padding: `${'é\u007f'.repeat(n)}${HOSTILE}` });
    const message = buildQueueMessage(sori, Buffer.from(body), receivedAt);
    return { body, bytes: toAsciiJson(message).length, inline: message.raw_encoding === 'utf8' };
  };
  let [low, high] = [0, INLINE_RAW_BYTES];
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    const { bytes, inline } = sized(mid);
    if (inline && bytes <= MAX_QUEUE_MESSAGE_BYTES) low = mid;
    else high = mid - 1;
  }
  return sized(low);
}

describe('the receive bundle against moto', () => {
  it('reads the signing secret and queues deliveries with unicode, controls and a message at the 256 KiB limit, each call verified by moto and arriving as sent', async () => {
    const near = nearQueueLimit();
    expect(near.bytes).toBeGreaterThan(MAX_QUEUE_MESSAGE_BYTES - 64);
    const hostile = JSON.stringify({
      ...soriPayload('click'),
      activity_id: 'act_hostile',
      campaign: { id: 'cmp_hostile', name: HOSTILE },
      material: { id: 'mat_hostile', name: HOSTILE },
      metadata: { note: HOSTILE, [HOSTILE]: HOSTILE },
    });
    const ids = new Map<string, string>();
    for (const body of [hostile, near.body]) {
      const { answer, calls, summary } = await receive(body);
      expect(summary).toEqual([
        ['secretsmanager', 'GetSecretValue', 200, undefined, 'moto'],
        ['sqs', 'SendMessage', 200, undefined, 'moto'],
      ]);
      expect(answer.statusCode).toBe(202);
      takenByMoto(calls);
      ids.set((JSON.parse(answer.body) as { id: string }).id, body);
    }

    const messages = await drain(stack.names.queueUrl);
    expect(messages).toHaveLength(2);
    for (const message of messages) {
      const body = message.Body ?? '';
      // Escaped to ASCII for the queue, and what moto stored is what the code builds for the delivery.
      expect(body).toMatch(/^[\x20-\x7e]*$/);
      expect(message.MD5OfBody).toBe(createHash('md5').update(body).digest('hex'));
      const queued = JSON.parse(body) as QueueMessage & { record: { id: string } };
      const sent = ids.get(queued.record.id) ?? '';
      expect(queued).toEqual(buildQueueMessage(sori, Buffer.from(sent), queued.record.received_at));
      expect(queued.raw).toBe(sent);
    }
    const sizes = messages.map((message) => (message.Body ?? '').length).sort((a, b) => a - b);
    expect(sizes[1]).toBe(near.bytes);
    expect(messages.map((m) => JSON.parse(m.Body ?? '').record.campaign_name)).toContain(HOSTILE);
  });

  it("puts a body over 96 KiB into moto's S3 under raw/<provider>/<sha256>, and queues the reference", async () => {
    const payload = {
      ...soriPayload('click'),
      activity_id: 'act_large',
      campaign: { id: 'cmp_large', name: HOSTILE },
    };
    const room = SMALL_EVENT_MAX_BODY_BYTES - Buffer.byteLength(JSON.stringify({ ...payload, padding: '' }));
    const body = JSON.stringify({ ...payload, padding: `${HOSTILE}${'x'.repeat(room - 1_000)}` });
    expect(Buffer.byteLength(body)).toBeGreaterThan(SMALL_EVENT_MAX_BODY_BYTES - 1_024);
    const { answer, calls, summary } = await receive(body);
    const key = `raw/sori/${createHash('sha256').update(body).digest('hex')}`;
    expect(summary).toEqual([
      ['secretsmanager', 'GetSecretValue', 200, undefined, 'moto'],
      ['s3', `PUT /${stack.names.bucket}/${key}?x-id=PutObject`, 200, undefined, 'moto'],
      ['sqs', 'SendMessage', 200, undefined, 'moto'],
    ]);
    expect(answer.statusCode).toBe(202);
    takenByMoto(calls);

    const [message, ...more] = await drain(stack.names.queueUrl);
    expect(more).toEqual([]);
    const queued = JSON.parse(message?.Body ?? '') as QueueMessage & { raw_ref?: string };
    expect(queued).toMatchObject({ kind: 'event', raw: '', raw_ref: `s3://${stack.names.bucket}/${key}` });
    const stored = await moto().s3.send(new GetObjectCommand({ Bucket: stack.names.bucket, Key: key }));
    expect(Buffer.from((await stored.Body?.transformToByteArray()) ?? [])).toEqual(Buffer.from(body));
  });

  it('answers 503 with Retry-After: 5 when moto refuses its key (a wrong secret key), and queues nothing', async () => {
    const body = JSON.stringify({ ...soriPayload('click'), activity_id: 'act_wrong_key' });
    const { answer, summary } = await receive(body, {
      AWS_SECRET_ACCESS_KEY: `${stack.functions.receive.key.secretAccessKey}x`,
    });
    expect(answer).toMatchObject({ statusCode: 503, headers: { 'retry-after': '5' } });
    expect(JSON.parse(answer.body)).toEqual({ message: 'Service Unavailable' });
    // The first read of the secret is refused by moto's signature check; without a secret nothing is queued.
    expect(summary).toEqual([['secretsmanager', 'GetSecretValue', 403, 'SignatureDoesNotMatch', 'moto']]);
    expect(await drain(stack.names.queueUrl)).toEqual([]);
  });
});
