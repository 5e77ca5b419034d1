/**
 * The dashboard agrees with itself and with `events stats` after a provider's counted map changed: its totals,
 * its hourly chart, its breakdown tables and a view filtered by one breakdown value all count a counter item's
 * event types as the item says they counted when received, and by the provider's current code only for an item
 * no fold wrote since items said. Events are received under a SORI whose counted map differs from the
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
import {
  type BreakdownRow,
  type Dashboard,
  type DashboardQuery,
  DashboardReader,
  dayQuery,
  FILTER_BREAKDOWNS,
} from '../../lib/queries/dashboard';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { counterItemKey, type TableLayout } from '../../lib/table/records-table';
import { soriPayload } from '../support/deliveries';
import { eventsOn } from '../support/events-cli';
import { createTestTable, localClients } from '../support/local-aws';
import { SIGNAL_DAY, TEST_THRESHOLDS } from '../support/signal-journal';

const { dynamodb } = localClients();
const LAYOUT: TableLayout = { shards: 2, retentionDays: null };
const CAMPAIGN = 'cmp_dashboard_kinds';

/** SORI as a changed configuration would have it: its impressions counted as clicks, its clicks as impressions. */
const swapped: Provider = {
  ...sori,
  counted: { 'campaign.impression': 'clicks', 'campaign.click': 'impressions' },
};

let sequence = 0;
function received(kind: 'impression' | 'click', at: string, platform: string): QueueMessage {
  const base = soriPayload(kind);
  const n = sequence++;
  const payload = {
    ...base,
    created_at: `${SIGNAL_DAY}T${at}.000Z`,
    device_id: `dev_dash_${n}`,
    activity_id: `act_dash_${n}`,
    platform,
    campaign: { ...(base.campaign as object), id: CAMPAIGN },
    metadata: { n: String(n) },
  };
  return buildQueueMessage(swapped, Buffer.from(JSON.stringify(payload)), '2026-01-01T00:00:00.000Z');
}

/**
 * Under the swapped map, 10 `campaign.click` at 09:00 (impressions; 6 iOS, 4 Android) and 8 `campaign.impression`
 * at 11:00 (clicks; 3 iOS, 5 Android).
 */
const traffic = () => [
  ...Array.from({ length: 10 }, (_, i) =>
    received('click', `09:${String(10 + i)}:00`, i < 6 ? 'iOS' : 'Android'),
  ),
  ...Array.from({ length: 8 }, (_, i) =>
    received('impression', `11:${String(10 + i)}:00`, i < 3 ? 'iOS' : 'Android'),
  ),
];

async function storedAndFolded() {
  const { tableName, writer } = await createTestTable(dynamodb, LAYOUT);
  const counters = new CampaignCounters(dynamodb, tableName, LAYOUT);
  counters.signalThresholds = TEST_THRESHOLDS;
  const outcomes = await storeBatch(writer, counters, traffic());
  expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
  expect(await counters.repair()).toMatchObject({ folded: 1, failed: 0 });
  return tableName;
}

/** What `events stats` prints as JSON rows for the day, as `[campaign, impressions, clicks]`. */
async function statsRows(tableName: string) {
  const args = ['stats', '--provider', 'sori', '--since', SIGNAL_DAY, '--until', SIGNAL_DAY, '--json'];
  const run = await eventsOn(tableName, args);
  expect(run.code, run.stderr).toBe(0);
  return run.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { campaign_id: string; impressions: number; clicks: number })
    .map((row) => [row.campaign_id, row.impressions, row.clicks]);
}

const sum = (rows: readonly { impressions: number; clicks: number }[]) => ({
  impressions: rows.reduce((total, row) => total + row.impressions, 0),
  clicks: rows.reduce((total, row) => total + row.clicks, 0),
});
const countsOf = (row: { impressions: number; clicks: number }) => ({
  impressions: row.impressions,
  clicks: row.clicks,
});

/**
 * Reads the day's dashboard whole and filtered by each value of each breakdown, and checks that they agree: the
 * hourly chart, each breakdown table, the daily series and the campaigns sum to the totals, and each filtered
 * view's totals, campaigns and day are its value's row of the unfiltered table.
 * @returns the whole day's dashboard.
 */
async function agreeingDashboard(tableName: string): Promise<Dashboard> {
  const reader = new DashboardReader(dynamodb, tableName, LAYOUT, undefined, TEST_THRESHOLDS);
  const board = await reader.read(SIGNAL_DAY);
  const totals = countsOf(board.totals);
  expect(sum(board.hourly)).toEqual(totals);
  expect(sum(board.daily)).toEqual(totals);
  expect(sum(board.campaigns)).toEqual(totals);
  for (const breakdown of FILTER_BREAKDOWNS) {
    const rows: BreakdownRow[] = board.breakdowns[breakdown];
    expect(rows.length, breakdown).toBeGreaterThan(0);
    expect(sum(rows), breakdown).toEqual(totals);
    for (const row of rows) {
      const query: DashboardQuery = { ...dayQuery(SIGNAL_DAY), breakdown, value: row.key };
      const filtered = await reader.read(query);
      expect(countsOf(filtered.totals), `${breakdown}=${row.key}`).toEqual(countsOf(row));
      expect(sum(filtered.campaigns), `${breakdown}=${row.key}`).toEqual(countsOf(row));
      expect(sum(filtered.daily), `${breakdown}=${row.key}`).toEqual(countsOf(row));
      expect(filtered.breakdowns[breakdown].map(countsOf), `${breakdown}=${row.key}`).toEqual([
        countsOf(row),
      ]);
    }
  }
  return board;
}

const platforms = (board: Dashboard) =>
  Object.fromEntries(board.breakdowns.platform.map((row) => [row.key, [row.impressions, row.clicks]]));

describe('the dashboard after a provider’s counted map changed', () => {
  it('counts totals, hours, breakdowns and a breakdown-filtered view as the events counted when received, as events stats does', async () => {
    const tableName = await storedAndFolded();
    const board = await agreeingDashboard(tableName);
    expect(countsOf(board.totals)).toEqual({ impressions: 10, clicks: 8 });
    expect(board.hourly[9]).toMatchObject({ impressions: 10, clicks: 0 });
    expect(board.hourly[11]).toMatchObject({ impressions: 0, clicks: 8 });
    expect(platforms(board)).toEqual({ iOS: [6, 3], Android: [4, 5] });
    expect(await statsRows(tableName)).toEqual([[CAMPAIGN, 10, 8]]);
  });

  it('counts an item folded before items kept what their types count as by the provider’s current code, everywhere alike', async () => {
    const tableName = await storedAndFolded();
    const key = counterItemKey({ provider: 'sori', campaignId: CAMPAIGN, day: SIGNAL_DAY });
    await dynamodb.send(
      new UpdateItemCommand({ TableName: tableName, Key: key, UpdateExpression: 'REMOVE counted_kinds' }),
    );
    // SORI's own map: `campaign.impression` is an impression, `campaign.click` a click.
    const board = await agreeingDashboard(tableName);
    expect(countsOf(board.totals)).toEqual({ impressions: 8, clicks: 10 });
    expect(board.hourly[9]).toMatchObject({ impressions: 0, clicks: 10 });
    expect(board.hourly[11]).toMatchObject({ impressions: 8, clicks: 0 });
    expect(platforms(board)).toEqual({ iOS: [3, 6], Android: [5, 4] });
    expect(await statsRows(tableName)).toEqual([[CAMPAIGN, 8, 10]]);
  });
});
