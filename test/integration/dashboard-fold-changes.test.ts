/**
 * A page left open reads again, after a fold, only what that fold wrote: each fold writes down the counter items
 * and provider-day items it wrote, and a reader one or a few folds behind reads those by key instead of listing
 * and reading every campaign-day of its range again. Whatever it reads, it shows what a new reader shows.
 * Against the local DynamoDB-API server; the client records the commands it sends.
 */
import { randomUUID } from 'node:crypto';
import { DeleteItemCommand, DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { sori } from '../../lib/providers/sori';
import { type DashboardQuery, DashboardReader } from '../../lib/queries/dashboard';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import {
  foldChangesUpdate,
  foldStateVersion,
  MAX_FOLD_CHANGES,
  readFoldChanges,
} from '../../lib/table/counter-items';
import { RECORDS_TABLE, type TableLayout } from '../../lib/table/records-table';
import { localClientConfig } from '../../local/local-stack';
import { soriPayload } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';
import { storeAndFold } from '../support/store-and-fold';

const { dynamodb } = localClients();
const LAYOUT: TableLayout = { shards: 1, retentionDays: null };
const DAYS = ['2026-05-02', '2026-05-03', '2026-05-04'] as const;
const RANGE: DashboardQuery = {
  from: DAYS[0],
  to: DAYS[2],
  tz: 'UTC',
  provider: null,
  campaign: null,
  breakdown: null,
  value: null,
};

/** SORI impressions of one campaign on one day, each from a device of its own. */
const impressions = (campaign: string, day: string, count: number) => {
  const prefix = randomUUID().slice(0, 8);
  const base = soriPayload('impression') as { campaign: Record<string, unknown> };
  return Array.from({ length: count }, (_, i) =>
    buildQueueMessage(
      sori,
      Buffer.from(
        JSON.stringify({
          ...base,
          campaign: { ...base.campaign, id: campaign, name: `Campaign ${campaign}` },
          activity_id: `act_${prefix}_${i}`,
          device_id: `dev_${prefix}_${i}`,
          created_at: `${day}T10:0${i % 10}:00.000Z`,
        }),
      ),
      `${day}T11:00:00.000Z`,
    ),
  );
};

/** A client of the local server that records each command it sends with its input. */
function recordingClient() {
  const client = new DynamoDBClient(localClientConfig(inject('dynamodbEndpoint')));
  const calls: { name: string; input: Record<string, unknown> }[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      calls.push({ name: String(context.commandName), input: args.input as Record<string, unknown> });
      return next(args);
    },
    { step: 'initialize' },
  );
  return { client, calls };
}

const indexQueries = (calls: { name: string; input: Record<string, unknown> }[]) =>
  calls.filter(({ name, input }) => name === 'QueryCommand' && input.IndexName !== undefined);
/** Counter items read by key (`STATS#<provider>#<campaign> <day>`), the folds' lists aside. */
const countersRead = (calls: { name: string; input: Record<string, unknown> }[]) =>
  keysRead(calls).filter((key) => key.startsWith('STATS#') && !key.startsWith('STATS#FOLD '));
const keysRead = (calls: { name: string; input: Record<string, unknown> }[]) =>
  calls
    .filter(({ name }) => name === 'BatchGetItemCommand')
    .flatMap(({ input }) =>
      Object.values(input.RequestItems as Record<string, { Keys: Record<string, { S: string }>[] }>).flatMap(
        ({ Keys }) =>
          Keys.map((key) => `${key[RECORDS_TABLE.partitionKey]?.S} ${key[RECORDS_TABLE.sortKey]?.S}`),
      ),
    );

async function accountOfThreeCampaigns() {
  const table = await createTestTable(dynamodb, LAYOUT);
  for (const day of DAYS) {
    await storeAndFold(table.writer, table.counters, [
      ...impressions('cmp_a', day, 3),
      ...impressions('cmp_b', day, 2),
      ...impressions('cmp_c', day, 1),
    ]);
  }
  return table;
}

describe('the dashboard after a fold', () => {
  it('reads again by key only the counter items and provider-day items the fold wrote, lists no day, and shows what a new reader shows', async () => {
    const { tableName, writer, counters } = await accountOfThreeCampaigns();
    const { client, calls } = recordingClient();
    const reader = new DashboardReader(client, tableName, LAYOUT);
    await reader.read(RANGE);
    await reader.read(RANGE);

    // One more device for cmp_b on the middle day, and a campaign new to the last day.
    await storeAndFold(writer, counters, [
      ...impressions('cmp_b', DAYS[1], 1),
      ...impressions('cmp_new', DAYS[2], 2),
    ]);
    calls.splice(0);
    const after = await reader.read(RANGE);

    expect(indexQueries(calls)).toEqual([]);
    const counterKeys = countersRead(calls);
    expect(counterKeys.sort()).toEqual([`STATS#sori#cmp_b ${DAYS[1]}`, `STATS#sori#cmp_new ${DAYS[2]}`]);
    const fresh = await new DashboardReader(dynamodb, tableName, LAYOUT).read(RANGE);
    expect(after).toEqual(fresh);
    expect(after.totals).toMatchObject({ impressions: 21, unique_devices: 21 });
    expect(after.campaigns.map((row) => row.campaign_id).sort()).toEqual([
      'cmp_a',
      'cmp_b',
      'cmp_c',
      'cmp_new',
    ]);
  });

  it('catches up over several folds at once from their lists, and a drill-down reads only its campaign', async () => {
    const { tableName, writer, counters } = await accountOfThreeCampaigns();
    const { client, calls } = recordingClient();
    const reader = new DashboardReader(client, tableName, LAYOUT);
    const drill: DashboardQuery = { ...RANGE, provider: 'sori', campaign: 'cmp_a' };
    for (const query of [RANGE, drill, RANGE, drill]) await reader.read(query);

    await storeAndFold(writer, counters, impressions('cmp_a', DAYS[0], 2));
    await storeAndFold(writer, counters, impressions('cmp_c', DAYS[2], 1));
    calls.splice(0);
    const range = await reader.read(RANGE);
    expect(indexQueries(calls)).toEqual([]);
    calls.splice(0);
    const campaign = await reader.read(drill);
    expect(countersRead(calls)).toEqual([`STATS#sori#cmp_a ${DAYS[0]}`]);

    const fresh = new DashboardReader(dynamodb, tableName, LAYOUT);
    expect(range).toEqual(await fresh.read(RANGE));
    expect(campaign).toEqual(await fresh.read(drill));
    expect(range.totals.impressions).toBe(21);
    expect(campaign.totals.impressions).toBe(11);
  });

  it('reads everything again when a fold between its loads left no list (expired, or a fold of too many items), and still shows what a new reader shows', async () => {
    const { tableName, writer, counters } = await accountOfThreeCampaigns();
    const { client, calls } = recordingClient();
    const reader = new DashboardReader(client, tableName, LAYOUT);
    await reader.read(RANGE);
    await reader.read(RANGE);

    await storeAndFold(writer, counters, impressions('cmp_b', DAYS[2], 3));
    const counted = (await foldStateVersion(dynamodb, tableName)) as number;
    // What DynamoDB's TTL does to a list a day old.
    await dynamodb.send(
      new DeleteItemCommand({
        TableName: tableName,
        Key: {
          [RECORDS_TABLE.partitionKey]: { S: 'STATS#FOLD' },
          [RECORDS_TABLE.sortKey]: { S: `CHANGES#${counted}` },
        },
      }),
    );
    calls.splice(0);
    const expired = await reader.read(RANGE);
    expect(indexQueries(calls).length).toBeGreaterThan(0);
    expect(expired).toEqual(await new DashboardReader(dynamodb, tableName, LAYOUT).read(RANGE));
    expect(expired.totals.impressions).toBe(21);

    await reader.read(RANGE);
    await storeAndFold(writer, counters, impressions('cmp_c', DAYS[0], 1));
    const next = (await foldStateVersion(dynamodb, tableName)) as number;
    const many = Array.from({ length: MAX_FOLD_CHANGES + 1 }, (_, i) => ({
      provider: 'sori',
      campaignId: `cmp_other_${i}`,
      day: DAYS[0],
    }));
    await dynamodb.send(
      new UpdateItemCommand(
        foldChangesUpdate(tableName, next, { counters: many, providerDays: [] }, Date.now()),
      ),
    );
    calls.splice(0);
    const whole = await reader.read(RANGE);
    expect(indexQueries(calls).length).toBeGreaterThan(0);
    expect(whole).toEqual(await new DashboardReader(dynamodb, tableName, LAYOUT).read(RANGE));
    expect(whole.totals.impressions).toBe(22);
  });
});

describe('the dashboard several folds behind', () => {
  it('reads each item the folds wrote once, however many of them wrote it', async () => {
    const { tableName, writer, counters } = await accountOfThreeCampaigns();
    const { client, calls } = recordingClient();
    const reader = new DashboardReader(client, tableName, LAYOUT);
    await reader.read(RANGE);
    await reader.read(RANGE);

    // Three folds in a row, each writing the same campaign-day (and its provider-day).
    for (let i = 0; i < 3; i++) await storeAndFold(writer, counters, impressions('cmp_a', DAYS[2], 1));
    calls.splice(0);
    const caught = await reader.read(RANGE);
    expect(indexQueries(calls)).toEqual([]);
    expect(countersRead(calls)).toEqual([`STATS#sori#cmp_a ${DAYS[2]}`]);
    expect(caught).toEqual(await new DashboardReader(dynamodb, tableName, LAYOUT).read(RANGE));
    expect(caught.totals.impressions).toBe(21);
  });
});

describe('the dashboard after its first load', () => {
  it("reads the latest fold's items again once, consistently (its first read was eventually consistent), then nothing until the next fold", async () => {
    const { tableName } = await accountOfThreeCampaigns();
    const { client, calls } = recordingClient();
    const reader = new DashboardReader(client, tableName, LAYOUT);
    await reader.read(RANGE);
    calls.splice(0);
    await reader.read(RANGE);
    // The last fold stored the last day's three campaigns.
    expect(countersRead(calls).sort()).toEqual(
      ['cmp_a', 'cmp_b', 'cmp_c'].map((campaign) => `STATS#sori#${campaign} ${DAYS[2]}`),
    );
    const batchReads = calls.filter(({ name }) => name === 'BatchGetItemCommand');
    for (const { input } of batchReads) {
      for (const request of Object.values(input.RequestItems as Record<string, { ConsistentRead?: boolean }>))
        expect(request.ConsistentRead).toBe(true);
    }
    calls.splice(0);
    await reader.read(RANGE);
    expect(countersRead(calls)).toEqual([]);
    expect(indexQueries(calls)).toEqual([]);
  });
});

describe('a fold list', () => {
  it('keeps the union of what every pass of a fold wrote down, and says "read everything" past its size', async () => {
    const { tableName } = await createTestTable(dynamodb, LAYOUT);
    const a = { provider: 'sori', campaignId: 'cmp_a', day: DAYS[0] };
    const b = { provider: 'symphony', campaignId: 'cmp "b"', day: DAYS[1] };
    const send = (counted: number, changes: Parameters<typeof foldChangesUpdate>[2]) =>
      dynamodb.send(new UpdateItemCommand(foldChangesUpdate(tableName, counted, changes, Date.now())));
    await send(7, { counters: [a], providerDays: [{ provider: 'sori', day: DAYS[0] }] });
    // A late pass of the same fold, taken over, writes down what it wrote too.
    await send(7, { counters: [b], providerDays: [{ provider: 'sori', day: DAYS[0] }] });
    const listed = await readFoldChanges(dynamodb, tableName, [7]);
    expect(listed?.whole).toBe(false);
    expect(listed?.counters).toEqual(expect.arrayContaining([a, b]));
    expect(listed?.counters).toHaveLength(2);
    expect(listed?.providerDays).toEqual([{ provider: 'sori', day: DAYS[0] }]);

    expect(await readFoldChanges(dynamodb, tableName, [7, 8])).toBeUndefined();
    const many = Array.from({ length: MAX_FOLD_CHANGES + 1 }, (_, i) => ({ ...a, campaignId: `cmp_${i}` }));
    await send(8, { counters: many, providerDays: [] });
    expect((await readFoldChanges(dynamodb, tableName, [7, 8]))?.whole).toBe(true);
  });
});
