/**
 * `/api/dashboard` over a range of UTC days, read from the run's local DynamoDB server: every figure equals what
 * the stored events say (computed here from the events sent, after duplicates), for the range, each of its days,
 * the period before it, one campaign, one breakdown value, and both; the deployed function and the local server
 * answer the same JSON and the same 400s.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DeleteItemCommand, DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createDashboardHandler } from '../../functions/campaign-dashboard/campaign-dashboard';
import type { QueueMessage } from '../../lib/events/event-record';
import { CampaignCounters } from '../../lib/ingest/campaign-counters';
import { EventWriter } from '../../lib/ingest/event-writer';
import { storeBatch } from '../../lib/ingest/store-batch';
import { optimizely } from '../../lib/providers/optimizely';
import { sori } from '../../lib/providers/sori';
import { READ_CONCURRENCY } from '../../lib/queries/campaign-stats';
import {
  type Dashboard,
  type DashboardQuery,
  DashboardReader,
  LATEST_EVENTS,
  parseDashboardQuery,
} from '../../lib/queries/dashboard';
import type { PipelineHealth } from '../../lib/queries/pipeline-health';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { providerDayKey } from '../../lib/table/provider-days';
import { REACH_ATTRIBUTE } from '../../lib/table/reach';
import {
  counterItemKey,
  EVENT_SORT_PREFIX,
  RECORDS_TABLE,
  type TableLayout,
} from '../../lib/table/records-table';
import { createDashboard } from '../../local/dashboard';
import { localClientConfig } from '../../local/local-stack';
import { dashboardEvent } from '../support/dashboard-events';
import { memoryLogger, soriPayload } from '../support/deliveries';
import { createTestTable, faultyDynamoDb, localClients } from '../support/local-aws';
import { storeAndFold } from '../support/store-and-fold';

const { dynamodb } = localClients();
const LAYOUT: TableLayout = { shards: 2, retentionDays: null };

/** One campaign event as sent; the figures below are computed from these, not from the table. */
interface Sent {
  provider: 'sori' | 'optimizely';
  kind: 'impression' | 'click';
  campaign: string;
  device: string;
  /** `created_at`: the UTC day it is counted on, and its hour. */
  at: string;
  platform: string | null;
  country: string | null;
  material: string | null;
  /** The delivery's id at the sender: sent twice, it is stored once. */
  activity: string;
}

let sentCount = 0;
const soriEvent = (
  kind: Sent['kind'],
  campaign: string,
  device: string,
  at: string,
  platform: string,
  country: string,
  material: string,
): Sent => ({
  provider: 'sori',
  kind,
  campaign,
  device,
  at,
  platform,
  country,
  material,
  activity: `act_range_${++sentCount}`,
});
const optimizelyEvent = (kind: Sent['kind'], campaign: string, recipient: string, at: string): Sent => ({
  provider: 'optimizely',
  kind,
  campaign,
  device: recipient,
  at,
  // Optimizely's media type is the platform, its mail the material; it gives no country.
  platform: 'EMAIL',
  country: null,
  material: 'mail_1',
  activity: `opt-range-${++sentCount}`,
});

/**
 * The range asked in most tests is 2025-10-12 … 2025-10-15: its first day has no event, its second and third
 * days share devices across days and across campaigns; the period before it is 2025-10-08 … 2025-10-11.
 */
const FROM = '2025-10-12';
const TO = '2025-10-15';
const EVENTS: Sent[] = [
  soriEvent('impression', 'cmp_a', 'dev_1', '2025-10-11T08:00:00.000Z', 'iOS', 'Germany', 'mat_1'),
  soriEvent('click', 'cmp_b', 'dev_5', '2025-10-11T09:00:00.000Z', 'Android', 'France', 'mat_2'),
  soriEvent('impression', 'cmp_a', 'dev_1', '2025-10-13T05:00:00.000Z', 'iOS', 'Germany', 'mat_1'),
  soriEvent('impression', 'cmp_a', 'dev_2', '2025-10-13T06:00:00.000Z', 'Android', 'United States', 'mat_1'),
  soriEvent('click', 'cmp_a', 'dev_2', '2025-10-13T06:30:00.000Z', 'Android', 'United States', 'mat_1'),
  soriEvent('impression', 'cmp_a', 'dev_1', '2025-10-14T07:00:00.000Z', 'iOS', 'Germany', 'mat_2'),
  soriEvent('impression', 'cmp_b', 'dev_1', '2025-10-14T07:30:00.000Z', 'iOS', 'Germany', 'mat_2'),
  optimizelyEvent('impression', '10230355206', 'someone1@example.com', '2025-10-14T05:00:00.000Z'),
  optimizelyEvent('click', '10230355206', 'someone1@example.com', '2025-10-14T05:01:00.000Z'),
  soriEvent('impression', 'cmp_b', 'dev_4', '2025-10-15T10:00:00.000Z', 'Android', 'France', 'mat_2'),
  soriEvent('click', 'cmp_a', 'dev_3', '2025-10-15T11:00:00.000Z', 'iOS', 'Germany', 'mat_1'),
  soriEvent('impression', 'cmp_a', 'dev_3', '2025-10-15T11:00:01.000Z', 'iOS', 'Germany', 'mat_1'),
];
/** Sent again in a later batch: a sender's retry, stored once. */
const RETRIED = EVENTS[5] as Sent;
const day = (sent: Sent) => sent.at.slice(0, 10);
/** Deliveries are received at the end of the day their event happened. */
const receivedAt = (sent: Sent) => `${day(sent)}T23:00:00.000Z`;

function message(sent: Sent): QueueMessage {
  if (sent.provider === 'optimizely') {
    return buildQueueMessage(
      optimizely,
      Buffer.from(
        JSON.stringify({
          type: sent.kind === 'impression' ? 'open' : 'click',
          id: sent.activity,
          recipientId: sent.device,
          clientId: 10180860001,
          created: Date.parse(sent.at),
          mailingId: Number(sent.campaign),
          mailId: 'mail_1',
          mediaType: 'EMAIL',
        }),
      ),
      receivedAt(sent),
    );
  }
  return buildQueueMessage(
    sori,
    Buffer.from(
      JSON.stringify({
        ...soriPayload(sent.kind),
        activity_id: sent.activity,
        device_id: sent.device,
        created_at: sent.at,
        platform: sent.platform,
        geolocation: { viewer_country: sent.country, viewer_region: null, viewer_city: null },
        campaign: { id: sent.campaign, name: `Campaign ${sent.campaign}` },
        material: { id: sent.material, name: `Material ${sent.material}`, tags: [], image: null },
      }),
    ),
    receivedAt(sent),
  );
}

/** A SORI delivery its schema refuses, received on 2025-10-14: quarantined. */
const QUARANTINED = buildQueueMessage(
  sori,
  Buffer.from(JSON.stringify({ event: 'campaign.impression', activity_id: 42 })),
  '2025-10-14T23:00:00.000Z',
);

let tableName: string;

beforeAll(async () => {
  const table = await createTestTable(dynamodb, LAYOUT);
  const messages = EVENTS.map(message);
  for (const built of messages) expect(built.kind).toBe('event');
  expect(QUARANTINED.kind).toBe('quarantine');
  await storeAndFold(table.writer, table.counters, [...messages, QUARANTINED]);
  await storeAndFold(table.writer, table.counters, [message(RETRIED)]);
  tableName = table.tableName;
});

type Filter = {
  campaign?: [Sent['provider'], string];
  breakdown?: ['platform' | 'country' | 'material', string];
};

const breakdownValue = (sent: Sent, breakdown: 'platform' | 'country' | 'material') => sent[breakdown];

/** The events a query counts: on its days, of its campaign and breakdown value. */
function counted(from: string, to: string, filter: Filter = {}, sent: Sent[] = EVENTS): Sent[] {
  return sent.filter(
    (sent) =>
      day(sent) >= from &&
      day(sent) <= to &&
      (!filter.campaign || (sent.provider === filter.campaign[0] && sent.campaign === filter.campaign[1])) &&
      (!filter.breakdown || breakdownValue(sent, filter.breakdown[0]) === filter.breakdown[1]),
  );
}

const figures = (events: Sent[]) => {
  const impressions = events.filter((e) => e.kind === 'impression').length;
  const clicks = events.filter((e) => e.kind === 'click').length;
  return { impressions, clicks, ctr: impressions > 0 ? clicks / impressions : null };
};
/** Devices counted once each: a device is its provider's (two providers' ids name different devices). */
const devices = (events: Sent[]) => new Set(events.map((e) => `${e.provider}\u0000${e.device}`)).size;

const daysFrom = (from: string, to: string) => {
  const days: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) {
    days.push(new Date(t).toISOString().slice(0, 10));
  }
  return days;
};
const shift = (d: string, by: number) =>
  new Date(Date.parse(`${d}T00:00:00Z`) + by * 86_400_000).toISOString().slice(0, 10);

/** The contract's figures for a query, from the events sent. */
function expected(from: string, to: string, filter: Filter = {}, sent: Sent[] = EVENTS) {
  const events = counted(from, to, filter, sent);
  const byBreakdown = !!filter.breakdown;
  const campaigns = [...new Set(events.map((e) => `${e.provider}\u0000${e.campaign}`))]
    .map((key) => {
      const [provider, campaign_id] = key.split('\u0000') as [string, string];
      const own = events.filter((e) => e.provider === provider && e.campaign === campaign_id);
      return {
        provider,
        campaign_id,
        day: to,
        ...figures(own),
        unique_devices: byBreakdown ? null : devices(own),
      };
    })
    .sort(
      (a, b) =>
        b.impressions - a.impressions ||
        a.campaign_id.localeCompare(b.campaign_id) ||
        a.provider.localeCompare(b.provider),
    );
  const length = daysFrom(from, to).length;
  const previousFrom = shift(from, -length);
  const previousTo = shift(from, -1);
  const previous = counted(previousFrom, previousTo, filter, sent);
  const { ctr: _, ...totals } = figures(events);
  return {
    campaigns,
    totals: { ...totals, unique_devices: byBreakdown ? null : devices(events) },
    daily: daysFrom(from, to).map((d) => {
      const own = counted(d, d, filter, sent);
      return { day: d, ...figures(own), unique_devices: byBreakdown ? null : devices(own) };
    }),
    previous: {
      from: previousFrom,
      to: previousTo,
      ...figures(previous),
      unique_devices: byBreakdown ? null : devices(previous),
    },
    hourly: Array.from({ length: 24 }, (_, hour) => {
      const own = byBreakdown ? [] : events.filter((e) => Number(e.at.slice(11, 13)) === hour);
      const { impressions, clicks } = figures(own);
      return { hour, impressions, clicks };
    }),
    breakdown: (name: 'platform' | 'country' | 'material') => {
      if (filter.breakdown && filter.breakdown[0] !== name) return [];
      const keys = [
        ...new Set(events.map((e) => breakdownValue(e, name)).filter((v): v is string => v !== null)),
      ];
      return keys
        .map((key) => ({ key, ...figures(events.filter((e) => breakdownValue(e, name) === key)) }))
        .map(({ ctr: _, ...row }) => row)
        .sort((a, b) => b.impressions - a.impressions || a.key.localeCompare(b.key));
    },
  };
}

const query = (search: string, today = TO): DashboardQuery => {
  const parsed = parseDashboardQuery(new URLSearchParams(search), today);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.query;
};

/** Counts and breakdowns (the figures that need no reach histogram), as {@link expected} gives them. */
function expectCounts(board: Dashboard, want: ReturnType<typeof expected>) {
  const strip = <T extends { unique_devices: number | null }>(row: T) => ({ ...row, unique_devices: 0 });
  expect(board.campaigns.map(({ campaign_name: _, ...row }) => strip(row))).toEqual(
    want.campaigns.map(strip),
  );
  expect({ ...board.totals, unique_devices: 0 }).toEqual({ ...want.totals, unique_devices: 0 });
  expect(board.daily.map(strip)).toEqual(want.daily.map(strip));
  expect(strip(board.previous)).toEqual(strip(want.previous));
  expect(board.hourly).toEqual(want.hourly);
  expect(board.breakdowns.platform).toEqual(want.breakdown('platform'));
  expect(board.breakdowns.country).toEqual(want.breakdown('country'));
  expect(board.breakdowns.material.map(({ name: _, ...row }) => row)).toEqual(want.breakdown('material'));
}

/** Unique devices: per campaign, in total, per day and for the previous period. */
function expectReach(board: Dashboard, want: ReturnType<typeof expected>) {
  expect(board.campaigns.map((c) => [c.provider, c.campaign_id, c.unique_devices])).toEqual(
    want.campaigns.map((c) => [c.provider, c.campaign_id, c.unique_devices]),
  );
  expect(board.totals.unique_devices).toBe(want.totals.unique_devices);
  expect(board.daily.map((d) => [d.day, d.unique_devices])).toEqual(
    want.daily.map((d) => [d.day, d.unique_devices]),
  );
  expect(board.previous.unique_devices).toBe(want.previous.unique_devices);
}

describe('the dashboard over a range of days', () => {
  it('sums impressions, clicks, CTR, hours and breakdowns over the range exactly as the stored events say, a retried delivery counted once', async () => {
    const board = await new DashboardReader(dynamodb, tableName, LAYOUT).read(query(`from=${FROM}&to=${TO}`));
    expect(board).toMatchObject({
      day: TO,
      from: FROM,
      to: TO,
      tz: 'UTC',
      days_in: 'UTC',
      filter: { provider: null, campaign: null, breakdown: null, value: null },
      hourly_available: true,
    });
    const want = expected(FROM, TO);
    // Not a vacuous comparison: the range holds both providers' campaigns and the retried impression once.
    expect(want.totals).toMatchObject({ impressions: 7, clicks: 3 });
    expectCounts(board, want);
    expect(board.campaigns.find((c) => c.campaign_id === 'cmp_a')?.campaign_name).toBe('Campaign cmp_a');
    expect(board.breakdowns.material.map((row) => [row.key, row.name])).toEqual([
      ['mat_1', 'Material mat_1'],
      ['mat_2', 'Material mat_2'],
      ['mail_1', null],
    ]);
  });

  it('gives one daily row per day of the range, oldest first, a day without events as zeros, and the previous period of the same length just before from', async () => {
    const board = await new DashboardReader(dynamodb, tableName, LAYOUT).read(query(`from=${FROM}&to=${TO}`));
    expect(board.daily.map((d) => d.day)).toEqual(['2025-10-12', '2025-10-13', '2025-10-14', '2025-10-15']);
    expect(board.daily[0]).toEqual({ day: FROM, impressions: 0, clicks: 0, ctr: null, unique_devices: 0 });
    expect(board.previous).toMatchObject({ from: '2025-10-08', to: '2025-10-11', impressions: 1, clicks: 1 });
    expect(board.previous.ctr).toBe(1);
    expectCounts(board, expected(FROM, TO));
  });

  it('counts each device once over the range: per campaign, across campaigns per provider, per day and in the previous period', async () => {
    const board = await new DashboardReader(dynamodb, tableName, LAYOUT).read(query(`from=${FROM}&to=${TO}`));
    const want = expected(FROM, TO);
    // Summed day by day and campaign by campaign these would be 3 + 1 + 1 + 1 + 1 + 1 = 8; each device once is 5.
    expect(want.totals.unique_devices).toBe(5);
    expect(want.daily.map((d) => d.unique_devices)).toEqual([0, 2, 2, 2]);
    expectReach(board, want);
  });

  it('answers the first version’s one-day read, read(day), as the same one-day range asked by day=', async () => {
    const reader = new DashboardReader(dynamodb, tableName, LAYOUT);
    const byDay = await reader.read('2025-10-14');
    expect(byDay).toEqual(await reader.read(query('day=2025-10-14')));
    expect(byDay).toMatchObject({ day: '2025-10-14', from: '2025-10-14', to: '2025-10-14' });
    expect(byDay.previous).toMatchObject({ from: '2025-10-13', to: '2025-10-13' });
    expectCounts(byDay, expected('2025-10-14', '2025-10-14'));
  });

  it('drills down to one campaign: its row only, its figures as totals, daily series and previous period, its latest events only', async () => {
    const board = await new DashboardReader(dynamodb, tableName, LAYOUT).read(
      query(`from=${FROM}&to=${TO}&provider=sori&campaign=cmp_a`),
    );
    const want = expected(FROM, TO, { campaign: ['sori', 'cmp_a'] });
    expect(board.filter).toEqual({ provider: 'sori', campaign: 'cmp_a', breakdown: null, value: null });
    expect(board.campaigns.map((c) => c.campaign_id)).toEqual(['cmp_a']);
    expectCounts(board, want);
    expect(board.latest.length).toBeGreaterThan(0);
    expect(board.latest.every((e) => e.provider === 'sori' && e.campaign_id === 'cmp_a')).toBe(true);
    expect(board.latest.every((e) => e.created_at.startsWith(TO))).toBe(true);
    // Unfiltered, the same day's latest events include the other campaign's.
    const all = await new DashboardReader(dynamodb, tableName, LAYOUT).read(query(`from=${FROM}&to=${TO}`));
    expect(new Set(all.latest.map((e) => e.campaign_id))).toEqual(new Set(['cmp_a', 'cmp_b']));
  });

  it('drills down to one campaign with its devices counted once over the range', async () => {
    const board = await new DashboardReader(dynamodb, tableName, LAYOUT).read(
      query(`from=${FROM}&to=${TO}&provider=sori&campaign=cmp_a`),
    );
    const want = expected(FROM, TO, { campaign: ['sori', 'cmp_a'] });
    expect(want.totals.unique_devices).toBe(3);
    expectReach(board, want);
  });

  it('drills down to one breakdown value: the campaigns that counted it with its counts, its own row only, no hours and no devices, the latest events uncut', async () => {
    const unfiltered = await new DashboardReader(dynamodb, tableName, LAYOUT).read(
      query(`from=${FROM}&to=${TO}`),
    );
    expect(new Set(unfiltered.latest.map((e) => e.platform))).toEqual(new Set(['iOS', 'Android']));
    for (const [breakdown, value] of [
      ['platform', 'iOS'],
      ['country', 'France'],
      ['material', 'mat_2'],
    ] as const) {
      const board = await new DashboardReader(dynamodb, tableName, LAYOUT).read(
        query(`from=${FROM}&to=${TO}&breakdown=${breakdown}&value=${encodeURIComponent(value)}`),
      );
      const want = expected(FROM, TO, { breakdown: [breakdown, value] });
      expect(want.campaigns.length, `${breakdown}=${value}`).toBeGreaterThan(0);
      expect(board.filter).toEqual({ provider: null, campaign: null, breakdown, value });
      expect(board.hourly_available).toBe(false);
      expectCounts(board, want);
      expect(board.breakdowns[breakdown].map((row) => row.key)).toEqual([value]);
      expectReach(board, want);
      // The latest events are not cut by breakdown value: the counters cannot say which are the newest of one.
      expect(board.latest, `${breakdown}=${value}`).toEqual(unfiltered.latest);
    }
  });

  it('drills down to one campaign and one breakdown value at once', async () => {
    const board = await new DashboardReader(dynamodb, tableName, LAYOUT).read(
      query(`from=${FROM}&to=${TO}&provider=sori&campaign=cmp_b&breakdown=platform&value=iOS`),
    );
    const want = expected(FROM, TO, { campaign: ['sori', 'cmp_b'], breakdown: ['platform', 'iOS'] });
    expect(want.totals).toMatchObject({ impressions: 1, clicks: 0 });
    expectCounts(board, want);
    expectReach(board, want);
  });

  it('gives the range’s deliveries per provider from what the pipeline counted: received, stored, duplicates and quarantined by the day received', async () => {
    const board = await new DashboardReader(dynamodb, tableName, LAYOUT).read(query(`from=${FROM}&to=${TO}`));
    const received = (provider: Sent['provider']) =>
      counted(FROM, TO).filter((e) => e.provider === provider).length;
    const soriStored = received('sori');
    const row = (provider: string) => board.delivery.by_provider.find((r) => r.provider === provider);
    expect(row('sori')).toEqual({
      provider: 'sori',
      // The events, the retried one again, the quarantined delivery.
      received: soriStored + 2,
      stored: soriStored,
      duplicates: 1,
      quarantined: 1,
      refused: null,
    });
    expect(row('optimizely')).toEqual({
      provider: 'optimizely',
      received: 2,
      stored: 2,
      duplicates: 0,
      quarantined: 0,
      refused: null,
    });
    expect(board.delivery).toMatchObject({
      received: soriStored + 4,
      stored: soriStored + 2,
      duplicates: 1,
      quarantined: 1,
      // No pipeline health source given: what only it knows is null, not 0.
      refused: null,
      dead_letters: null,
      oldest_message_age_s: null,
    });
  });

  it('takes refusals, dead letters and the oldest message’s age from the pipeline health source it is given, for the range asked, a provider it does not count apart null', async () => {
    // A stand-in health source: the figures it gives come from CloudWatch and SQS, which the local servers do
    // not keep; what is tested here is how the reader places them.
    const asked: [string, string][] = [];
    const health: PipelineHealth = {
      read: async (from, to) => {
        asked.push([from, to]);
        return {
          // Served: SORI, Symphony and Optimizely (a source lists only the providers the stack serves).
          refused: { total: 9, by_provider: { sori: 5, symphony: 0, optimizely: 3 } },
          dead_letters: 2,
          oldest_message_age_s: 41,
        };
      },
    };
    const board = await new DashboardReader(dynamodb, tableName, LAYOUT, health).read(
      query(`from=${FROM}&to=${TO}`),
    );
    expect(asked).toEqual([[FROM, TO]]);
    expect(board.delivery).toMatchObject({ refused: 9, dead_letters: 2, oldest_message_age_s: 41 });
    expect(Object.fromEntries(board.delivery.by_provider.map((r) => [r.provider, r.refused]))).toEqual({
      sori: 5,
      symphony: 0,
      // Not counted apart by the source: unknown, not 0.
      adreform: null,
      optimizely: 3,
    });
  });

  it('reads each provider-day of the range and of the previous period with one index query, at most READ_CONCURRENCY at once besides one provider-day query per provider, and looks for material names once', async () => {
    const client = new DynamoDBClient(localClientConfig(inject('dynamodbEndpoint')));
    const commands: { name: string; input: Record<string, unknown> }[] = [];
    let inFlight = 0;
    let most = 0;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        commands.push({ name: String(context.commandName), input: args.input as Record<string, unknown> });
        inFlight += 1;
        most = Math.max(most, inFlight);
        try {
          return await next(args);
        } finally {
          inFlight -= 1;
        }
      },
      { step: 'initialize', name: 'countCalls' },
    );
    const reader = new DashboardReader(client, tableName, LAYOUT);
    const thirtyDays = query(`from=2025-09-16&to=${TO}`);
    await reader.read(thirtyDays);
    const indexQueries = commands.filter(
      (c) => c.name === 'QueryCommand' && c.input.IndexName === RECORDS_TABLE.indexes.byTypeAndDay.name,
    );
    // 30 days and the 30 before them, for each of the four providers.
    expect(indexQueries).toHaveLength(60 * 4);
    expect(new Set(indexQueries.map((c) => JSON.stringify(c.input.ExpressionAttributeValues))).size).toBe(
      240,
    );
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(READ_CONCURRENCY + 4);
    // The range's campaigns have items on several of its days: one query of each campaign's partition reads
    // them (three campaigns), not a batch read per provider-day.
    const partitionQueries = commands.filter(
      (c) => c.name === 'QueryCommand' && String(JSON.stringify(c.input)).includes('"STATS#'),
    );
    expect(partitionQueries).toHaveLength(3);
    expect(commands.filter((c) => c.name === 'BatchGetItemCommand')).toEqual([]);
    const nameSearches = () =>
      commands.filter(
        (c) => c.name === 'QueryCommand' && String(c.input.ProjectionExpression).includes('#name'),
      );
    commands.length = 0;
    await reader.read(thirtyDays);
    expect(nameSearches()).toEqual([]);
  });
});

describe('the counter items of a range', () => {
  it('are read by key for a day of many campaigns and by one query per campaign for a long range, the figures exact either way', async () => {
    const table = await createTestTable(dynamodb, LAYOUT);
    const campaigns = ['cmp_0', 'cmp_1', 'cmp_2', 'cmp_3', 'cmp_4'];
    // Each campaign on each of six days, its devices shared with the others' over the days.
    const days = ['2025-10-09', '2025-10-10', '2025-10-11', '2025-10-12', '2025-10-13', '2025-10-14'];
    const sent = [
      ...days.flatMap((d, n) =>
        campaigns.map((campaign, i) =>
          soriEvent(
            'impression',
            campaign,
            `dev_${(i + n) % 7}`,
            `${d}T09:00:00.000Z`,
            'iOS',
            'Germany',
            'mat_1',
          ),
        ),
      ),
      soriEvent('click', 'cmp_0', 'dev_9', '2025-10-02T09:00:00.000Z', 'iOS', 'Germany', 'mat_1'),
    ];
    await storeAndFold(table.writer, table.counters, sent.map(message));
    const rows = (events: Sent[]) =>
      campaigns
        .map((campaign) => {
          const own = events.filter((e) => e.campaign === campaign);
          return [campaign, figures(own).impressions, figures(own).clicks, devices(own)];
        })
        .filter(([, impressions, clicks]) => Number(impressions) + Number(clicks) > 0);
    const read = async (search: string) => {
      const { client, seen } = faultyDynamoDb();
      const board = await new DashboardReader(client, table.tableName, LAYOUT).read(query(search));
      return {
        rows: board.campaigns
          .map((c) => [c.campaign_id, c.impressions, c.clicks, c.unique_devices])
          .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
        batchReads: seen.filter((c) => c.name === 'BatchGetItemCommand').length,
        partitionQueries: seen.filter(
          (c) => c.name === 'QueryCommand' && JSON.stringify(c.input).includes('"STATS#'),
        ).length,
      };
    };
    // A day and the day before: five campaigns on each, two batch reads by key rather than five queries.
    const oneDay = await read('day=2025-10-14');
    expect(oneDay).toEqual({
      rows: rows(sent.filter((e) => day(e) === '2025-10-14')),
      batchReads: 2,
      partitionQueries: 0,
    });
    // Thirty days and the thirty before them: one query of each campaign's partition rather than seven batch
    // reads by key.
    const range = await read('from=2025-09-15&to=2025-10-14');
    expect(range).toEqual({ rows: rows(sent), batchReads: 0, partitionQueries: 5 });
    expect(range.rows[0]).toEqual(['cmp_0', 6, 1, 7]);
  });
});

describe('the latest events', () => {
  it('are the day’s 20 newest of every campaign and type partition, however they are spread, each partition read in full only when it may hold some of them', async () => {
    const table = await createTestTable(dynamodb, LAYOUT);
    const at = (d: string, second: number) =>
      new Date(Date.parse(`${d}T08:00:00.000Z`) + second * 1000).toISOString();
    const campaigns = Array.from({ length: 30 }, (_, c) => `cmp_${String(c).padStart(2, '0')}`);
    const sent = [
      // 2025-10-14: one campaign holds every one of the day's newest events.
      ...campaigns.flatMap((campaign, c) =>
        [0, 1].map((k) =>
          soriEvent(
            'impression',
            campaign,
            `dev_${c}`,
            at('2025-10-14', c * 2 + k),
            'iOS',
            'Germany',
            'mat_1',
          ),
        ),
      ),
      ...Array.from({ length: 25 }, (_, k) =>
        soriEvent(
          'impression',
          'cmp_hot',
          `dev_${k}`,
          at('2025-10-14', 3_600 + k),
          'iOS',
          'Germany',
          'mat_1',
        ),
      ),
      // 2025-10-15: the newest spread over the campaigns, three each, interleaved in time.
      ...campaigns.flatMap((campaign, c) =>
        [0, 1, 2].map((k) =>
          soriEvent('click', campaign, `dev_${c}`, at('2025-10-15', k * 30 + c), 'iOS', 'Germany', 'mat_1'),
        ),
      ),
      // 2025-10-16: fewer events than the list shows.
      ...campaigns
        .slice(0, 4)
        .flatMap((campaign, c) =>
          [0, 1].map((k) =>
            soriEvent(
              'impression',
              campaign,
              `dev_${c}`,
              at('2025-10-16', c * 2 + k),
              'iOS',
              'Germany',
              'mat_1',
            ),
          ),
        ),
    ];
    const messages = sent.map(message);
    // A material's creation, of no campaign, among the newest of 2025-10-15.
    const material = buildQueueMessage(
      sori,
      Buffer.from(
        JSON.stringify({
          ...soriPayload('admin-material-created'),
          created_at: at('2025-10-15', 75),
          timestamp: at('2025-10-15', 75),
          material: { id: 'mat_new', name: 'New spot', tags: [], image: null },
        }),
      ),
      '2025-10-15T23:00:00.000Z',
    );
    for (let i = 0; i < messages.length; i += 50) {
      await storeAndFold(table.writer, table.counters, messages.slice(i, i + 50));
    }
    await storeAndFold(table.writer, table.counters, [material]);
    const stored = [...messages, material].flatMap((m) => (m.kind === 'event' ? [m.record] : []));
    for (const d of ['2025-10-14', '2025-10-15', '2025-10-16']) {
      const want = stored
        .filter((record) => record.created_at.startsWith(d))
        .sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id))
        .slice(0, LATEST_EVENTS)
        .map((record) => record.id);
      const { client, seen } = faultyDynamoDb();
      const board = await new DashboardReader(client, table.tableName, LAYOUT).read(d);
      expect(
        board.latest.map((event) => event.id),
        d,
      ).toEqual(want);
      const eventQueries = seen.filter(
        (c) => c.name === 'QueryCommand' && JSON.stringify(c.input).includes(`"${EVENT_SORT_PREFIX}"`),
      );
      // Two shards of each campaign's partition family and of each type's; of them, those read in full are at
      // most as many as the events listed.
      const full = eventQueries.filter(
        (c) => c.input.Limit === LATEST_EVENTS && !c.input.ProjectionExpression,
      );
      expect(full.length, d).toBeLessThanOrEqual(LATEST_EVENTS);
      const campaignsOn = new Set(stored.filter((r) => r.created_at.startsWith(d)).map((r) => r.campaign_id));
      expect(eventQueries.length, d).toBeGreaterThan(2 * campaignsOn.size);
    }
    expect(stored.filter((r) => r.created_at.startsWith('2025-10-16'))).toHaveLength(8);
  });
});

describe('the dashboard after a crash and a repair', () => {
  it('equals the stored events once a batch killed part-way is counted by the repair and its deliveries come again', async () => {
    const table = await createTestTable(dynamodb, LAYOUT);
    const sent = [
      ...['2025-10-13', '2025-10-14', '2025-10-15'].flatMap((d, n) =>
        ['cmp_x', 'cmp_y'].flatMap((campaign, c) =>
          [0, 1].map((k) =>
            soriEvent(
              k === 1 && c === 0 ? 'click' : 'impression',
              campaign,
              `dev_${(n + c + k) % 4}`,
              `${d}T1${k}:00:00.000Z`,
              k === 0 ? 'iOS' : 'Android',
              'Germany',
              'mat_1',
            ),
          ),
        ),
      ),
    ];
    const messages = sent.map(message);
    // The consumer's process dies after storing five records: a stand-in client fails every call from then on
    // (no local server can be made to stop a process at a chosen write), so the batch's journal entry stays open.
    let recordPuts = 0;
    const { client } = faultyDynamoDb((command) => {
      const sk = (command.input.Item as { sk?: { S?: string } } | undefined)?.sk?.S;
      if (recordPuts >= 5) return new Error('the process died');
      if (command.name === 'PutItemCommand' && sk?.startsWith('E#')) recordPuts += 1;
      return undefined;
    });
    const outcomes = await storeBatch(
      new EventWriter(client, table.tableName, LAYOUT),
      new CampaignCounters(client, table.tableName, LAYOUT),
      messages,
    );
    expect(outcomes.filter((outcome) => outcome.ok).length).toBeLessThan(messages.length);
    // The scheduled repair, once the batch is stale, counts it from its own writes.
    const repair = new CampaignCounters(dynamodb, table.tableName, LAYOUT, 1_000);
    for (let pass = 0; pass < 5; pass++) {
      const summary = await repair.repair(Date.now() + 120_000);
      if (summary.folded === 0 && summary.failed === 0) break;
    }
    // SQS delivers the batch's messages again; those stored before the crash are duplicates.
    await storeAndFold(table.writer, table.counters, messages);
    const board = await new DashboardReader(dynamodb, table.tableName, LAYOUT).read(
      query('from=2025-10-13&to=2025-10-15'),
    );
    const want = expected('2025-10-13', '2025-10-15', {}, sent);
    expect(want.totals).toMatchObject({ impressions: 9, clicks: 3 });
    expectCounts(board, want);
    expectReach(board, want);
  });
});

describe('a day folded before reach histograms and provider-day items were kept', () => {
  it('counts its campaigns’ devices as their counter items say, sums them across campaigns, and gives its deliveries as unknown', async () => {
    const table = await createTestTable(dynamodb, LAYOUT);
    const day = '2025-10-14';
    const sent = [
      soriEvent('impression', 'cmp_a', 'dev_1', `${day}T09:00:00.000Z`, 'iOS', 'Germany', 'mat_1'),
      soriEvent('impression', 'cmp_a', 'dev_2', `${day}T09:01:00.000Z`, 'iOS', 'Germany', 'mat_1'),
      soriEvent('impression', 'cmp_b', 'dev_1', `${day}T09:02:00.000Z`, 'iOS', 'Germany', 'mat_1'),
    ];
    await storeAndFold(table.writer, table.counters, sent.map(message));
    // As the earlier fold left the day: counter items with their unique devices and no histogram, and no
    // provider-day item.
    for (const campaign of ['cmp_a', 'cmp_b']) {
      await dynamodb.send(
        new UpdateItemCommand({
          TableName: table.tableName,
          Key: counterItemKey({ provider: 'sori', campaignId: campaign, day }),
          UpdateExpression: 'REMOVE #reach',
          ExpressionAttributeNames: { '#reach': REACH_ATTRIBUTE },
        }),
      );
    }
    await dynamodb.send(
      new DeleteItemCommand({ TableName: table.tableName, Key: providerDayKey('sori', day) }),
    );
    const board = await new DashboardReader(dynamodb, table.tableName, LAYOUT).read(day);
    expect(board.campaigns.map((c) => [c.campaign_id, c.unique_devices])).toEqual([
      ['cmp_a', 2],
      ['cmp_b', 1],
    ]);
    // dev_1 is counted in both campaigns: what such a day's items can tell, an upper bound.
    expect(board.totals.unique_devices).toBe(3);
    expect(board.daily).toEqual([{ day, impressions: 3, clicks: 0, ctr: 0, unique_devices: 3 }]);
    const sori = board.delivery.by_provider.find((row) => row.provider === 'sori');
    expect(sori).toEqual({
      provider: 'sori',
      received: null,
      stored: null,
      duplicates: null,
      quarantined: null,
      refused: null,
    });
    expect(board.delivery.by_provider.find((row) => row.provider === 'optimizely')).toMatchObject({
      received: 0,
      stored: 0,
    });
    expect(board.delivery).toMatchObject({
      received: null,
      stored: null,
      duplicates: null,
      quarantined: null,
    });
  });
});

/** API Gateway's `queryStringParameters` of a query string: a name given twice has its values joined by commas. */
function gatewayParameters(search: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(search)) {
    out[name] = out[name] === undefined ? value : `${out[name]},${value}`;
  }
  return out;
}

describe('GET /api/dashboard with a range, locally and deployed', () => {
  let html: string;
  beforeAll(async () => {
    html = await readFile(
      join(import.meta.dirname, '../../functions/campaign-dashboard/page/index.html'),
      'utf8',
    );
  });

  /** The deployed handler with a verifier that takes any token: its sign-in is tested elsewhere. */
  const deployed = (today: string) =>
    createDashboardHandler({
      reader: new DashboardReader(dynamodb, tableName, LAYOUT),
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
      today: () => today,
    });
  const callDeployed = async (search: string, today = TO) => {
    const answer = (await deployed(today)(
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
      return {
        status: response.status,
        body: (await response.json()) as Record<string, unknown> & Dashboard,
      };
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  it('answers the same JSON locally and deployed for a range with a time zone, a campaign and a breakdown value', async () => {
    for (const search of [
      `from=${FROM}&to=${TO}&tz=Europe%2FBerlin`,
      `from=${FROM}&to=${TO}&provider=sori&campaign=cmp_a`,
      `from=${FROM}&to=${TO}&breakdown=country&value=United%20States`,
      `day=2025-10-14`,
    ]) {
      const local = await callLocal(search);
      const remote = await callDeployed(search);
      expect(local.status, search).toBe(200);
      expect(remote, search).toEqual(local);
    }
    const berlin = await callLocal(`from=${FROM}&to=${TO}&tz=Europe%2FBerlin`);
    expect(berlin.body).toMatchObject({ tz: 'Europe/Berlin', days_in: 'UTC', from: FROM, to: TO, day: TO });
    expect(berlin.body.totals).toMatchObject({ impressions: 7, clicks: 3 });
  });

  it('answers 400 with the parameter and the rule broken, the same message locally and deployed', async () => {
    const refused: [string, string][] = [
      ['day=2025-02-30', 'day must be a calendar day, YYYY-MM-DD'],
      ['day=2025-10-14&day=2025-10-15', 'day must be a calendar day, YYYY-MM-DD'],
      ['from=2025-10-1&to=2025-10-14', 'from must be a calendar day, YYYY-MM-DD'],
      ['from=2025-10-01&to=tomorrow', 'to must be a calendar day, YYYY-MM-DD'],
      ['day=2025-10-14&from=2025-10-13', 'day is one day: give either day, or from and to'],
      ['day=2025-10-14&to=2025-10-14', 'day is one day: give either day, or from and to'],
      ['from=2025-10-15&to=2025-10-14', 'from must not be after to: 2025-10-15 is after 2025-10-14'],
      [
        'from=2025-07-14&to=2025-10-14',
        'from and to span at most 92 days: 2025-07-14 to 2025-10-14 is 93 days',
      ],
      ['tz=Mars%2FOlympus_Mons', 'tz must be an IANA time zone name, such as UTC or Europe/Berlin'],
      ['tz=%2B02%3A00', 'tz must be an IANA time zone name, such as UTC or Europe/Berlin'],
      ['provider=sori', 'provider and campaign go together: campaign is missing'],
      ['campaign=cmp_a', 'provider and campaign go together: provider is missing'],
      ['provider=nobody&campaign=cmp_a', 'provider must be one of sori, symphony, adreform, optimizely'],
      ['provider=sori&campaign=', 'campaign must not be empty'],
      ['breakdown=platform', 'breakdown and value go together: value is missing'],
      ['value=iOS', 'breakdown and value go together: breakdown is missing'],
      ['breakdown=hour&value=05', 'breakdown must be one of platform, country, material, app'],
      ['breakdown=platform&value=', 'value must not be empty'],
    ];
    for (const [search, message] of refused) {
      const local = await callLocal(search);
      expect(local, search).toEqual({ status: 400, body: { message } });
      expect(await callDeployed(search), search).toEqual(local);
    }
  });

  it('reads today, UTC, as the range’s last day when no day is asked for', async () => {
    const answer = await callDeployed('', '2025-10-14');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ day: '2025-10-14', from: '2025-10-14', to: '2025-10-14' });
    const fromOnly = await callDeployed('from=2025-10-13', '2025-10-14');
    expect(fromOnly.body).toMatchObject({ from: '2025-10-13', to: '2025-10-14' });
    expect(fromOnly.body.daily).toHaveLength(2);
  });
});
