import { describe, expect, it } from 'vitest';
import { optimizely } from '../../lib/providers/optimizely';
import { sori } from '../../lib/providers/sori';
import { DashboardReader } from '../../lib/queries/dashboard';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { DEFAULT_LAYOUT } from '../../lib/table/records-table';
import { soriPayload } from '../support/deliveries';
import { eventsOn } from '../support/events-cli';
import { createTestTable, localClients } from '../support/local-aws';
import { storeAndFold } from '../support/store-and-fold';

const { dynamodb } = localClients();
const RECEIVED = '2025-10-14T12:00:00.000Z';
/** One id, used by two providers for two different campaigns. */
const SHARED_ID = '10230355206';

/** Two SORI impressions and a click, and one Optimizely open and two clicks, of campaigns with the same id. */
async function twoCampaignsOneId() {
  const table = await createTestTable(dynamodb);
  const soriEvent = (event: 'impression' | 'click', i: number) =>
    buildQueueMessage(
      sori,
      Buffer.from(
        JSON.stringify({
          ...soriPayload(event),
          activity_id: `act_shared_${i}`,
          device_id: `device_${i}`,
          campaign: { id: SHARED_ID, name: 'SORI campaign' },
        }),
      ),
      RECEIVED,
    );
  const open = (type: 'open' | 'click', i: number) =>
    buildQueueMessage(
      optimizely,
      Buffer.from(
        JSON.stringify({
          type,
          id: `opt-${type}-${i}`,
          recipientId: `someone${i}@example.com`,
          clientId: 10180860001,
          created: Date.parse('2025-10-14T05:00:00.000Z') + i,
          mailingId: Number(SHARED_ID),
          mailId: 'mail_1',
          mediaType: 'EMAIL',
        }),
      ),
      RECEIVED,
    );
  const messages = [
    soriEvent('impression', 1),
    soriEvent('impression', 2),
    soriEvent('click', 3),
    open('open', 1),
    open('click', 2),
    open('click', 3),
  ];
  for (const message of messages) expect(message.kind).toBe('event');
  await storeAndFold(table.writer, table.counters, messages);
  return table;
}

const jsonLines = (text: string) =>
  text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));

describe('stats of campaigns of different providers that share an id', () => {
  it('are counted apart, keyed by provider and campaign, across campaigns and for one campaign, with every field kept and the provider added', async () => {
    const { tableName } = await twoCampaignsOneId();
    const range = ['--since', '2025-10-14', '--until', '2025-10-14'];

    const across = await eventsOn(tableName, ['stats', ...range, '--json']);
    expect(across.code).toBe(0);
    expect(jsonLines(across.stdout)).toEqual([
      {
        provider: 'sori',
        campaign_id: SHARED_ID,
        since: '2025-10-14',
        until: '2025-10-14',
        impressions: 2,
        clicks: 1,
        unique_devices: 3,
        unique_devices_exact: true,
        ctr: 0.5,
      },
      {
        provider: 'optimizely',
        campaign_id: SHARED_ID,
        since: '2025-10-14',
        until: '2025-10-14',
        impressions: 1,
        clicks: 2,
        unique_devices: 3,
        unique_devices_exact: true,
        ctr: 2,
      },
    ]);

    const one = await eventsOn(tableName, ['stats', '--campaign', SHARED_ID, ...range, '--json']);
    expect(one.code).toBe(0);
    expect(jsonLines(one.stdout)).toEqual([
      expect.objectContaining({
        provider: 'optimizely',
        campaign_id: SHARED_ID,
        day: '2025-10-14',
        impressions: 1,
        clicks: 2,
      }),
      expect.objectContaining({
        provider: 'sori',
        campaign_id: SHARED_ID,
        day: '2025-10-14',
        impressions: 2,
        clicks: 1,
      }),
    ]);
    for (const row of jsonLines(one.stdout))
      expect(Object.keys(row).sort()).toEqual(
        ['provider', 'campaign_id', 'day', 'impressions', 'clicks', 'unique_devices', 'ctr'].sort(),
      );

    // The tables name the provider of each row.
    const table = await eventsOn(tableName, ['stats', ...range]);
    const [header, ...rows] = table.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^provider\s+campaign_id\s+since\s+until\s+impressions/);
    expect(rows.slice(0, 2).map((row) => row.split(/\s+/).slice(0, 2))).toEqual([
      ['sori', SHARED_ID],
      ['optimizely', SHARED_ID],
    ]);
  });

  it('are two rows of the dashboard, each with its provider', async () => {
    const { tableName } = await twoCampaignsOneId();
    const dashboard = await new DashboardReader(dynamodb, tableName, DEFAULT_LAYOUT).read('2025-10-14');
    expect(dashboard.campaigns).toEqual([
      expect.objectContaining({
        provider: 'sori',
        campaign_id: SHARED_ID,
        impressions: 2,
        clicks: 1,
        unique_devices: 3,
      }),
      expect.objectContaining({
        provider: 'optimizely',
        campaign_id: SHARED_ID,
        impressions: 1,
        clicks: 2,
        unique_devices: 3,
      }),
    ]);
    expect(dashboard.totals).toEqual({ impressions: 3, clicks: 3, unique_devices: 6 });
  });
});
