/**
 * The local stack's delivery health: refusals the local API Gateway answered since the stack started, per
 * provider served, the local DLQ's messages and the oldest message's age in the local events queue, read through
 * `/api/dashboard` and from `LocalPipelineHealth` on the run's SQS server.
 */
import { randomUUID } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { providerNames } from '../../lib/providers';
import { LocalPipelineHealth, RefusalCounts } from '../../local/activity';
import { type LocalStack, startLocalStack } from '../../local/local-stack';
import { hexSignature, memoryLogger, soriBody } from '../support/deliveries';
import { createTestQueues, localClients } from '../support/local-aws';

const SECRET = 'sk_local_delivery_health_0123';
const TOKEN = 'tok_local_delivery_health_0123456789';
const today = () => new Date().toISOString().slice(0, 10);

describe('delivery health of the local stack, through /api/dashboard', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startLocalStack({
      port: 0,
      secret: SECRET,
      urlTokens: { symphony: TOKEN },
      maxBodyBytes: 4_096,
      logger: memoryLogger().logger,
    });
  });
  afterAll(() => stack?.stop());

  /** The dead letters the dashboard counts now (the stack's DLQ is shared by this file's tests, in any order). */
  const deadLetters = async () => {
    const answer = await fetch(`http://127.0.0.1:${stack.port}/api/dashboard?day=${today()}`);
    return ((await answer.json()) as { delivery: { dead_letters: number | null } }).delivery.dead_letters;
  };

  it('counts each refusal since the start, per provider served: 401 and 413 for sori, 401 for symphony; a made-up name and a GET in the total only', async () => {
    const base = `http://127.0.0.1:${stack.port}`;
    const deadBefore = await deadLetters();
    const click = soriBody('click');
    const statuses: number[] = [];
    const send = async (path: string, init: RequestInit) => {
      const response = await fetch(`${base}${path}`, init);
      await response.arrayBuffer();
      statuses.push(response.status);
    };
    const json = { 'content-type': 'application/json' };
    await send('/webhooks/sori', {
      method: 'POST',
      headers: { ...json, 'x-sori-signature': hexSignature(click, 'sk_wrong_0123456789') },
      body: click,
    });
    await send('/webhooks/sori', { method: 'POST', headers: json, body: 'x'.repeat(5_000) });
    await send('/webhooks/symphony/tok_wrong_0123456789', { method: 'POST', headers: json, body: '{}' });
    const segment = `made-up-${randomUUID()}`;
    await send(`/webhooks/${segment}`, { method: 'POST', headers: json, body: '{}' });
    await send('/webhooks/sori', { method: 'GET' });
    // An accepted delivery is no refusal.
    await send('/webhooks/sori', {
      method: 'POST',
      headers: { ...json, 'x-sori-signature': hexSignature(click, SECRET) },
      body: click,
    });
    expect(statuses).toEqual([401, 413, 401, 404, 405, 202]);

    const dashboard = (await (await fetch(`${base}/api/dashboard?from=${today()}&to=${today()}`)).json()) as {
      delivery: {
        refused: number | null;
        dead_letters: number | null;
        oldest_message_age_s: number | null;
        by_provider: { provider: string; refused: number | null }[];
      };
    };
    expect(dashboard.delivery.refused).toBe(5);
    const refusedOf = (provider: string) =>
      dashboard.delivery.by_provider.find((row) => row.provider === provider)?.refused;
    expect(refusedOf('sori')).toBe(2);
    expect(refusedOf('symphony')).toBe(1);
    expect(refusedOf('adreform')).toBe(0);
    expect(JSON.stringify(dashboard)).not.toContain(segment);
    // Nothing failed into the DLQ; the queue's age is known (0 once it is empty).
    expect(dashboard.delivery.dead_letters).toBe(deadBefore);
    expect(typeof dashboard.delivery.oldest_message_age_s).toBe('number');
  });

  it('counts the messages in the local DLQ now', async () => {
    const before = await deadLetters();
    expect(typeof before).toBe('number');
    for (const i of [1, 2]) {
      await stack.sqs.send(new SendMessageCommand({ QueueUrl: stack.dlqUrl, MessageBody: `{"dead":${i}}` }));
    }
    expect(await deadLetters()).toBe((before ?? 0) + 2);
  });
});

describe('LocalPipelineHealth', () => {
  it('gives the oldest message’s age from when the SQS server says it was sent, 0 for an empty queue, and null when the server cannot say', async () => {
    const { sqs } = localClients();
    const { queueUrl, dlqUrl } = await createTestQueues(sqs);
    let clock = Date.now();
    const health = (sqsEndpoint?: string) =>
      new LocalPipelineHealth({
        refusals: new RefusalCounts(),
        sqs,
        queueUrl,
        dlqUrl,
        ...(sqsEndpoint ? { sqsEndpoint } : {}),
        now: () => clock,
      });
    const endpoint = inject('sqsEndpoint');
    expect((await health(endpoint).read(today(), today())).oldest_message_age_s).toBe(0);
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: '{"waiting":true}' }));
    clock = Date.now() + 90_000;
    const age = (await health(endpoint).read(today(), today())).oldest_message_age_s;
    expect(age).toBeGreaterThanOrEqual(90);
    expect(age).toBeLessThan(90 + 600);
    expect((await health().read(today(), today())).oldest_message_age_s).toBeNull();
    // A server that does not answer the inspection: unknown, not 0.
    expect((await health('http://127.0.0.1:9').read(today(), today())).oldest_message_age_s).toBeNull();
  });

  it('sums refusals over the range’s UTC days only, listing every provider served', () => {
    let clock = Date.parse('2026-03-01T23:59:00Z');
    const counts = new RefusalCounts(() => clock);
    counts.note('sori');
    counts.note(undefined);
    clock = Date.parse('2026-03-02T00:01:00Z');
    counts.note('sori');
    counts.note('symphony');
    const zero = Object.fromEntries(providerNames().map((provider) => [provider, 0]));
    expect(counts.over('2026-03-01', '2026-03-01', providerNames())).toEqual({
      total: 2,
      by_provider: { ...zero, sori: 1 },
    });
    expect(counts.over('2026-03-02', '2026-03-02', providerNames())).toEqual({
      total: 2,
      by_provider: { ...zero, sori: 1, symphony: 1 },
    });
    expect(counts.over('2026-03-01', '2026-03-02', providerNames()).total).toBe(4);
    expect(counts.over('2026-02-01', '2026-02-28', providerNames())).toEqual({ total: 0, by_provider: zero });
  });
});
