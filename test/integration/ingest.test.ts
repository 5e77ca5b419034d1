/**
 * The ingest port: every batch stored through it, and its `onStored` listener told of the records a batch stored
 * for the first time, never of a duplicate. Against the local DynamoDB-API server.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import type { QueueMessage } from '../../lib/events/event-record';
import { createIngest, type StoredBatch } from '../../lib/ingest/ingest';
import { createLogger } from '../../lib/log';
import { DEFAULT_LAYOUT, itemKey } from '../../lib/table/records-table';
import { REACTIONS_DIR, REACTIONS_JOURNAL_FILE, Reactions, reactionListeners } from '../../local/reactions';
import { campaignDayImpressions, memoryLogger } from '../support/deliveries';
import { createTestTable, eventually, localClients } from '../support/local-aws';

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

describe('the reactions as listeners of the ingest port (local/reactions.ts)', () => {
  it('journals an intent before the write of an event the reaction is for, and runs the reaction for its first insert only', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb);
    const dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-ingest-'));
    const ran: string[] = [];
    const { reactions } = await Reactions.open({
      reaction: { run: (event) => void ran.push(event.id) },
      client: dynamodb,
      tableName,
      logger: createLogger('test', 'error'),
      dataDir,
    });
    const journal = join(dataDir, REACTIONS_DIR, REACTIONS_JOURNAL_FILE);
    const intents = () =>
      readFileSync(journal, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { t: string; r?: { id: string } })
        .filter((line) => line.t === 'i')
        .map((line) => line.r?.id);
    const listeners = reactionListeners(reactions, DEFAULT_LAYOUT);
    const journaledBeforeWrite: boolean[] = [];
    const ingest = createIngest({
      writer,
      counters,
      beforeWrite: async (message) => {
        await listeners.beforeWrite(message);
        // Before the write: beforeWrite runs before each record is written (the test above).
        journaledBeforeWrite.push(intents().includes(message.record.id));
      },
      onStored: (batch) => listeners.onStored(batch),
    });
    const [a, b] = campaignDayImpressions(2) as [QueueMessage, QueueMessage];
    try {
      await ingest.store([a, b, a]);
      await ingest.store([a, b]);

      expect(journaledBeforeWrite).toEqual([true, true, true, true, true]);
      await eventually(async () => (ran.length >= 2 ? true : undefined), 10_000, 'both reactions');
      // A moment more, for a reaction to a duplicate that would come late.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(ran.sort()).toEqual([a.record.id, b.record.id].sort());
    } finally {
      await reactions.close(Date.now() + 1_000);
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
