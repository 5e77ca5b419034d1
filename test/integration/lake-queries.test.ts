/**
 * The lake's shipped Athena queries, run as they are in DuckDB over the files the local lake sink writes, give
 * the numbers `events stats` and the dashboard give for the same records: stored through the consumer's ingest
 * port into the local DynamoDB-API server, duplicate deliveries included, counters folded by the repair.
 *
 * The one difference from Athena is where the `events` table comes from: here a DuckDB view over the sink's
 * newline-delimited JSON files (`lakeViewSql`), there the Iceberg table in Glue. The query text is the shipped
 * file's, byte for byte; its two `?` parameters are bound as values here and as `'YYYY-MM-DD'` literals there.
 */
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueueMessage } from '../../lib/events/event-record';
import { createIngest } from '../../lib/ingest/ingest';
import { LAKE_QUERIES, lakeQueryText } from '../../lib/lake/lake-queries';
import { type LakeRow, lakeRowOf } from '../../lib/lake/lake-row';
import { optimizely } from '../../lib/providers/optimizely';
import type { Provider } from '../../lib/providers/provider';
import { sori } from '../../lib/providers/sori';
import { symphony } from '../../lib/providers/symphony';
import { DashboardReader } from '../../lib/queries/dashboard';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { DEFAULT_LAYOUT } from '../../lib/table/records-table';
import { LakeSink, lakeViewSql } from '../../local/lake-sink';
import { soriPayload } from '../support/deliveries';
import { eventsOn } from '../support/events-cli';
import { createTestTable, localClients } from '../support/local-aws';

const { dynamodb } = localClients();
const RECEIVED = '2025-10-16T23:00:00.000Z';

type EventMessage = Extract<QueueMessage, { kind: 'event' }>;

const built = (provider: Provider, payload: unknown, app?: string): EventMessage => {
  const message = buildQueueMessage(
    provider,
    Buffer.from(JSON.stringify(payload)),
    RECEIVED,
    app === undefined ? undefined : { app },
  );
  if (message.kind !== 'event') throw new Error(`not an event: ${message.record.reason}`);
  return message;
};

/** A SORI campaign event; each one a different activity, so a different record. */
let activity = 0;
function soriEvent(
  event: 'impression' | 'click',
  at: string,
  fields: {
    campaign: string;
    device: string;
    platform: string;
    country: string;
    material: [string, string];
    app?: string;
  },
) {
  const base = soriPayload(event);
  return built(
    sori,
    {
      ...base,
      created_at: at,
      timestamp: at,
      activity_id: `act_lake_${++activity}`,
      device_id: fields.device,
      platform: fields.platform,
      geolocation: { viewer_country: fields.country, viewer_region: null, viewer_city: null },
      campaign: { ...(base.campaign as object), id: fields.campaign, name: `Campaign ${fields.campaign}` },
      material: { ...(base.material as object), id: fields.material[0], name: fields.material[1] },
    },
    fields.app,
  );
}

const optimizelyEvent = (type: 'open' | 'click', at: string, recipient: string, id: string) =>
  built(optimizely, {
    type,
    id,
    recipientId: recipient,
    clientId: 10180860001,
    created: Date.parse(at),
    mailingId: 777,
    mailId: 'mail_1',
    mediaType: 'EMAIL',
  });

const A = { campaign: 'cmp_A', country: 'United States' };
/**
 * Three days of two providers' campaigns, with events no campaign counts among them; some of SORI's came to the
 * URLs of two apps of its own, the rest to its own URL (the default app).
 */
const DAY_14 = [
  soriEvent('impression', '2025-10-14T05:00:00.000Z', {
    ...A,
    device: 'dev1',
    platform: 'Android',
    material: ['mat_1', 'Spot v1'],
  }),
  soriEvent('impression', '2025-10-14T06:00:00.000Z', {
    ...A,
    device: 'dev2',
    platform: 'iOS',
    country: 'France',
    material: ['mat_1', 'Spot v1'],
    app: 'agency-a',
  }),
  soriEvent('click', '2025-10-14T06:30:00.000Z', {
    ...A,
    device: 'dev1',
    platform: 'Android',
    material: ['mat_1', 'Spot v1'],
  }),
  built(sori, soriPayload('authentication')),
  optimizelyEvent('open', '2025-10-14T08:00:00.000Z', 'r1@example.com', 'opt-1'),
];
const DAY_15 = [
  soriEvent('impression', '2025-10-15T05:00:00.000Z', {
    ...A,
    device: 'dev1',
    platform: 'Android',
    material: ['mat_2', 'Banner'],
  }),
  soriEvent('impression', '2025-10-15T07:00:00.000Z', {
    ...A,
    device: 'dev3',
    platform: 'iOS',
    country: 'Germany',
    material: ['mat_2', 'Banner'],
  }),
  soriEvent('click', '2025-10-15T07:10:00.000Z', {
    ...A,
    device: 'dev3',
    platform: 'iOS',
    country: 'Germany',
    material: ['mat_2', 'Banner'],
    app: 'agency-a',
  }),
  soriEvent('impression', '2025-10-15T09:00:00.000Z', {
    campaign: 'cmp_B',
    country: 'United States',
    device: 'dev1',
    platform: 'Android',
    material: ['mat_3', 'Square'],
    app: 'agency-b',
  }),
  soriEvent('click', '2025-10-15T09:01:00.000Z', {
    campaign: 'cmp_B',
    country: 'United States',
    device: 'dev1',
    platform: 'Android',
    material: ['mat_3', 'Square'],
    app: 'agency-b',
  }),
  optimizelyEvent('click', '2025-10-15T08:00:00.000Z', 'r1@example.com', 'opt-2'),
];
const DAY_16 = [
  soriEvent('impression', '2025-10-16T05:00:00.000Z', {
    ...A,
    device: 'dev2',
    platform: 'web',
    material: ['mat_1', 'Spot v2'],
  }),
  optimizelyEvent('open', '2025-10-16T08:00:00.000Z', 'r2@example.com', 'opt-3'),
  // Keyed by id (no time of its own): a campaign's event that no campaign-day counts.
  built(symphony, { event: 'campaign.created', provider: 'facebook', id: 'cmp_sym_1', status: 'DRAFT' }),
];
const EVENTS = [...DAY_14, ...DAY_15, ...DAY_16];

const RANGES: [string, string][] = [
  ['2025-10-14', '2025-10-16'],
  ['2025-10-14', '2025-10-15'],
  ['2025-10-15', '2025-10-15'],
  ['2025-10-16', '2025-10-16'],
  ['2025-10-17', '2025-10-20'],
];

let tableName: string;
let lakeDir: string;
let duckdb: DuckDBInstance;
let sql: DuckDBConnection;

/** Every row in a sink's files. */
async function lakeRows(dir = lakeDir): Promise<LakeRow[]> {
  const rows: LakeRow[] = [];
  const files = (await readdir(dir, { recursive: true })).filter((file) => file.endsWith('.jsonl'));
  for (const file of files) {
    for (const line of (await readFile(join(dir, file), 'utf8')).split('\n')) {
      if (line) rows.push(JSON.parse(line));
    }
  }
  return rows;
}

/** Runs a shipped query, its text as shipped, over the local lake (or the one `connection` reads). */
async function shipped(
  name: string,
  since: string,
  until: string,
  connection = sql,
): Promise<Record<string, unknown>[]> {
  const query = LAKE_QUERIES.find((q) => q.name === name);
  if (!query) throw new Error(`no query ${name}`);
  const reader = await connection.runAndReadAll(lakeQueryText(query), [since, until]);
  return reader
    .getRowObjectsJS()
    .map((row) =>
      Object.fromEntries(
        Object.entries(row).map(([key, value]) => [key, typeof value === 'bigint' ? Number(value) : value]),
      ),
    );
}

beforeAll(async () => {
  const table = await createTestTable(dynamodb);
  tableName = table.tableName;
  lakeDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-lake-'));
  const sink = new LakeSink(lakeDir);
  const ingest = createIngest({ writer: table.writer, counters: table.counters, onStored: sink.onStored });
  // Duplicate deliveries: one in its own batch, two of the first day's again in the next batch, and one of the
  // second day's again with the third.
  const batches = [
    [...DAY_14, DAY_14[0]],
    [...DAY_15, DAY_14[1], DAY_14[2]],
    [...DAY_16, DAY_15[2]],
  ] as QueueMessage[][];
  for (const batch of batches) {
    const outcomes = await ingest.store(batch);
    expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
  }
  await table.counters.repair();
  duckdb = await DuckDBInstance.create(':memory:');
  sql = await duckdb.connect();
  await sql.run(lakeViewSql(lakeDir));
}, 60_000);

afterAll(async () => {
  sql?.closeSync();
  duckdb?.closeSync();
  if (lakeDir) await rm(lakeDir, { recursive: true, force: true });
});

describe('the local lake', () => {
  it('holds one row per stored event, whatever the duplicate deliveries, partitioned by day and provider', async () => {
    const rows = await lakeRows();
    const expected = EVENTS.map((m) => lakeRowOf(m.record, m.policy?.keyed_by_id));
    const byId = (a: LakeRow, b: LakeRow) => a.id.localeCompare(b.id);
    expect(rows.sort(byId)).toEqual(expected.sort(byId));
    const files = (await readdir(lakeDir, { recursive: true })).filter((file) => file.endsWith('.jsonl'));
    const partitions = [...new Set(files.map((file) => file.split('/').slice(0, 2).join('/')))].sort();
    expect(partitions).toEqual([
      'day=2025-10-14/provider=optimizely',
      'day=2025-10-14/provider=sori',
      'day=2025-10-15/provider=optimizely',
      'day=2025-10-15/provider=sori',
      'day=2025-10-16/provider=optimizely',
      'day=2025-10-16/provider=sori',
      'day=2025-10-16/provider=symphony',
    ]);
  });
});

describe('the local lake filled from the table', () => {
  it('holds the rows the sink wrote as batches were stored, made from the stored items as the stream transform makes them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'campaign-inbox-lake-backfill-'));
    try {
      expect(await new LakeSink(dir).backfill(dynamodb, tableName)).toBe(EVENTS.length);
      const byId = (a: LakeRow, b: LakeRow) => a.id.localeCompare(b.id);
      expect((await lakeRows(dir)).sort(byId)).toEqual((await lakeRows()).sort(byId));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the shipped campaign-stats query', () => {
  it('gives what events stats gives, campaign by campaign, over each range', async () => {
    for (const [since, until] of RANGES) {
      const run = await eventsOn(tableName, ['stats', '--since', since, '--until', until, '--json']);
      expect(run.code).toBe(0);
      const cli = run.stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line))
        .map(({ provider, campaign_id, impressions, clicks, ctr, unique_devices }) => ({
          provider,
          campaign_id,
          impressions,
          clicks,
          ctr,
          unique_devices,
        }));
      const lake = await shipped('campaign-stats', since, until);
      const order = (a: Record<string, unknown>, b: Record<string, unknown>) =>
        `${a.provider} ${a.campaign_id}`.localeCompare(`${b.provider} ${b.campaign_id}`);
      expect(lake.sort(order), `${since}..${until}`).toEqual(cli.sort(order));
    }
  });

  it('counts what it should: the three days of campaign A are 5 impressions, 2 clicks, 3 devices', async () => {
    const rows = await shipped('campaign-stats', '2025-10-14', '2025-10-16');
    expect(rows).toContainEqual({
      provider: 'sori',
      campaign_id: 'cmp_A',
      impressions: 5,
      clicks: 2,
      ctr: 2 / 5,
      unique_devices: 3,
    });
    expect(rows.map((row) => row.provider)).not.toContain('symphony');
  });

  it('counts a row the stream delivered twice once', async () => {
    // A copy of the lake, so that the other tests read it as the consumer wrote it, in any order.
    const copy = await mkdtemp(join(tmpdir(), 'campaign-inbox-lake-copy-'));
    // A database of its own: a view is the database's, shared by its connections.
    const database = await DuckDBInstance.create(':memory:');
    const connection = await database.connect();
    try {
      await cp(lakeDir, copy, { recursive: true });
      await new LakeSink(copy).write(DAY_15.map((m) => lakeRowOf(m.record)));
      expect((await lakeRows(copy)).length).toBe(EVENTS.length + DAY_15.length);
      await connection.run(lakeViewSql(copy));
      for (const name of LAKE_QUERIES.filter((q) => q.kind === 'range').map((q) => q.name)) {
        expect(await shipped(name, '2025-10-14', '2025-10-16', connection), name).toEqual(
          await shipped(name, '2025-10-14', '2025-10-16'),
        );
      }
    } finally {
      connection.closeSync();
      database.closeSync();
      await rm(copy, { recursive: true, force: true });
    }
  });
});

describe('the shipped breakdown queries', () => {
  it("give the dashboard's platform, country, material and app breakdowns over each range", async () => {
    for (const [from, to] of RANGES.slice(0, 4)) {
      // A reader of its own per range: a reader keeps the material names it has read, from any range.
      const reader = new DashboardReader(dynamodb, tableName, DEFAULT_LAYOUT);
      const dashboard = await reader.read({
        from,
        to,
        tz: 'UTC',
        provider: null,
        campaign: null,
        breakdown: null,
        value: null,
      });
      const order = (a: { key?: unknown }, b: { key?: unknown }) =>
        String(a.key).localeCompare(String(b.key));
      expect(dashboard.app_available, `${from}..${to}`).toBe(true);
      for (const breakdown of ['platform', 'country', 'material', 'app'] as const) {
        const lake = await shipped(`${breakdown}-breakdown`, from, to);
        expect(lake.sort(order), `${breakdown} ${from}..${to}`).toEqual(
          [...dashboard.breakdowns[breakdown]].sort(order),
        );
      }
    }
  });
});

describe('the shipped app-breakdown query', () => {
  it("counts each app's events under it, and those of the provider's own URL under the default app", async () => {
    const rows = await shipped('app-breakdown', '2025-10-14', '2025-10-16');
    // Optimizely's events count under the default app as well: its deliveries came to its own URL.
    expect(rows.sort((a, b) => String(a.key).localeCompare(String(b.key)))).toEqual([
      { key: 'agency-a', impressions: 1, clicks: 1 },
      { key: 'agency-b', impressions: 1, clicks: 1 },
      { key: 'default', impressions: 6, clicks: 2 },
    ]);
  });
});
