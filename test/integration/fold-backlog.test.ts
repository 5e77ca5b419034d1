import { BatchWriteItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { CampaignCounters, newClaimToken } from '../../lib/ingest/campaign-counters';
import { storeBatch } from '../../lib/ingest/store-batch';
import { CampaignStats } from '../../lib/queries/campaign-stats';
import { openBatchItem } from '../../lib/table/counter-items';
import type { TableLayout } from '../../lib/table/records-table';
import { campaignDayImpressions } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';

const { dynamodb } = localClients();
const LAYOUT: TableLayout = { shards: 2, retentionDays: 365 };
const key = { provider: 'sori', campaignId: 'cmp_0', day: '2025-10-14' };

const impressions = campaignDayImpressions;

/** `count` closed journal entries of batches begun over the last `spanMs`, each of which stored nothing new. */
async function journalBacklog(tableName: string, count: number, spanMs: number) {
  const now = Date.now();
  const items = Array.from({ length: count }, (_, i) => ({
    ...openBatchItem(newClaimToken(now - spanMs + Math.floor((i * spanMs) / count)), [{ key, name: null }]),
    tally: { S: JSON.stringify([[], [0]]) },
  }));
  const chunks = [];
  for (let i = 0; i < items.length; i += 25) chunks.push(items.slice(i, i + 25));
  for (let i = 0; i < chunks.length; i += 4) {
    await Promise.all(
      chunks.slice(i, i + 4).map(async (chunk) => {
        let pending = chunk.map((Item) => ({ PutRequest: { Item } }));
        while (pending.length > 0) {
          const { UnprocessedItems } = await dynamodb.send(
            new BatchWriteItemCommand({ RequestItems: { [tableName]: pending } }),
          );
          pending = (UnprocessedItems?.[tableName] ?? []) as typeof pending;
        }
      }),
    );
  }
}

describe('the repair after a backlog', () => {
  it('folds a batch stored after 17,000 journal entries of about three minutes at 100 batches/s piled up (the repair failing meanwhile)', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb, LAYOUT);
    await journalBacklog(tableName, 17_000, 170_000);
    await storeBatch(writer, counters, impressions(3));
    const repair = new CampaignCounters(dynamodb, tableName, LAYOUT);
    const errors: string[] = [];
    for (let pass = 0; pass < 3; pass++) {
      await repair.repair().catch((error: Error) => errors.push(`${error.name}: ${error.message}`));
    }
    const [row] = await new CampaignStats(dynamodb, tableName).campaignStats('sori', 'cmp_0');
    expect({ errors, impressions: row?.impressions }).toEqual({ errors: [], impressions: 3 });
  }, 300_000);
});
