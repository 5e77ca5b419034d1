import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProcessWebhook } from '../../functions/process-webhook/process-webhook';
import { createReceiveHandler } from '../../functions/receive-webhook/receive-webhook';
import { DEFAULT_MAX_BODY_BYTES } from '../../lib/config';
import type { QueueMessage } from '../../lib/events/event-record';
import { adreform } from '../../lib/providers/adreform';
import type { Provider } from '../../lib/providers/provider';
import { sori } from '../../lib/providers/sori';
import { symphony } from '../../lib/providers/symphony';
import { MAX_REASON_LENGTH } from '../../lib/providers/validation';
import { EventQueue } from '../../lib/queue/event-queue';
import { sdkSendMessage } from '../../lib/queue/sdk-send-message';
import { StaticSigningSecrets } from '../../lib/signature/signing-secrets';
import { itemBytes } from '../../lib/table/item-size';
import { DEFAULT_LAYOUT, fromEventItem, itemKey, rawBytesOf } from '../../lib/table/records-table';
import { FileRawStore } from '../../local/file-raw-store';
import { hexSignature, memoryLogger, soriPayload, webhookEvent } from '../support/deliveries';
import {
  filler,
  fixture,
  largestValueBytes,
  MIB,
  PROVIDER_FIELDS,
  quotes,
  withValue,
} from '../support/hostile-values';
import { createTestTable, localClients, takeMessages, uniqueName } from '../support/local-aws';

// The receive function as deployed, with a real SQS-API queue that takes 256 KiB per message (SQS's limit
// before 1 MiB, and what a queue may still be set to), then the process function against a real DynamoDB-API
// table, which refuses any item over 400 KB.

const SECRET = 'sk_hostile_values';
const TOKENS: Record<string, string> = {
  symphony: 'tok_symphony_hostile_0123456789',
  adreform: 'tok_adreform_hostile_0123456789',
  optimizely: 'tok_optimizely_hostile_012345678',
};
const MAX_ITEM_BYTES = 400 * 1024;

const { sqs, dynamodb } = localClients();
let rawDir: string;
let queueUrl: string;
let table: Awaited<ReturnType<typeof createTestTable>>;
let receive: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;
let process: ReturnType<typeof createProcessWebhook>;

beforeAll(async () => {
  rawDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-hostile-'));
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: uniqueName('events-256k'),
      Attributes: { MaximumMessageSize: '262144' },
    }),
  );
  queueUrl = queue.QueueUrl ?? '';
  table = await createTestTable(dynamodb);
  const handler = createReceiveHandler({
    queue: new EventQueue(sdkSendMessage(sqs), queueUrl),
    secrets: new StaticSigningSecrets({
      sori: { current: SECRET, previous: null },
      ...Object.fromEntries(Object.entries(TOKENS).map(([name, token]) => [name, { url_token: token }])),
    }),
    maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
    rawStore: new FileRawStore(rawDir),
    logger: memoryLogger().logger,
  });
  receive = (event) => handler(event, {} as never) as Promise<APIGatewayProxyStructuredResultV2>;
  process = createProcessWebhook({
    writer: table.writer,
    counters: table.counters,
    logger: memoryLogger().logger,
  });
});

afterAll(async () => {
  await rm(rawDir, { recursive: true, force: true });
});

/** Delivers one body as its provider would, and has the process function store what was enqueued. */
async function deliver(provider: Provider, body: string) {
  const event = webhookEvent({
    body,
    provider: provider.name,
    headers: provider.name === 'sori' ? { 'x-sori-signature': hexSignature(body, SECRET) } : {},
  });
  if (provider.name !== 'sori')
    event.pathParameters = { provider: provider.name, token: TOKENS[provider.name] };
  const result = await receive(event);
  const answer = JSON.parse(result.body ?? '{}') as { status?: string; id?: string; reason?: string };
  const bodies = await takeMessages(sqs, queueUrl);
  const messages = bodies.map((text) => JSON.parse(text) as QueueMessage);
  const records = bodies.map((body, i) => ({ messageId: `m${i}`, body }));
  const { batchItemFailures } = await process({ Records: records } as SQSEvent);
  const stored = await Promise.all(
    messages.map(async (message) => {
      const { Item } = await dynamodb.send(
        new GetItemCommand({
          TableName: table.tableName,
          Key: Object.fromEntries(
            Object.entries(itemKey(message, DEFAULT_LAYOUT)).map(([name, value]) => [name, { S: value }]),
          ),
        }),
      );
      return Item;
    }),
  );
  return { status: result.statusCode, answer, messages, batchItemFailures, stored };
}

describe.each(PROVIDER_FIELDS)('$provider.name $example', ({ provider, payload, paths }) => {
  const bytes = largestValueBytes(provider);
  it.each(paths)(
    `answers 202 to the largest value its body limit allows at %s, and stores it once within 400 KB with a short reason`,
    async (path) => {
      const body = JSON.stringify(withValue(payload, path, filler(bytes)));
      const delivered = await deliver(provider, body);
      expect(delivered.status).toBe(202);
      expect(delivered.messages).toHaveLength(1);
      expect(delivered.batchItemFailures).toEqual([]);
      const item = delivered.stored[0];
      expect(item?.id?.S).toBe(delivered.answer.id);
      expect(itemBytes(item ?? {})).toBeLessThan(MAX_ITEM_BYTES);
      if (delivered.answer.status === 'quarantined') {
        const reason = delivered.answer.reason ?? '';
        expect(reason.length).toBeLessThanOrEqual(MAX_REASON_LENGTH);
        expect(quotes(reason)).toBe(false);
        expect(item?.reason?.S).toBe(reason);
      }
    },
  );
});

describe("Ad Reform's `type` of half a megabyte and more", () => {
  it.each([
    ['0.5 MiB', MIB / 2],
    ['1.2 MiB', 1.2 * MIB],
  ])(
    'is quarantined once with a reason naming the rule (%s), its raw body kept by reference',
    async (_, size) => {
      const body = JSON.stringify({
        ...fixture('adreform', 'screenshot-set-approved'),
        type: filler(Math.floor(size)),
      });
      const delivered = await deliver(adreform, body);
      expect(delivered.status).toBe(202);
      expect(delivered.answer).toMatchObject({
        status: 'quarantined',
        reason: 'invalid Ad Reform event: type: expected "event", received a string',
      });
      const item = delivered.stored[0];
      expect(item?.kind?.S).toBe('quarantine');
      expect(itemBytes(item ?? {})).toBeLessThan(MAX_ITEM_BYTES);
      const ref = item?.raw_ref?.S ?? '';
      expect(await readFile(join(rawDir, ref.slice('file://'.length)), 'utf8')).toBe(body);
    },
  );
});

describe('a body just within the inline limit whose text escapes sixfold for the queue', () => {
  it('is accepted and stored, its raw bytes exact', async () => {
    // 'é' is two bytes in the body and six (`\u00e9`) in the queue's ASCII JSON: 94 KB of it would be 282 KB.
    const body = JSON.stringify({
      ...soriPayload('impression'),
      activity_id: 'act_escaped',
      campaign: { id: 'cmp_escaped', name: filler(47_000, 'é') },
    });
    const delivered = await deliver(sori, body);
    expect(delivered.status).toBe(202);
    expect(delivered.answer.status).toBe('accepted');
    expect(delivered.batchItemFailures).toEqual([]);
    expect(rawBytesOf(delivered.stored[0] ?? {})?.toString('utf8')).toBe(body);
  });
});

let deliveries = 0;

describe.each(PROVIDER_FIELDS)(
  '$provider.name $example, structural values',
  ({ provider, payload, paths, id }) => {
    it.each(paths)(
      'stores __proto__, constructor and a unit separator at %s as data, as normalized',
      async (path) => {
        for (const value of ['__proto__', 'constructor', 'a\u001fb']) {
          // Each its own event, so that what is stored is what this delivery normalized, not a duplicate's.
          const distinct =
            id && id.path !== path ? withValue(payload, id.path, id.value(++deliveries)) : payload;
          const delivered = await deliver(provider, JSON.stringify(withValue(distinct, path, value)));
          expect(delivered.status).toBe(202);
          expect(delivered.batchItemFailures).toEqual([]);
          const [message] = delivered.messages;
          const item = delivered.stored[0];
          expect(item?.id?.S).toBe(message?.record.id);
          if (message?.kind === 'event') expect(fromEventItem(item ?? {})).toEqual(message.record);
        }
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      },
    );
  },
);

describe('free-form metadata with members named like structure', () => {
  it.each([
    ['sori', 'impression', sori],
    ['symphony', 'campaign-updated', symphony],
  ] as const)('of %s is stored with every member', async (name, example, provider) => {
    const members = ['__proto__', 'constructor', 'prototype', 'toString'].map(
      (m) => `"${m}":{"polluted":true}`,
    );
    const event = { ...fixture(name, example), activity_id: 'act_structural_metadata', metadata: { x: 1 } };
    const body = JSON.stringify(event).replace(
      '"metadata":{"x":1}',
      `"metadata":{${members.join(',')},"a\\u001fb":1}`,
    );
    const delivered = await deliver(provider, body);
    expect(delivered.answer.status).toBe('accepted');
    expect(delivered.batchItemFailures).toEqual([]);
    const stored = fromEventItem(delivered.stored[0] ?? {}).metadata as Record<string, unknown>;
    const metadata = (provider === symphony ? stored.metadata : stored) as Record<string, unknown>;
    expect(Object.keys(metadata).sort()).toEqual([
      '__proto__',
      'a\u001fb',
      'constructor',
      'prototype',
      'toString',
    ]);
    expect(Object.getOwnPropertyDescriptor(metadata, '__proto__')?.value).toEqual({ polluted: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
