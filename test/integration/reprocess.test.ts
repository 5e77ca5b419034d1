import { afterEach, describe, expect, it } from 'vitest';
import { reprocessQuarantine } from '../../lib/ingest/reprocess';
import { storeBatch } from '../../lib/ingest/store-batch';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { soriPayload } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';

const { dynamodb } = localClients();
const original = sori.interpret;

/** A provider fix made in the test: SORI's `campaign.view`, unknown so far, becomes an impression. */
function fixSori() {
  Object.assign(sori, {
    interpret: (payload: unknown, receivedAt: string) =>
      original(
        (payload as { event?: string }).event === 'campaign.view'
          ? { ...(payload as object), event: 'campaign.impression' }
          : payload,
        receivedAt,
      ),
  });
}

afterEach(() => {
  Object.assign(sori, { interpret: original });
});

const view = (activity: string) =>
  Buffer.from(
    JSON.stringify({ ...soriPayload('impression'), event: 'campaign.view', activity_id: activity }),
  );

async function setUp() {
  const table = await createTestTable(dynamodb);
  const tables = { client: dynamodb, ...table };
  const quarantined = buildQueueMessage(sori, view('act_view_1'), '2026-11-22T10:00:00.000Z');
  expect(quarantined.kind).toBe('quarantine');
  await storeBatch(table.writer, table.counters, [quarantined]);
  return { ...table, tables, quarantinedId: quarantined.record.id };
}

describe('reprocessing the quarantine', () => {
  it('leaves what still does not parse quarantined, and a dry run writes nothing', async () => {
    const { tables, repository, quarantinedId } = await setUp();
    expect(await reprocessQuarantine(tables, {})).toEqual([
      expect.objectContaining({
        id: quarantinedId,
        result: 'quarantined',
        reason: expect.stringContaining('campaign.view'),
      }),
    ]);
    fixSori();
    expect(await reprocessQuarantine(tables, {}, { dryRun: true })).toEqual([
      expect.objectContaining({ id: quarantinedId, result: 'stored' }),
    ]);
    expect(await repository.queryEvents({ provider: 'sori', campaign: 'cmp_1234', limit: 10 })).toEqual([]);
    expect((await repository.listQuarantine(10))[0]?.resolved_at).toBeUndefined();
  });

  it('stores a quarantined delivery exactly once after a fix, counted once, even run twice at once alongside a live retry of the same event', async () => {
    const { tables, repository, writer, counters, stats, quarantinedId } = await setUp();
    fixSori();
    const retry = buildQueueMessage(sori, view('act_view_1'), '2026-11-22T10:05:00.000Z');
    const [first, second] = await Promise.all([
      reprocessQuarantine(tables, {}),
      reprocessQuarantine(tables, {}),
      storeBatch(writer, counters, [retry]),
    ]);
    const recordId = retry.record.id;
    expect([...(first ?? []), ...(second ?? [])].map((outcome) => outcome.record_id)).toEqual([
      recordId,
      recordId,
    ]);

    const stored = await repository.queryEvents({ provider: 'sori', campaign: 'cmp_1234', limit: 10 });
    expect(stored.map((event) => [event.id, event.event])).toEqual([[recordId, 'campaign.impression']]);
    expect(await stats.campaignStats('sori', 'cmp_1234')).toEqual([
      expect.objectContaining({ impressions: 1, clicks: 0, unique_devices: 1 }),
    ]);
    const [entry] = await repository.listQuarantine(10);
    expect(entry).toMatchObject({ id: quarantinedId, record_id: recordId, resolved_at: expect.any(String) });

    // Resolved entries are kept for audit and not run again.
    expect(await reprocessQuarantine(tables, {})).toEqual([]);
    expect(await stats.campaignStats('sori', 'cmp_1234')).toEqual([
      expect.objectContaining({ impressions: 1 }),
    ]);
  });
});
