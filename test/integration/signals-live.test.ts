/**
 * The signals are raised by what the consumer journals itself: a batch stored through storeBatch, then the
 * repair's fold, with no test helper journaling facts. A click whose activity has an impression raises nothing;
 * one whose activity has none raises "clicks without an impression". Against the local DynamoDB-API server.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sori } from '../../lib/providers/sori';
import { DashboardReader } from '../../lib/queries/dashboard';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import type { TableLayout } from '../../lib/table/records-table';
import { soriPayload } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';
import { storeAndFold } from '../support/store-and-fold';

const { dynamodb } = localClients();
const LAYOUT: TableLayout = { shards: 2, retentionDays: null };
const DAY = '2026-06-10';

const event = (kind: 'impression' | 'click', activity: string, minute: number) => {
  const base = soriPayload(kind) as { campaign: Record<string, unknown> };
  const at = `${DAY}T10:${String(minute).padStart(2, '0')}:00.000Z`;
  return buildQueueMessage(
    sori,
    Buffer.from(
      JSON.stringify({
        ...base,
        activity_id: activity,
        device_id: `dev_${activity}`,
        created_at: at,
        campaign: { ...base.campaign, id: 'cmp_live' },
      }),
    ),
    at,
  );
};

describe('signals from the consumer’s own journal', () => {
  it('raise "clicks without an impression" for a click whose activity has none, and nothing for one that has', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb, LAYOUT);
    const seen = `act_${randomUUID().slice(0, 8)}`;
    const orphan = `act_${randomUUID().slice(0, 8)}`;
    await storeAndFold(writer, counters, [event('impression', seen, 1), event('click', seen, 2)]);
    const reader = new DashboardReader(dynamodb, tableName, LAYOUT);
    const query = {
      from: DAY,
      to: DAY,
      tz: 'UTC',
      provider: null,
      campaign: null,
      breakdown: null,
      value: null,
    };
    expect((await reader.read(query)).signals.counts.clicks_without_impression).toBe(0);

    await storeAndFold(writer, counters, [event('click', orphan, 30)]);
    const { signals } = await new DashboardReader(dynamodb, tableName, LAYOUT).read(query);
    expect(signals.counts.clicks_without_impression).toBe(1);
    expect(signals.clicks_without_impression).toEqual([
      expect.objectContaining({ campaign_id: 'cmp_live', day: DAY, clicks: 1, activities: [orphan] }),
    ]);
  });
});
