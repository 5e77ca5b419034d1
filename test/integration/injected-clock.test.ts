/**
 * The write path's time comes from one injectable clock: the ingest stamps a batch with it and the repair ages
 * batches by it, so a test ages a batch by moving a fake clock, without waiting. The fake clock here runs an hour
 * behind the machine's: a part that read the machine's clock instead would take the batch for stale at once (the
 * repair) or stamp it an hour later than the clock says (the ingest).
 */
import { GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import type { QueueMessage } from '../../lib/events/event-record';
import { CampaignCounters } from '../../lib/ingest/campaign-counters';
import { createIngest } from '../../lib/ingest/ingest';
import { counterItemKey, type TableLayout } from '../../lib/table/records-table';
import { campaignDayImpressions } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';

const { dynamodb } = localClients();
const LAYOUT: TableLayout = { shards: 2, retentionDays: null };
const STALE_AFTER_MS = 60_000;

describe('the write path’s injected clock', () => {
  it('stamps a batch and ages it: a batch left open (its last write in doubt, as a killed consumer’s) is recounted once the fake clock passes its staleness, and not before, with no wait', async () => {
    const { tableName, writer } = await createTestTable(dynamodb, LAYOUT);
    let now = Date.now() - 3_600_000;
    const clock = () => now;
    const counters = new CampaignCounters(dynamodb, tableName, LAYOUT, STALE_AFTER_MS, 0, clock);
    const messages = campaignDayImpressions(3);
    const last = messages[2] as QueueMessage;
    const ingest = createIngest({
      writer,
      counters,
      clock,
      beforeWrite: async (message) => {
        if (message.record.id === last.record.id) throw new Error('connection reset');
      },
    });
    const stampedAt = now;
    const outcomes = await ingest.store(messages);
    expect(outcomes.map((outcome) => outcome.ok)).toEqual([true, true, false]);

    const { Items: journal = [] } = await dynamodb.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: 'STATS#BATCH' } },
        ConsistentRead: true,
      }),
    );
    expect(journal).toHaveLength(1);
    const token = journal[0]?.sk?.S ?? '';
    expect(Number.parseInt(token.split('_')[0] ?? '', 36)).toBe(stampedAt);
    expect(journal[0]?.tally).toBeUndefined();

    now += STALE_AFTER_MS - 1;
    expect(await counters.repair()).toMatchObject({ checked: 1, recounted: 0, folded: 0 });
    now += 1;
    expect(await counters.repair()).toMatchObject({ checked: 1, recounted: 1, folded: 1, failed: 0 });

    const { Item } = await dynamodb.send(
      new GetItemCommand({
        TableName: tableName,
        Key: counterItemKey({ provider: 'sori', campaignId: 'cmp_0', day: '2025-10-14' }),
        ConsistentRead: true,
      }),
    );
    expect(Item?.['n:campaign.impression']?.N).toBe('2');
    expect(Item?.devices?.N).toBe('2');
  });
});
