/**
 * Counters under the faults only AWS produces: a write applied whose answer is lost, a connection reset after
 * the commit, a permission the role lacks. The local DynamoDB-API server does the storing; a proxy in front of it
 * (test/support/dynamodb-proxy.ts) loses answers and refuses what the policy does not allow.
 */
import { createHash, randomUUID } from 'node:crypto';
import { DeleteItemCommand, DynamoDBClient, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterEach, describe, expect, it } from 'vitest';
import { CampaignInboxStack } from '../../infra/campaign-inbox-stack';
import { DEFAULT_CONFIG } from '../../infra/config';
import type { QueueMessage } from '../../lib/events/event-record';
import { CampaignCounters, type CounterGroup, newClaimToken } from '../../lib/ingest/campaign-counters';
import { EventWriter } from '../../lib/ingest/event-writer';
import { storeBatch } from '../../lib/ingest/store-batch';
import { sori } from '../../lib/providers/sori';
import { CampaignStats } from '../../lib/queries/campaign-stats';
import { DashboardReader } from '../../lib/queries/dashboard';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { openBatchItem } from '../../lib/table/counter-items';
import type { TableLayout } from '../../lib/table/records-table';
import { keyOf } from '../../lib/table/table-io';
import { localClientConfig } from '../../local/local-stack';
import { mulberry32 } from '../../scripts/load';
import { soriPayload } from '../support/deliveries';
import {
  allowedDynamoDbActions,
  type Fault,
  type ProxiedCall,
  startDynamoDbProxy,
} from '../support/dynamodb-proxy';
import { createTestTable, localClients } from '../support/local-aws';

const { dynamodb } = localClients();
const LAYOUT: TableLayout = { shards: 2, retentionDays: 365 };
const proxies: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

/** A client whose requests go through a proxy that applies `fault` to the calls it picks. */
async function clientThrough(fault: (call: ProxiedCall) => Fault | undefined, holdMs?: number) {
  const proxy = await startDynamoDbProxy({ fault, holdMs });
  proxies.push(proxy);
  return { client: new DynamoDBClient(localClientConfig(proxy.endpoint)), proxy };
}

/** SORI events over one or two campaigns, hours, platforms and devices; every event distinct. */
function events(
  count: number,
  options: { campaigns?: number; day?: string; platforms?: number; seed?: string } = {},
) {
  const seed = options.seed ?? randomUUID().slice(0, 6);
  const base = soriPayload('impression');
  return Array.from({ length: count }, (_, i) => {
    const payload = {
      ...base,
      event: i % 3 === 2 ? 'campaign.click' : 'campaign.impression',
      activity_id: `act_${seed}_${i}`,
      device_id: `device_${i % 5}`,
      platform: `platform_${i % (options.platforms ?? 2)}`,
      created_at: `${options.day ?? '2025-10-14'}T${String(5 + (i % 6)).padStart(2, '0')}:00:0${i % 10}.000Z`,
      campaign: { ...(base.campaign as object), id: `cmp_${i % (options.campaigns ?? 1)}` },
    };
    return buildQueueMessage(sori, Buffer.from(JSON.stringify(payload)), '2026-01-01T00:00:00.000Z');
  });
}

/** What the counters must say: per campaign-day, events per type, unique devices, and breakdown totals. */
function expectedCounts(messages: QueueMessage[]) {
  const out: Record<
    string,
    { impressions: number; clicks: number; devices: Set<string>; platforms: number }
  > = {};
  const seen = new Set<string>();
  for (const message of messages) {
    if (message.kind !== 'event' || seen.has(message.record.id)) continue;
    seen.add(message.record.id);
    const key = `${message.record.campaign_id}|${message.record.created_at.slice(0, 10)}`;
    out[key] ??= { impressions: 0, clicks: 0, devices: new Set(), platforms: 0 };
    const entry = out[key];
    if (message.record.event === 'campaign.click') entry.clicks++;
    else entry.impressions++;
    entry.devices.add(message.record.device_id ?? '');
    entry.platforms++;
  }
  return Object.fromEntries(
    Object.entries(out).map(([key, entry]) => [
      key,
      {
        impressions: entry.impressions,
        clicks: entry.clicks,
        unique_devices: entry.devices.size,
        breakdown: entry.platforms,
      },
    ]),
  );
}

async function actualCounts(tableName: string, campaigns: string[]) {
  const stats = new CampaignStats(dynamodb, tableName);
  const out: Record<
    string,
    { impressions: number; clicks: number; unique_devices: number; breakdown: number }
  > = {};
  for (const campaign of campaigns) {
    const rows = await stats.campaignStats('sori', campaign);
    const items = await stats.counterItems('sori', campaign);
    for (const row of rows) {
      const item = items.find((candidate) => candidate.day === row.day);
      let breakdown = 0;
      for (const byEvent of Object.values(item?.breakdowns.platform ?? {})) {
        for (const count of Object.values(byEvent)) breakdown += count;
      }
      out[`${row.campaign_id}|${row.day}`] = {
        impressions: row.impressions,
        clicks: row.clicks,
        unique_devices: row.unique_devices,
        breakdown,
      };
    }
  }
  return out;
}

/** Runs batches as the event source would: a failed message comes back in a later batch. */
async function drain(writer: EventWriter, counters: CampaignCounters, batches: QueueMessage[][]) {
  const queue = [...batches];
  for (let round = 0; queue.length > 0 && round < 200; round++) {
    const batch = queue.shift() ?? [];
    const outcomes = await storeBatch(writer, counters, batch);
    const failed = batch.filter((_, i) => !outcomes[i]?.ok);
    if (failed.length > 0) queue.push(failed);
  }
  expect(queue).toEqual([]);
}

/** Repair passes as the schedule runs them, with the clock past every batch's staleness. */
async function repairAll(tableName: string) {
  const counters = new CampaignCounters(dynamodb, tableName, LAYOUT, 1_000);
  for (let pass = 0; pass < 5; pass++) {
    const summary = await counters.repair(Date.now() + 120_000);
    if (summary.folded === 0 && summary.failed === 0) return;
  }
}

/** A batch killed after its writes: its journal entry opened, its records and markers written, never closed. */
async function killedBatch(
  tableName: string,
  writer: EventWriter,
  messages: QueueMessage[],
  at = Date.now(),
) {
  const token = newClaimToken(at - 120_000);
  const groups = new Map<string, CounterGroup>();
  for (const message of messages) {
    if (message.kind !== 'event' || !message.record.campaign_id) continue;
    const key = {
      provider: 'sori',
      campaignId: message.record.campaign_id,
      day: message.record.created_at.slice(0, 10),
    };
    groups.set(JSON.stringify(key), { key, name: null });
  }
  // Written directly: its own deadline (a few seconds after the token's time) is long past.
  await dynamodb.send(
    new PutItemCommand({ TableName: tableName, Item: openBatchItem(token, [...groups.values()]) }),
  );
  for (const [i, message] of messages.entries()) {
    await writer.store(message, `${token}.${i}`);
    if (message.kind === 'event') await writer.markDevice(message.record, true, `${token}.${i}`);
  }
  return token;
}

const isRecordPut = (call: ProxiedCall) =>
  call.action === 'PutItem' && String((call.input.Item as { sk?: { S?: string } })?.sk?.S).startsWith('E#');
const isCountedFlag = (call: ProxiedCall) =>
  call.action === 'UpdateItem' &&
  JSON.stringify(call.input.ExpressionAttributeNames ?? {}).includes('"counted"');

describe('counters when the answer of an applied write is lost', () => {
  it.each<{ name: string; lost: (call: ProxiedCall) => boolean; fault: Fault; times: number }>([
    { name: 'a first insert (lose-answer)', lost: isRecordPut, fault: 'lose-answer', times: 3 },
    { name: 'a first insert (reset-after)', lost: isRecordPut, fault: 'reset-after', times: 3 },
    { name: "a device's counted flag (lose-answer)", lost: isCountedFlag, fault: 'lose-answer', times: 2 },
  ])('$name whose answer is lost is counted once, breakdowns and unique devices included', async (faulty) => {
    const { tableName } = await createTestTable(dynamodb, LAYOUT);
    let left = faulty.times;
    const { client } = await clientThrough((call) =>
      faulty.lost(call) && left-- > 0 ? faulty.fault : undefined,
    );
    const writer = new EventWriter(client, tableName, LAYOUT);
    const counters = new CampaignCounters(client, tableName, LAYOUT);
    const messages = events(10);
    await drain(writer, counters, [messages]);
    await repairAll(tableName);
    expect(left).toBeLessThan(0);
    expect(await actualCounts(tableName, ['cmp_0'])).toEqual(expectedCounts(messages));
  });

  it("a counter item's fold whose answer is lost is applied once", async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb, LAYOUT);
    let left = 1;
    const { client } = await clientThrough((call) =>
      call.action === 'PutItem' &&
      String((call.input.Item as { pk?: { S?: string } })?.pk?.S).startsWith('STATS#sori#') &&
      left-- > 0
        ? 'lose-answer'
        : undefined,
    );
    const messages = events(40);
    await drain(writer, counters, [messages]);
    await new CampaignCounters(client, tableName, LAYOUT).repair();
    expect(left).toBeLessThan(0);
    expect(await actualCounts(tableName, ['cmp_0'])).toEqual(expectedCounts(messages));
  });
});

describe('the repair', () => {
  it('settles every killed batch even when one of them fails, and counts that one on a later pass', async () => {
    const { tableName, writer } = await createTestTable(dynamodb, LAYOUT);
    const messages = events(9, { campaigns: 3 });
    for (const campaign of ['cmp_0', 'cmp_1', 'cmp_2']) {
      await killedBatch(
        tableName,
        writer,
        messages.filter((m) => m.kind === 'event' && m.record.campaign_id === campaign),
      );
    }
    let failing = true;
    const { client } = await clientThrough((call) =>
      failing && call.action === 'Query' && JSON.stringify(call.input).includes('CAMPAIGN#sori#cmp_1#')
        ? 'fail-before'
        : undefined,
    );
    const repair = new CampaignCounters(client, tableName, LAYOUT, 1_000);
    const first = await repair.repair();
    expect(first).toMatchObject({ recounted: 2, failed: 1, folded: 2 });
    failing = false;
    expect(await repair.repair()).toMatchObject({ recounted: 1, failed: 0, folded: 1 });
    expect(await actualCounts(tableName, ['cmp_0', 'cmp_1', 'cmp_2'])).toEqual(expectedCounts(messages));
  });

  it('finishes a fold that failed after some counter items were written, at the next pass, adding nothing twice', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb, LAYOUT);
    const messages = events(12, { campaigns: 3 });
    await drain(writer, counters, [messages]);
    let puts = 0;
    // The pass "dies" after its first counter item: every later counter write fails.
    const { client } = await clientThrough((call) =>
      call.action === 'PutItem' &&
      String((call.input.Item as { pk?: { S?: string } })?.pk?.S).startsWith('STATS#sori#') &&
      puts++ >= 1
        ? 'fail-before'
        : undefined,
    );
    expect(await new CampaignCounters(client, tableName, LAYOUT).repair()).toMatchObject({
      written: 1,
      failed: 2,
      folded: 0,
    });
    // The failed fold released its lease (its calls were over): the next pass finishes it at once.
    expect(await new CampaignCounters(dynamodb, tableName, LAYOUT).repair()).toMatchObject({
      written: 2,
      failed: 0,
      folded: 1,
    });
    expect(await actualCounts(tableName, ['cmp_0', 'cmp_1', 'cmp_2'])).toEqual(expectedCounts(messages));
  });

  it('never lowers the counts of a day whose records have expired', async () => {
    const layout: TableLayout = { shards: 1, retentionDays: 30 };
    const { tableName, writer, counters } = await createTestTable(dynamodb, layout);
    const messages = events(6, { day: '2020-01-02' });
    await storeBatch(writer, counters, messages);
    await counters.repair();
    const before = await actualCounts(tableName, ['cmp_0']);
    expect(before['cmp_0|2020-01-02']?.impressions).toBe(4);
    // TTL deleted some of the day's records; a batch killed on that day is then counted from its own writes.
    const { Items = [] } = await dynamodb.send(
      new ScanCommand({ TableName: tableName, ConsistentRead: true }),
    );
    for (const item of Items.filter((candidate) => candidate.kind?.S === 'event').slice(0, 4)) {
      await dynamodb.send(new DeleteItemCommand({ TableName: tableName, Key: keyOf(item) }));
    }
    await killedBatch(tableName, writer, []);
    await new CampaignCounters(dynamodb, tableName, layout, 1_000).repair();
    expect(await actualCounts(tableName, ['cmp_0'])).toEqual(before);
  });
});

/** The DynamoDB actions the synthesized template allows the process and the repair functions. */
function templateActions() {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new CampaignInboxStack(app, 'FaultSchedule', { config: DEFAULT_CONFIG });
  const resources = Template.fromStack(stack).toJSON().Resources;
  return {
    process: allowedDynamoDbActions(resources, 'InboxProcessFunction'),
    repair: allowedDynamoDbActions(resources, 'InboxRepair'),
  };
}

/** Every read path's figures per campaign-day: stats per campaign, per day, over a range, and the dashboard. */
async function readPaths(tableName: string, days: string[]) {
  const stats = new CampaignStats(dynamodb, tableName);
  const dashboard = new DashboardReader(dynamodb, tableName, LAYOUT);
  const out: Record<string, unknown> = {};
  for (const day of days) {
    const board = await dashboard.read(day);
    const byDay = await stats.dayStats('sori', day);
    const range = await stats.rangeStats(['sori'], [day]);
    for (const row of board.campaigns) {
      const same = (r: { campaign_id: string }) => r.campaign_id === row.campaign_id;
      out[`${row.campaign_id}|${day}`] = {
        dashboard: [row.impressions, row.clicks, row.unique_devices],
        day: byDay.filter(same).map((r) => [r.impressions, r.clicks, r.unique_devices])[0],
        range: range.filter(same).map((r) => [r.impressions, r.clicks, r.unique_devices])[0],
      };
    }
    const breakdown = board.breakdowns.platform.reduce((sum, r) => sum + r.impressions + r.clicks, 0);
    out[`platforms|${day}`] = breakdown;
    out[`hours|${day}`] = board.hourly.reduce((sum, r) => sum + r.impressions + r.clicks, 0);
  }
  return out;
}

function expectedReadPaths(messages: QueueMessage[]) {
  const out: Record<string, unknown> = {};
  const totals: Record<string, number> = {};
  for (const [key, counts] of Object.entries(expectedCounts(messages))) {
    const figures = [counts.impressions, counts.clicks, counts.unique_devices];
    out[key] = { dashboard: figures, day: figures, range: figures };
    const day = key.split('|')[1] ?? '';
    totals[day] = (totals[day] ?? 0) + counts.impressions + counts.clicks;
  }
  for (const [day, total] of Object.entries(totals)) {
    out[`platforms|${day}`] = total;
    out[`hours|${day}`] = total;
  }
  return out;
}

describe('counters under a schedule of faults on every call', () => {
  const seed = Number(process.env.FAULT_SEED ?? 20261205);
  it(`equal the stored records on every read path after the repair, each role allowed only what the template grants, no event reported stored twice (seed ${seed}; FAULT_SEED picks another)`, async () => {
    const random = mulberry32(seed);
    const faults: Fault[] = ['lose-answer', 'reset-after', 'fail-before', 'throttle'];
    // A call's fault is drawn from the seed, what the call is and how many such calls came before it, not from
    // the order concurrent calls happen to arrive in: the same seed gives the same calls the same faults.
    const seen = new Map<string, number>();
    const fault = (call: ProxiedCall) => {
      const input = call.input as Record<string, unknown>;
      const what = JSON.stringify([
        call.action,
        (input.Key ?? input.Item ?? input.RequestItems) as unknown,
        input.IndexName,
        input.ExpressionAttributeNames,
        input.KeyConditionExpression,
      ]).replace(/claim_[0-9a-z]+_[0-9a-f]+/g, 'claim');
      const n = seen.get(what) ?? 0;
      seen.set(what, n + 1);
      const draw = createHash('sha256').update(`${seed}|${what}|${n}`).digest();
      if (draw.readUInt32BE(0) / 2 ** 32 >= 0.12) return undefined;
      injected++;
      return faults[draw.readUInt8(4) % faults.length];
    };
    let injected = 0;
    const allowed = templateActions();
    const { tableName } = await createTestTable(dynamodb, LAYOUT);
    const consumer = await startDynamoDbProxy({ allow: allowed.process, fault });
    const repairer = await startDynamoDbProxy({ allow: allowed.repair, fault });
    proxies.push(consumer, repairer);
    const client = new DynamoDBClient(localClientConfig(consumer.endpoint));
    const writer = new EventWriter(client, tableName, LAYOUT);
    const counters = new CampaignCounters(client, tableName, LAYOUT);
    // The events are the seed's too (each test has its own table), so that the calls are the same.
    const messages = events(60, { campaigns: 3, platforms: 4, seed: `s${seed}` });
    const deliveries = [...messages, ...messages.filter(() => random() < 0.3)].sort(() => random() - 0.5);
    const batches: QueueMessage[][] = [];
    for (let i = 0; i < deliveries.length; i += 7) batches.push(deliveries.slice(i, i + 7));
    const stored = new Map<string, number>();
    const queue = [...batches];
    for (let round = 0; queue.length > 0 && round < 300; round++) {
      const batch = queue.shift() ?? [];
      const outcomes = await storeBatch(writer, counters, batch);
      batch.forEach((message, i) => {
        const outcome = outcomes[i];
        if (outcome?.ok && outcome.outcome === 'stored')
          stored.set(message.record.id, (stored.get(message.record.id) ?? 0) + 1);
      });
      const failed = batch.filter((_, i) => !outcomes[i]?.ok);
      if (failed.length > 0) queue.push(failed);
    }
    expect(queue).toEqual([]);
    // The scheduled repair, through the same faults, pass after pass as the schedule runs it, with the clock
    // past every claim's staleness.
    const repair = new CampaignCounters(
      new DynamoDBClient(localClientConfig(repairer.endpoint)),
      tableName,
      LAYOUT,
    );
    for (let pass = 0; pass < 30; pass++) {
      const summary = await repair.repair(Date.now() + 120_000).catch(() => undefined);
      if (summary?.checked === 0) break;
    }
    expect(injected).toBeGreaterThan(5);
    expect(consumer.refused).toEqual([]);
    expect(repairer.refused).toEqual([]);
    expect(await readPaths(tableName, ['2025-10-14'])).toEqual(expectedReadPaths(messages));
    const { Items = [] } = await dynamodb.send(
      new ScanCommand({ TableName: tableName, ConsistentRead: true }),
    );
    expect(Items.filter((item) => item.kind?.S === 'event')).toHaveLength(messages.length);
    expect([...stored.values()].every((times) => times === 1)).toBe(true);
  });
});

describe('a writer on a slow link', () => {
  it('gives up a record put held on the link past its deadline (the link then never delivers it), and the redelivery is stored and counted once', async () => {
    const { tableName } = await createTestTable(dynamodb, LAYOUT);
    let held = 0;
    const proxy = await startDynamoDbProxy({
      fault: (call) => (isRecordPut(call) && held++ === 0 ? 'hold' : undefined),
      holdMs: 4_000,
    });
    proxies.push(proxy);
    const client = new DynamoDBClient(localClientConfig(proxy.endpoint));
    // Batches stale after 2 s: the batch's table calls must end within 1 s.
    const writer = new EventWriter(client, tableName, LAYOUT);
    const counters = new CampaignCounters(client, tableName, LAYOUT, 2_000);
    const [message] = events(1);
    if (!message) throw new Error('no event');
    const [outcome] = await storeBatch(writer, counters, [message]);
    expect(outcome?.ok).toBe(false);

    // The repair counts the batch from its own writes once it is stale; the held put would land after it.
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    await new CampaignCounters(dynamodb, tableName, LAYOUT, 2_000).repair();
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const [again] = await storeBatch(writer, counters, [message]);
    expect(again).toEqual({ ok: true, outcome: 'stored' });
    await repairAll(tableName);
    expect(await actualCounts(tableName, ['cmp_0'])).toEqual(expectedCounts([message]));
  });
});

describe('a write applied after its call failed', () => {
  it('is counted by the repair when an attempt cut off without an answer lands after the last attempt was answered', async () => {
    const { tableName } = await createTestTable(dynamodb, LAYOUT);
    const messages = events(5);
    const victim = messages[2];
    if (!victim) throw new Error('no event');
    let attempt = 0;
    // The victim's put: the first attempt reaches the table 300 ms after its connection was cut, every retry
    // is answered 500 without being applied; the call fails with that answered 500.
    const { client } = await clientThrough((call) => {
      if (call.action !== 'PutItem' || !JSON.stringify(call.input).includes(victim.record.id))
        return undefined;
      attempt++;
      return attempt === 1 ? 'late' : attempt <= 4 ? 'fail-before' : undefined;
    }, 300);
    const writer = new EventWriter(client, tableName, LAYOUT);
    const counters = new CampaignCounters(client, tableName, LAYOUT);
    const outcomes = await storeBatch(writer, counters, messages);
    expect(outcomes[2]?.ok).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 600));
    // SQS redelivers it: the record is there already.
    expect(await storeBatch(writer, counters, [victim])).toEqual([{ ok: true, outcome: 'duplicate' }]);
    await repairAll(tableName);
    expect(await actualCounts(tableName, ['cmp_0'])).toEqual(expectedCounts(messages));
  });
});
