/**
 * What an event counts as is decided when it is received, by the provider's code of that day, and travels with
 * it: the fold, its signals, a recount of a killed batch, the counter item's CTR and the lake row read it, never
 * the provider's code of their own day. Each test receives events under a SORI whose counted map differs from
 * the registry's (impressions and clicks swapped, as a changed configuration would make them) and reads them
 * back while the registry serves the real SORI.
 */
import { GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import type { QueueMessage } from '../../lib/events/event-record';
import { CampaignCounters } from '../../lib/ingest/campaign-counters';
import { createIngest } from '../../lib/ingest/ingest';
import { storeBatch } from '../../lib/ingest/store-batch';
import { lakeRowOfItem } from '../../lib/lake/lake-row';
import type { Provider } from '../../lib/providers/provider';
import { sori } from '../../lib/providers/sori';
import { CampaignStats } from '../../lib/queries/campaign-stats';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { type SignalReport, signalReport } from '../../lib/signals/report';
import { readProviderDays } from '../../lib/table/provider-days';
import { counterItemKey, itemKey, type TableLayout } from '../../lib/table/records-table';
import { soriPayload } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';
import { SIGNAL_DAY, TEST_THRESHOLDS } from '../support/signal-journal';

const { dynamodb } = localClients();
const LAYOUT: TableLayout = { shards: 2, retentionDays: null };

/** SORI as a changed configuration would have it: its impressions counted as clicks, its clicks as impressions. */
const swapped: Provider = {
  ...sori,
  counted: { 'campaign.impression': 'clicks', 'campaign.click': 'impressions' },
};

let sequence = 0;
/** A SORI campaign event received under `provider`'s code. */
function received(
  provider: Provider,
  kind: 'impression' | 'click',
  fields: { at: string; device: string; activity: string; campaign?: string },
): QueueMessage {
  const base = soriPayload(kind);
  const payload = {
    ...base,
    created_at: `${SIGNAL_DAY}T${fields.at}Z`,
    device_id: fields.device,
    activity_id: fields.activity,
    campaign: { ...(base.campaign as object), id: fields.campaign ?? 'cmp_policy' },
    metadata: { n: String(sequence++) },
  };
  return buildQueueMessage(provider, Buffer.from(JSON.stringify(payload)), '2026-01-01T00:00:00.000Z');
}

/**
 * Under the swapped map: 10 `campaign.click` (impressions) and 8 `campaign.impression` (clicks), every activity
 * its own, 4 of the clicks by one device within a minute. Swapped, that is a CTR of 0.8 over 10 impressions, 8
 * orphan clicks and a burst; under the registry's map it would be 8 impressions (too few for a CTR), 10 orphan
 * clicks of other activities and no burst.
 */
function swappedTraffic(provider: Provider): QueueMessage[] {
  const out: QueueMessage[] = [];
  for (let i = 0; i < 10; i++)
    out.push(
      received(provider, 'click', { at: `09:${10 + i}:00.000`, device: `dev_c${i}`, activity: `act_c${i}` }),
    );
  for (let i = 0; i < 8; i++) {
    const device = i < 4 ? 'dev_burst' : `dev_i${i}`;
    out.push(received(provider, 'impression', { at: `11:00:${10 + i}.000`, device, activity: `act_i${i}` }));
  }
  return out;
}

async function report(tableName: string): Promise<SignalReport> {
  const items = await new CampaignStats(dynamodb, tableName).daysCounterItems(['sori'], [SIGNAL_DAY]);
  const days = await readProviderDays(dynamodb, tableName, 'sori', SIGNAL_DAY, SIGNAL_DAY);
  return signalReport(items, days, TEST_THRESHOLDS);
}

/** What the swapped map raises on the traffic of {@link swappedTraffic}. */
function expectSwappedSignals(r: SignalReport) {
  expect(r.high_ctr.map((row) => [row.campaign_id, row.impressions, row.clicks])).toEqual([
    ['cmp_policy', 10, 8],
  ]);
  expect(r.clicks_without_impression.map((row) => row.activities)).toEqual([
    ['act_i0', 'act_i1', 'act_i2', 'act_i3', 'act_i4', 'act_i5', 'act_i6', 'act_i7'],
  ]);
  expect(r.click_bursts.map((row) => row.device_id)).toEqual(['dev_burst']);
}

describe('an event counted as its provider counted it when it was received', () => {
  it('is folded, signalled and its campaign-day’s CTR read by the map it was received under, after the provider’s map changed', async () => {
    const { tableName, writer } = await createTestTable(dynamodb, LAYOUT);
    const counters = new CampaignCounters(dynamodb, tableName, LAYOUT);
    counters.signalThresholds = TEST_THRESHOLDS;
    const outcomes = await storeBatch(writer, counters, swappedTraffic(swapped));
    expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
    const summary = await counters.repair();
    expect(summary).toMatchObject({ folded: 1, failed: 0 });
    expect(summary.signals).toMatchObject({ high_ctr: 1, clicks_without_impression: 8, click_bursts: 1 });
    expectSwappedSignals(await report(tableName));
  });

  it('is recounted by the map it was received under when its batch was left open, after the provider’s map changed', async () => {
    const { tableName, writer } = await createTestTable(dynamodb, LAYOUT);
    let now = Date.now();
    const clock = () => now;
    const counters = new CampaignCounters(dynamodb, tableName, LAYOUT, 60_000, 0, clock);
    counters.signalThresholds = TEST_THRESHOLDS;
    const traffic = swappedTraffic(swapped);
    const last = traffic[traffic.length - 1] as QueueMessage;
    // Its last write ends in doubt (no answer), as a killed consumer's would: the entry stays open.
    let cut = true;
    const ingest = createIngest({
      writer,
      counters,
      beforeWrite: async (message) => {
        if (cut && message.record.id === last.record.id) {
          cut = false;
          throw new Error('connection reset');
        }
      },
    });
    await ingest.store(traffic);
    expect(await counters.repair()).toMatchObject({ recounted: 0, folded: 0 });
    now += 61_000;
    // The redelivered message lands in a later batch, as SQS would retry it.
    await ingest.store([last]);
    now += 61_000;
    const summary = await counters.repair();
    expect(summary).toMatchObject({ recounted: 1, folded: 2, failed: 0 });
    expectSwappedSignals(await report(tableName));
  });

  it('counts, on a counter item folded before items kept what their types count as, its earlier counts as the provider counts them now, and keeps that from then on', async () => {
    const { tableName, writer } = await createTestTable(dynamodb, LAYOUT);
    const counters = new CampaignCounters(dynamodb, tableName, LAYOUT);
    counters.signalThresholds = TEST_THRESHOLDS;
    const impressions = Array.from({ length: 10 }, (_, i) =>
      received(sori, 'impression', { at: `09:${10 + i}:00.000`, device: `dev_o${i}`, activity: `act_o${i}` }),
    );
    await storeBatch(writer, counters, impressions);
    await counters.repair();
    const key = counterItemKey({ provider: 'sori', campaignId: 'cmp_policy', day: SIGNAL_DAY });
    await dynamodb.send(
      new UpdateItemCommand({ TableName: tableName, Key: key, UpdateExpression: 'REMOVE counted_kinds' }),
    );
    // Clicks received under the swapped map count as impressions; the item's earlier impressions as SORI's now.
    const clicks = Array.from({ length: 2 }, (_, i) =>
      received(swapped, 'click', { at: `09:${10 + i}:30.000`, device: `dev_o${i}`, activity: `act_o${i}` }),
    );
    await storeBatch(writer, counters, clicks);
    expect((await counters.repair()).signals?.high_ctr ?? 0).toBe(0);
    const { Item } = await dynamodb.send(
      new GetItemCommand({ TableName: tableName, Key: key, ConsistentRead: true }),
    );
    expect(JSON.parse(Item?.counted_kinds?.S ?? 'null')).toEqual({
      'campaign.click': 'impressions',
      'campaign.impression': 'impressions',
    });
    expect((await report(tableName)).high_ctr).toEqual([]);
  });

  it('is exported to the lake as it counted when received, and one stored before records said as its provider counts it now', async () => {
    const { tableName, writer } = await createTestTable(dynamodb, LAYOUT);
    const [impression] = traffic(swapped, 'impression');
    const [click] = traffic(sori, 'click');
    await storeBatch(writer, new CampaignCounters(dynamodb, tableName, LAYOUT), [
      impression as QueueMessage,
      click as QueueMessage,
    ]);
    const read = async (message: QueueMessage) => {
      const { pk, sk } = itemKey(message, LAYOUT);
      const { Item } = await dynamodb.send(
        new GetItemCommand({
          TableName: tableName,
          Key: { pk: { S: pk }, sk: { S: sk } },
          ConsistentRead: true,
        }),
      );
      return Item ?? {};
    };
    expect(lakeRowOfItem(await read(impression as QueueMessage))?.counter).toBe('clicks');
    expect(lakeRowOfItem(await read(click as QueueMessage))?.counter).toBe('clicks');
    // An item of the earlier layout keeps nothing of its policy.
    const { pk, sk } = itemKey(impression as QueueMessage, LAYOUT);
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { pk: { S: pk }, sk: { S: sk } },
        UpdateExpression: 'REMOVE counted_as',
      }),
    );
    expect(lakeRowOfItem(await read(impression as QueueMessage))?.counter).toBe('impressions');
  });
});

/** One event of each kind asked, received under `provider`. */
function traffic(provider: Provider, ...kinds: ('impression' | 'click')[]): QueueMessage[] {
  return kinds.map((kind, i) =>
    received(provider, kind, {
      at: `08:00:0${i}.000`,
      device: `dev_l${sequence}`,
      activity: `act_l${sequence}`,
    }),
  );
}
