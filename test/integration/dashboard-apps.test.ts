/**
 * Counters and the dashboard split by app, read from the run's local DynamoDB server: events of two apps of one
 * provider and of its default app are counted per app by the repair's fold, the dashboard's JSON gives them as
 * its `app` breakdown and drills down to one app, locally and deployed alike; a day folded before events were
 * counted by app is said to be without an app breakdown, never counted as zero.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDashboardHandler } from '../../functions/campaign-dashboard/campaign-dashboard';
import type { QueueMessage } from '../../lib/events/event-record';
import { sori } from '../../lib/providers/sori';
import {
  type Dashboard,
  type DashboardQuery,
  DashboardReader,
  parseDashboardQuery,
} from '../../lib/queries/dashboard';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { counterItemKey, fromCounterItem, type TableLayout } from '../../lib/table/records-table';
import { createDashboard } from '../../local/dashboard';
import { dashboardEvent } from '../support/dashboard-events';
import { memoryLogger, soriPayload } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';
import { storeAndFold } from '../support/store-and-fold';

const { dynamodb } = localClients();
const LAYOUT: TableLayout = { shards: 2, retentionDays: null };
const CAMPAIGN = 'cmp_apps';

/** Folded wholly before events were counted by app. */
const BEFORE = '2025-11-03';
/** Folded in part before, in part after. */
const PARTLY = '2025-11-04';
/** Folded after. */
const DAY = '2025-11-05';

let sent = 0;
/**
 * A SORI event of the campaign for `app`: none, the provider's own URL (its record names the default app);
 * `null`, a message queued before records named their app (its record names none).
 */
function event(
  kind: 'impression' | 'click',
  at: string,
  app?: string | null,
  campaign = CAMPAIGN,
): QueueMessage {
  const body = {
    ...soriPayload(kind),
    activity_id: `act_apps_${++sent}`,
    device_id: `dev_${sent}`,
    created_at: at,
    platform: 'iOS',
    campaign: { id: campaign, name: `Campaign ${campaign}` },
  };
  const message = buildQueueMessage(
    sori,
    Buffer.from(JSON.stringify(body)),
    `${at.slice(0, 10)}T23:00:00.000Z`,
    app ? { app } : undefined,
  );
  expect(message.kind).toBe('event');
  if (app === null) delete (message.record as { app?: string }).app;
  return message;
}

/** Takes the app breakdown off a counter item, as a fold of the earlier code left it. */
async function asFoldedBeforeApps(tableName: string, day: string) {
  const key = counterItemKey({ provider: 'sori', campaignId: CAMPAIGN, day });
  const { Item = {} } = await dynamodb.send(new GetItemCommand({ TableName: tableName, Key: key }));
  const appAttributes = Object.keys(Item).filter((name) => name.startsWith('b\u001fapp\u001f'));
  expect(appAttributes.length).toBeGreaterThan(0);
  await dynamodb.send(
    new UpdateItemCommand({
      TableName: tableName,
      Key: key,
      UpdateExpression: `REMOVE ${appAttributes.map((_, i) => `#a${i}`).join(', ')}`,
      ExpressionAttributeNames: Object.fromEntries(appAttributes.map((name, i) => [`#a${i}`, name])),
    }),
  );
}

let tableName: string;

beforeAll(async () => {
  const table = await createTestTable(dynamodb, LAYOUT);
  tableName = table.tableName;
  const { writer, counters } = table;
  await storeAndFold(writer, counters, [
    event('impression', `${BEFORE}T08:00:00.000Z`),
    event('impression', `${BEFORE}T08:01:00.000Z`, 'agency-a'),
    event('impression', `${PARTLY}T08:00:00.000Z`, 'agency-a'),
  ]);
  await asFoldedBeforeApps(tableName, BEFORE);
  await asFoldedBeforeApps(tableName, PARTLY);
  await storeAndFold(writer, counters, [
    event('impression', `${PARTLY}T09:00:00.000Z`, 'agency-b'),
    event('impression', `${DAY}T08:00:00.000Z`, 'agency-a'),
    event('impression', `${DAY}T08:01:00.000Z`, 'agency-a'),
    event('click', `${DAY}T08:02:00.000Z`, 'agency-a'),
    event('impression', `${DAY}T09:00:00.000Z`, 'agency-b'),
    event('impression', `${DAY}T10:00:00.000Z`),
    event('click', `${DAY}T10:01:00.000Z`, null),
    event('impression', `${DAY}T11:00:00.000Z`, 'agency-b', 'cmp_other'),
  ]);
});

const query = (search: string): DashboardQuery => {
  const parsed = parseDashboardQuery(new URLSearchParams(search), DAY);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.query;
};
const read = (search: string) => new DashboardReader(dynamodb, tableName, LAYOUT).read(query(search));

describe('counters split by app', () => {
  it('count each app of a provider apart, a record that names no app under the default app, every event of the day once', async () => {
    const { Item = {} } = await dynamodb.send(
      new GetItemCommand({
        TableName: tableName,
        Key: counterItemKey({ provider: 'sori', campaignId: CAMPAIGN, day: DAY }),
      }),
    );
    const item = fromCounterItem(Item);
    expect({ ...item.breakdowns.app }).toEqual({
      'agency-a': { 'campaign.impression': 2, 'campaign.click': 1 },
      'agency-b': { 'campaign.impression': 1 },
      default: { 'campaign.impression': 1, 'campaign.click': 1 },
    });
    expect({ ...item.counts }).toEqual({ 'campaign.impression': 4, 'campaign.click': 2 });
  });
});

describe('the dashboard by app', () => {
  it('gives an app breakdown summed over the range, each app’s impressions and clicks, with the other breakdowns as before', async () => {
    const board = await read(`day=${DAY}`);
    expect(board.breakdowns.app).toEqual([
      { key: 'agency-a', impressions: 2, clicks: 1 },
      { key: 'agency-b', impressions: 2, clicks: 0 },
      { key: 'default', impressions: 1, clicks: 1 },
    ]);
    expect(board.app_available).toBe(true);
    expect(board.breakdowns.platform).toEqual([{ key: 'iOS', impressions: 5, clicks: 2 }]);
    expect(board.totals).toMatchObject({ impressions: 5, clicks: 2 });
  });

  it('drills down to one app: the campaigns that counted it with its counts, its own row only, no hours and no devices', async () => {
    const board = await read(`day=${DAY}&breakdown=app&value=agency-b`);
    expect(board.filter).toEqual({ provider: null, campaign: null, breakdown: 'app', value: 'agency-b' });
    expect(board.campaigns.map((c) => [c.campaign_id, c.impressions, c.clicks, c.unique_devices])).toEqual([
      [CAMPAIGN, 1, 0, null],
      ['cmp_other', 1, 0, null],
    ]);
    expect(board.totals).toEqual({ impressions: 2, clicks: 0, unique_devices: null });
    expect(board.breakdowns.app).toEqual([{ key: 'agency-b', impressions: 2, clicks: 0 }]);
    expect(board.breakdowns.platform).toEqual([]);
    expect(board.hourly_available).toBe(false);
    const byCampaign = await read(
      `day=${DAY}&provider=sori&campaign=${CAMPAIGN}&breakdown=app&value=default`,
    );
    expect(byCampaign.totals).toEqual({ impressions: 1, clicks: 1, unique_devices: null });
    expect(byCampaign.daily).toEqual([{ day: DAY, impressions: 1, clicks: 1, ctr: 1, unique_devices: null }]);
  });

  it('says a day folded before events were counted by app has no app breakdown, wholly or in part, rather than counting it as zero', async () => {
    const range = await read(`from=${BEFORE}&to=${DAY}`);
    expect(range.app_available).toBe(false);
    expect(range.breakdowns.app).toEqual([]);
    expect(range.app_unavailable_days).toEqual([BEFORE, PARTLY]);
    // The other breakdowns and the figures are the counters' as before.
    expect(range.totals).toMatchObject({ impressions: 9, clicks: 2 });
    expect(range.breakdowns.platform).toEqual([{ key: 'iOS', impressions: 9, clicks: 2 }]);
    // One day after them: its app breakdown is whole; the day before it (its previous period) is not.
    const day = await read(`day=${DAY}`);
    expect(day.app_available).toBe(true);
    expect(day.app_unavailable_days).toEqual([PARTLY]);
    const filtered = await read(`from=${BEFORE}&to=${DAY}&breakdown=app&value=agency-a`);
    expect(filtered.app_available).toBe(false);
    expect(filtered.app_unavailable_days).toEqual([BEFORE, PARTLY]);
    // What is given counts the days whose app breakdown is whole; the others are named above.
    expect(filtered.totals).toEqual({ impressions: 2, clicks: 1, unique_devices: null });
  });
});

/** API Gateway's `queryStringParameters` of a query string. */
const gatewayParameters = (search: string) => Object.fromEntries(new URLSearchParams(search));

describe('GET /api/dashboard by app, locally and deployed', () => {
  let html: string;
  beforeAll(async () => {
    html = await readFile(
      join(import.meta.dirname, '../../functions/campaign-dashboard/page/index.html'),
      'utf8',
    );
  });

  const callDeployed = async (search: string) => {
    const handler = createDashboardHandler({
      reader: new DashboardReader(dynamodb, tableName, LAYOUT),
      // Takes any token: the sign-in is tested elsewhere.
      verifier: {
        verify: async () => ({
          iss: 'test',
          sub: 'user',
          client_id: 'client',
          token_use: 'access',
          exp: 0,
          username: 'user',
        }),
      },
      page: { body: html, contentSecurityPolicy: "default-src 'none'" },
      logger: memoryLogger().logger,
      today: () => DAY,
    });
    const answer = (await handler(
      dashboardEvent('/api/dashboard', { query: gatewayParameters(search), token: 'any' }),
    )) as APIGatewayProxyStructuredResultV2 & { body: string };
    return { status: answer.statusCode, body: JSON.parse(answer.body) };
  };

  async function callLocal(search: string) {
    const serve = createDashboard(new DashboardReader(dynamodb, tableName, LAYOUT));
    const server: Server = createServer((request, response) => {
      void serve(request, response).then((served) => {
        if (!served) response.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const response = await fetch(`http://127.0.0.1:${port}/api/dashboard?${search}`);
      return { status: response.status, body: (await response.json()) as Dashboard };
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  it('answers the same JSON locally and deployed for one app, with its breakdown in the answer', async () => {
    for (const search of [`day=${DAY}`, `day=${DAY}&breakdown=app&value=agency-a`]) {
      const local = await callLocal(search);
      expect(local.status, search).toBe(200);
      expect(await callDeployed(search), search).toEqual(local);
    }
    const local = await callLocal(`day=${DAY}&breakdown=app&value=agency-a`);
    expect(local.body.breakdowns.app).toEqual([{ key: 'agency-a', impressions: 2, clicks: 1 }]);
    expect(local.body.totals).toMatchObject({ impressions: 2, clicks: 1 });
  });

  it('answers 400 for a value no app can have, saying what an app’s name is, the same locally and deployed', async () => {
    const message =
      'value must be an app name for breakdown app: default, (other), or 1 to 32 lower-case letters, digits or hyphens';
    for (const value of ['Agency-A', 'agency_a', 'a'.repeat(33), '-agency', 'agency-a,agency-b']) {
      const search = `breakdown=app&value=${encodeURIComponent(value)}`;
      const local = await callLocal(search);
      expect(local, value).toEqual({ status: 400, body: { message } });
      expect(await callDeployed(search), value).toEqual(local);
    }
    expect(await callLocal('breakdown=app&value=')).toEqual({
      status: 400,
      body: { message: 'value must not be empty' },
    });
  });
});
