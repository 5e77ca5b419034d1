/**
 * `events stats` counts a campaign-day's impressions and clicks by what its counter item says its event types
 * counted as when they were received, as the high-CTR signal does, and by the provider's current code only for
 * an item no fold wrote since items said. Events are received under a SORI whose counted map differs from the
 * registry's (impressions and clicks swapped, as a changed configuration would make them), stored and folded in
 * the local DynamoDB-API server, and read back while the registry serves the real SORI.
 */
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import type { QueueMessage } from '../../lib/events/event-record';
import { CampaignCounters } from '../../lib/ingest/campaign-counters';
import { storeBatch } from '../../lib/ingest/store-batch';
import type { Provider } from '../../lib/providers/provider';
import { sori } from '../../lib/providers/sori';
import { CampaignStats } from '../../lib/queries/campaign-stats';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { signalReport } from '../../lib/signals/report';
import { readProviderDays } from '../../lib/table/provider-days';
import { counterItemKey, type TableLayout } from '../../lib/table/records-table';
import { soriPayload } from '../support/deliveries';
import { eventsOn } from '../support/events-cli';
import { createTestTable, localClients } from '../support/local-aws';
import { SIGNAL_DAY, TEST_THRESHOLDS } from '../support/signal-journal';

const { dynamodb } = localClients();
const LAYOUT: TableLayout = { shards: 2, retentionDays: null };
const CAMPAIGN = 'cmp_stats_kinds';

/** SORI as a changed configuration would have it: its impressions counted as clicks, its clicks as impressions. */
const swapped: Provider = {
  ...sori,
  counted: { 'campaign.impression': 'clicks', 'campaign.click': 'impressions' },
};

let sequence = 0;
function received(provider: Provider, kind: 'impression' | 'click', i: number): QueueMessage {
  const base = soriPayload(kind);
  const payload = {
    ...base,
    created_at: `${SIGNAL_DAY}T09:${String(10 + i).padStart(2, '0')}:00.000Z`,
    device_id: `dev_${kind}_${i}`,
    activity_id: `act_${kind}_${i}`,
    campaign: { ...(base.campaign as object), id: CAMPAIGN },
    metadata: { n: String(sequence++) },
  };
  return buildQueueMessage(provider, Buffer.from(JSON.stringify(payload)), '2026-01-01T00:00:00.000Z');
}

/** Under the swapped map, 10 `campaign.click` (impressions) and 8 `campaign.impression` (clicks). */
const traffic = () => [
  ...Array.from({ length: 10 }, (_, i) => received(swapped, 'click', i)),
  ...Array.from({ length: 8 }, (_, i) => received(swapped, 'impression', i)),
];

/** What `events stats` prints as JSON rows: over the range across campaigns, or day by day for the campaign. */
async function statsRows(tableName: string, campaign?: string) {
  const args = ['stats', '--provider', 'sori', '--since', SIGNAL_DAY, '--until', SIGNAL_DAY, '--json'];
  const run = await eventsOn(tableName, campaign ? [...args, '--campaign', campaign] : args);
  expect(run.code, run.stderr).toBe(0);
  return run.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { campaign_id: string; impressions: number; clicks: number });
}

async function highCtr(tableName: string) {
  const items = await new CampaignStats(dynamodb, tableName).daysCounterItems(['sori'], [SIGNAL_DAY]);
  const days = await readProviderDays(dynamodb, tableName, 'sori', SIGNAL_DAY, SIGNAL_DAY);
  return signalReport(items, days, TEST_THRESHOLDS).high_ctr.map((row) => [
    row.campaign_id,
    row.impressions,
    row.clicks,
  ]);
}

async function storedAndFolded() {
  const { tableName, writer } = await createTestTable(dynamodb, LAYOUT);
  const counters = new CampaignCounters(dynamodb, tableName, LAYOUT);
  counters.signalThresholds = TEST_THRESHOLDS;
  const outcomes = await storeBatch(writer, counters, traffic());
  expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
  expect(await counters.repair()).toMatchObject({ folded: 1, failed: 0 });
  return tableName;
}

describe('events stats after a provider’s counted map changed', () => {
  it('counts impressions and clicks as the events counted when received, agreeing with the high-CTR signal', async () => {
    const tableName = await storedAndFolded();
    expect(await highCtr(tableName)).toEqual([[CAMPAIGN, 10, 8]]);
    for (const rows of [await statsRows(tableName), await statsRows(tableName, CAMPAIGN)]) {
      expect(rows.map((row) => [row.campaign_id, row.impressions, row.clicks])).toEqual([[CAMPAIGN, 10, 8]]);
    }
    const stats = new CampaignStats(dynamodb, tableName);
    expect(await stats.dayStats('sori', SIGNAL_DAY)).toMatchObject([{ impressions: 10, clicks: 8 }]);
  });

  it('counts an item folded before items kept what their types count as by the provider’s current code, as the signal does', async () => {
    const tableName = await storedAndFolded();
    const key = counterItemKey({ provider: 'sori', campaignId: CAMPAIGN, day: SIGNAL_DAY });
    await dynamodb.send(
      new UpdateItemCommand({ TableName: tableName, Key: key, UpdateExpression: 'REMOVE counted_kinds' }),
    );
    // SORI's own map: 8 impressions, 10 clicks; a CTR over 1 with too few impressions for the signal to tell.
    for (const rows of [await statsRows(tableName), await statsRows(tableName, CAMPAIGN)]) {
      expect(rows.map((row) => [row.campaign_id, row.impressions, row.clicks])).toEqual([[CAMPAIGN, 8, 10]]);
    }
    expect(TEST_THRESHOLDS.ctrMinImpressions).toBeGreaterThan(8);
    expect(await highCtr(tableName)).toEqual([]);
  });
});
