/**
 * Fraud and quality signals, folded by the repair from the batches' journal: a burst crafted with each pattern
 * raises exactly its signal, a clean burst none, and under a duplicated delivery, a batch killed before it closed
 * and a fold killed half-way the signals are what the stored records say.
 *
 * The batches journal their first inserts' signal facts through `JournalingCounters` (test/support/signal-journal.ts).
 */
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import type { QueueMessage } from '../../lib/events/event-record';
import { type CounterGroup, newClaimToken } from '../../lib/ingest/campaign-counters';
import { EventWriter } from '../../lib/ingest/event-writer';
import { CampaignStats } from '../../lib/queries/campaign-stats';
import { DashboardReader, dayQuery } from '../../lib/queries/dashboard';
import { loginFamiliesOf } from '../../lib/signals/facts';
import { type SignalReport, signalReport } from '../../lib/signals/report';
import { openBatchItem } from '../../lib/table/counter-items';
import { readProviderDays } from '../../lib/table/provider-days';
import type { TableLayout } from '../../lib/table/records-table';
import { localClientConfig } from '../../local/local-stack';
import { signalRows } from '../../scripts/events/stats';
import { startDynamoDbProxy } from '../support/dynamodb-proxy';
import { createTestTable, localClients } from '../support/local-aws';
import {
  cleanBurst,
  fraudPatterns,
  JournalingCounters,
  SIGNAL_DAY,
  signalEvent,
  storeJournaled,
  TEST_THRESHOLDS,
  viewed,
} from '../support/signal-journal';

const { dynamodb } = localClients();
const LAYOUT: TableLayout = { shards: 2, retentionDays: null };
const DAY = SIGNAL_DAY;
const THRESHOLDS = TEST_THRESHOLDS;
const event = signalEvent;
const proxies: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

const store = storeJournaled;

async function report(tableName: string): Promise<SignalReport> {
  const stats = new CampaignStats(dynamodb, tableName);
  const items = await stats.daysCounterItems(['sori'], [DAY]);
  const days = await readProviderDays(dynamodb, tableName, 'sori', DAY, DAY);
  return signalReport(items, days, THRESHOLDS);
}

/** What a report raised, without the thresholds: compact enough to compare whole. */
const raised = (r: SignalReport) => ({
  clicks_without_impression: r.clicks_without_impression.map((row) => [row.campaign_id, row.activities]),
  click_bursts: r.click_bursts.map((row) => [row.campaign_id, row.device_id, row.minutes]),
  high_ctr: r.high_ctr.map((row) => [row.campaign_id, row.impressions, row.clicks]),
  shared_devices: r.shared_devices.map((row) => row.device_id),
  country_hops: r.country_hops.map((row) => row.device_id),
});
const NONE = {
  clicks_without_impression: [],
  click_bursts: [],
  high_ctr: [],
  shared_devices: [],
  country_hops: [],
};

async function setUp() {
  const { tableName } = await createTestTable(dynamodb, LAYOUT);
  return {
    tableName,
    writer: new EventWriter(dynamodb, tableName, LAYOUT),
    counters: new JournalingCounters(dynamodb, tableName, LAYOUT),
  };
}

describe('fraud and quality signals', () => {
  it('a clean burst raises none', async () => {
    const { tableName, writer, counters } = await setUp();
    const clean = cleanBurst('c');
    await store(counters, writer, [clean.slice(0, 20), clean.slice(20)]);
    await counters.repair();
    expect(raised(await report(tableName))).toEqual(NONE);
  });

  it('a burst crafted with each pattern raises exactly its signal, on its campaign-day, device or provider-day, on the dashboard and in `events stats --signals` rows', async () => {
    const { tableName, writer, counters } = await setUp();
    const { clean, orphan, burst, ctr, shared, hops } = fraudPatterns();
    await store(counters, writer, [
      clean,
      orphan,
      burst,
      ctr,
      shared.slice(0, 2),
      shared.slice(2),
      hops.slice(0, 1),
    ]);
    await counters.repair();
    // The second login from another country comes in a batch folded by a later pass.
    await store(counters, writer, [hops.slice(1)]);
    await counters.repair();
    expect(raised(await report(tableName))).toEqual({
      clicks_without_impression: [['cmp_a', ['o_act']]],
      click_bursts: [['cmp_b', 'b_dev', [`${DAY}T12:00`]]],
      high_ctr: [['cmp_h', 10, 6]],
      shared_devices: ['s_dev'],
      country_hops: ['x_dev'],
    });
    // The same on the dashboard, and one row per signal in `events stats --signals`.
    const board = await new DashboardReader(dynamodb, tableName, LAYOUT, undefined, THRESHOLDS).read(
      dayQuery(DAY),
    );
    expect(raised(board.signals)).toEqual(raised(await report(tableName)));
    expect(board.signals.counts).toEqual({
      clicks_without_impression: 1,
      click_bursts: 1,
      high_ctr: 1,
      shared_devices: 1,
      country_hops: 1,
    });
    expect(signalRows(board.signals).map((row) => [row.signal, row.campaign_id, row.device_id])).toEqual([
      ['clicks_without_impression', 'cmp_a', null],
      ['click_bursts', 'cmp_b', 'b_dev'],
      ['high_ctr', 'cmp_h', null],
      ['shared_devices', null, 's_dev'],
      ['country_hops', null, 'x_dev'],
    ]);
  });

  it('a click whose impression arrives in a later batch, folded by a later pass, is taken off once it is stored', async () => {
    const { tableName, writer, counters } = await setUp();
    const [impression, click] = viewed('late_act', 'l_dev', '09:00') as [QueueMessage, QueueMessage];
    await store(counters, writer, [[click]]);
    await counters.repair();
    expect(raised(await report(tableName)).clicks_without_impression).toEqual([['cmp_a', ['late_act']]]);
    await store(counters, writer, [[impression]]);
    await counters.repair();
    expect(raised(await report(tableName))).toEqual(NONE);
  });

  it('a click whose impression was stored and folded by an earlier pass finds it in the table, within the window only', async () => {
    const { tableName, writer, counters } = await setUp();
    const [impression, click] = viewed('early_act', 'e_dev', '08:00') as [QueueMessage, QueueMessage];
    // Eleven minutes after its impression: outside the 10-minute window either side.
    const far = event('impression', { at: '07:49:00.000', device: 'f_dev', activity: 'far_act' });
    const farClick = event('click', { at: '08:00:01.000', device: 'f_dev', activity: 'far_act' });
    await store(counters, writer, [[impression, far]]);
    await counters.repair();
    await store(counters, writer, [[click, farClick]]);
    await counters.repair();
    expect(raised(await report(tableName))).toEqual({
      ...NONE,
      clicks_without_impression: [['cmp_a', ['far_act']]],
    });
  });

  it('equal what the stored records say under a duplicated delivery, a batch killed before it closed and a fold killed half-way', async () => {
    const { tableName, writer, counters } = await setUp();
    const burst = Array.from({ length: 4 }, (_, i) =>
      event('click', { at: `12:00:1${i}.000`, device: 'b_dev', activity: `k_act_${i}` }),
    );
    const shared = ['k_acc_1', 'k_acc_2', 'k_acc_3'].map((account, i) =>
      event('authentication', { at: `14:0${i}:00.000`, device: 'k_dev', account }),
    );
    // Duplicated: every message of the first batch delivered again in the next.
    await store(counters, writer, [
      burst.slice(0, 2),
      burst.slice(0, 2),
      shared.slice(0, 1),
      shared.slice(0, 1),
    ]);
    // A consumer killed after its writes: its entry opened two minutes ago (naming its logins), never closed.
    const killed = [...burst.slice(2), ...shared.slice(1)];
    const token = newClaimToken(Date.now() - 120_000);
    const groups: CounterGroup[] = [{ key: { provider: 'sori', campaignId: 'cmp_a', day: DAY }, name: null }];
    await dynamodb.send(
      new PutItemCommand({
        TableName: tableName,
        Item: openBatchItem(token, groups, Date.now(), loginFamiliesOf(killed)),
      }),
    );
    for (const [i, message] of killed.entries()) {
      await writer.store(message, `${token}.${i}`);
      if (message.kind === 'event')
        await writer.markDevice(message.record, message.record.event !== 'authentication', `${token}.${i}`);
    }
    // A fold killed half-way: every write of a provider-day item fails (after the counter items are written), then
    // a later pass takes the fold over.
    let failures = 0;
    const proxy = await startDynamoDbProxy({
      fault: (call) => {
        const pk = String((call.input.Item as { pk?: { S?: string } })?.pk?.S);
        return call.action === 'PutItem' && pk.startsWith('PROVIDERDAY#') && ++failures > 0
          ? 'fail-before'
          : undefined;
      },
    });
    proxies.push(proxy);
    const crashing = new JournalingCounters(
      new DynamoDBClient(localClientConfig(proxy.endpoint)),
      tableName,
      LAYOUT,
      dynamodb,
    );
    const first = await crashing.repair(Date.now() + 120_000);
    expect(failures).toBeGreaterThan(0);
    expect(first).toMatchObject({ folded: 0, recounted: 1 });
    expect(first.failed).toBeGreaterThan(0);
    await counters.repair(Date.now() + 120_000);
    expect(await counters.repair()).toMatchObject({ failed: 0 });
    const found = await report(tableName);
    expect(raised(found)).toEqual({
      ...NONE,
      clicks_without_impression: [['cmp_a', ['k_act_0', 'k_act_1', 'k_act_2', 'k_act_3']]],
      click_bursts: [['cmp_a', 'b_dev', [`${DAY}T12:00`]]],
      shared_devices: ['k_dev'],
    });
    expect(found.clicks_without_impression[0]?.clicks).toBe(4);
  });
});
