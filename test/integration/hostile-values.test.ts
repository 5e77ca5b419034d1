import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReceiveHandler } from '../../functions/receive-webhook/receive-webhook';
import { FileRawStore } from '../../lib/blobs/raw-store';
import { DEFAULT_MAX_BODY_BYTES } from '../../lib/config';
import type { QueueMessage } from '../../lib/events/event-record';
import { storeBatch } from '../../lib/ingest/store-batch';
import { adreform } from '../../lib/providers/adreform';
import type { Provider } from '../../lib/providers/provider';
import { sori } from '../../lib/providers/sori';
import { MAX_REASON_LENGTH } from '../../lib/providers/validation';
import { EventQueue } from '../../lib/queue/event-queue';
import { sdkSendMessage } from '../../lib/queue/sdk-send-message';
import { StaticSigningSecrets } from '../../lib/signature/signing-secrets';
import { itemBytes } from '../../lib/table/item-size';
import { DEFAULT_LAYOUT, itemKey, rawBytesOf } from '../../lib/table/records-table';
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
// before 1 MiB, and what a queue may still be set to), then the batch store against a real DynamoDB-API table,
// which refuses any item over 400 KB.

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
});

afterAll(async () => {
  await rm(rawDir, { recursive: true, force: true });
});

/** Delivers one body as its provider would, and stores what was enqueued as the process function does. */
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
  const messages = (await takeMessages(sqs, queueUrl)).map((text) => JSON.parse(text) as QueueMessage);
  const outcomes = await storeBatch(table.writer, table.counters, messages);
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
  return { status: result.statusCode, answer, messages, outcomes, stored };
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
      expect(delivered.outcomes).toEqual([{ ok: true, outcome: expect.any(String) }]);
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
    expect(delivered.outcomes).toEqual([{ ok: true, outcome: 'stored' }]);
    expect(rawBytesOf(delivered.stored[0] ?? {})?.toString('utf8')).toBe(body);
  });
});
