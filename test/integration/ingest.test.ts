/**
 * The ingest port: every batch stored through it, and its `onStored` listener told of the records a batch stored
 * for the first time, never of a duplicate. Against the local DynamoDB-API server.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import type { QueueMessage } from '../../lib/events/event-record';
import { createIngest, type StoredBatch } from '../../lib/ingest/ingest';
import { DEFAULT_LAYOUT, itemKey } from '../../lib/table/records-table';
import { campaignDayImpressions, memoryLogger } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';

const { dynamodb } = localClients();

const idsOf = (batch: StoredBatch) => batch.inserted.map(({ message }) => message.record.id);

/** `true` when the item storing `message` is in the table. */
async function isStored(tableName: string, message: QueueMessage) {
  const { pk, sk } = itemKey(message, DEFAULT_LAYOUT);
  const { Item } = await dynamodb.send(
    new GetItemCommand({ TableName: tableName, Key: { pk: { S: pk }, sk: { S: sk } }, ConsistentRead: true }),
  );
  return Item !== undefined;
}

describe('createIngest', () => {
  it('tells onStored of each record a batch stores for the first time, and never of a duplicate delivery, in the batch or later', async () => {
    const { writer, counters } = await createTestTable(dynamodb);
    const heard: StoredBatch[] = [];
    const ingest = createIngest({ writer, counters, onStored: (batch) => void heard.push(batch) });
    const [a, b, c] = campaignDayImpressions(3) as [QueueMessage, QueueMessage, QueueMessage];

    // `a` delivered twice in one batch, then `b` again beside a new `c`.
    const first = await ingest.store([a, b, a]);
    const second = await ingest.store([b, c]);

    expect(first.every((outcome) => outcome.ok)).toBe(true);
    expect(second).toEqual([
      { ok: true, outcome: 'duplicate' },
      { ok: true, outcome: 'stored' },
    ]);
    expect(heard).toHaveLength(2);
    const [one, two] = heard as [StoredBatch, StoredBatch];
    expect(idsOf(one).sort()).toEqual([a.record.id, b.record.id].sort());
    expect(idsOf(two)).toEqual([c.record.id]);
    // The listener hears what each message's write answered, and the batch's outcomes as returned.
    expect([...one.writes].sort()).toEqual(['duplicate', 'stored', 'stored']);
    expect(two.writes).toEqual(['duplicate', 'stored']);
    expect(two.outcomes).toEqual(second);
    expect(two.inserted).toEqual([{ index: 1, message: two.messages[1] }]);
    expect(two.messages[1]?.record).toEqual(c.record);
  });

  it('runs beforeWrite before each record is written, and a throw of it fails that message alone, nothing of it written', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb);
    const [kept, refused] = campaignDayImpressions(2) as [QueueMessage, QueueMessage];
    const presentBefore: boolean[] = [];
    const heard: StoredBatch[] = [];
    const ingest = createIngest({
      writer,
      counters,
      beforeWrite: async (message) => {
        presentBefore.push(await isStored(tableName, message));
        if (message.record.id === refused.record.id) throw new Error('the intent could not be noted');
      },
      onStored: (batch) => void heard.push(batch),
    });

    const outcomes = await ingest.store([kept, refused]);

    expect(presentBefore).toEqual([false, false]);
    expect(outcomes[0]).toEqual({ ok: true, outcome: 'stored' });
    expect(outcomes[1]).toMatchObject({ ok: false, error: new Error('the intent could not be noted') });
    expect(await isStored(tableName, refused)).toBe(false);
    expect(heard.map(idsOf)).toEqual([[kept.record.id]]);
    expect(heard[0]?.writes).toEqual(['stored', undefined]);
    // Retried, the refused message is a first insert then.
    expect(await createIngest({ writer, counters }).store([refused])).toEqual([
      { ok: true, outcome: 'stored' },
    ]);
  });

  it('keeps the outcomes of a batch whose onStored listener throws, and logs the throw', async () => {
    const { writer, counters } = await createTestTable(dynamodb);
    const { lines, logger } = memoryLogger();
    const ingest = createIngest({
      writer,
      counters,
      logger,
      onStored: () => {
        throw new Error('the listener broke');
      },
    });

    const outcomes = await ingest.store(campaignDayImpressions(2));

    expect(outcomes).toEqual([
      { ok: true, outcome: 'stored' },
      { ok: true, outcome: 'stored' },
    ]);
    expect(lines.some((line) => line.includes('the listener broke'))).toBe(true);
  });
});
