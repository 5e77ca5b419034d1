/**
 * `doctor` runs a repair pass from the operator's machine (`repair(Date.now(), { takeOver: false })`), whose
 * clock may be off. A pass moves the fold's watermark by its own clock, and the journal before the watermark is
 * never read again: a pass from a clock minutes ahead must not leave the batches the consumers store meanwhile
 * uncounted. Against the local DynamoDB-API server; only `Date` is faked, to stand for the operator's clock.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CampaignCounters } from '../../lib/ingest/campaign-counters';
import { storeBatch } from '../../lib/ingest/store-batch';
import type { TableLayout } from '../../lib/table/records-table';
import { campaignDayImpressions } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';

const { dynamodb } = localClients();
const LAYOUT: TableLayout = { shards: 1, retentionDays: null };

afterEach(() => {
  vi.useRealTimers();
});

describe("a repair pass from a machine whose clock runs ahead (doctor's)", () => {
  it('leaves no batch stored afterwards uncounted: the scheduled passes still fold it', async () => {
    const { tableName, writer, counters, stats } = await createTestTable(dynamodb, LAYOUT);
    // The operator's machine, its clock 10 minutes ahead, runs doctor's pass.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 10 * 60_000);
    await new CampaignCounters(dynamodb, tableName, LAYOUT).repair(Date.now(), { takeOver: false });
    vi.useRealTimers();

    // The consumers, on the right clock, store a batch; the scheduled repair runs as usual.
    await storeBatch(writer, counters, campaignDayImpressions(3));
    await counters.repair();
    await counters.repair();

    expect(await stats.campaignStats('sori', 'cmp_0')).toEqual([
      expect.objectContaining({ impressions: 3, unique_devices: 3 }),
    ]);
  });
});
