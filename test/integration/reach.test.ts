/**
 * Unique devices over ranges of days, per campaign and across a provider's campaigns, equal to the distinct
 * devices of the stored records: whatever order the days arrive in, with duplicate deliveries, batches killed
 * before they closed, and folds killed while writing a device's days or their answers lost. The local
 * DynamoDB-API server does the storing; a proxy (test/support/dynamodb-proxy.ts) fails, or applies and then
 * loses the answer of, the calls it picks, which a real server cannot be made to do on demand.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import type { QueueMessage } from '../../lib/events/event-record';
import { CampaignCounters, newClaimToken } from '../../lib/ingest/campaign-counters';
import { EventWriter } from '../../lib/ingest/event-writer';
import { storeBatch } from '../../lib/ingest/store-batch';
import { sori } from '../../lib/providers/sori';
import { CampaignStats } from '../../lib/queries/campaign-stats';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { openBatchItem } from '../../lib/table/counter-items';
import { readProviderDays } from '../../lib/table/provider-days';
import { dayNumber, dayOfNumber, devicesOf, type ReachHistogram, uniqueOver } from '../../lib/table/reach';
import type { TableLayout } from '../../lib/table/records-table';
import { localClientConfig } from '../../local/local-stack';
import { soriPayload } from '../support/deliveries';
import { type Fault, type ProxiedCall, startDynamoDbProxy } from '../support/dynamodb-proxy';
import { createTestTable, localClients } from '../support/local-aws';

const { dynamodb } = localClients();
const LAYOUT: TableLayout = { shards: 2, retentionDays: null };
const FIRST_DAY = '2026-03-01';
const DAYS = 9;
const CAMPAIGNS = ['cmp_a', 'cmp_b', 'cmp_c'];

const proxies: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/** SORI impressions and clicks of `devices` devices over the days and campaigns, in a shuffled order. */
function traffic(count: number, devices: number, seed: number): QueueMessage[] {
  const next = random(seed);
  const prefix = randomUUID().slice(0, 6);
  const base = soriPayload('impression');
  return Array.from({ length: count }, (_, i) => {
    const day = dayOfNumber(dayNumber(FIRST_DAY) + Math.floor(next() * DAYS));
    const payload = {
      ...base,
      event: next() < 0.2 ? 'campaign.click' : 'campaign.impression',
      activity_id: `act_${prefix}_${i}`,
      device_id: `device_${prefix}_${Math.floor(next() * devices)}`,
      created_at: `${day}T10:00:00.000Z`,
      campaign: { ...(base.campaign as object), id: CAMPAIGNS[Math.floor(next() * CAMPAIGNS.length)] },
    };
    return buildQueueMessage(sori, Buffer.from(JSON.stringify(payload)), `${day}T10:00:01.000Z`);
  });
}

const recordOf = (message: QueueMessage) => {
  if (message.kind !== 'event') throw new Error('not an event');
  return message.record;
};

/** Distinct devices of the distinct events in a range, of one campaign or of all. */
function truth(messages: QueueMessage[], from: string, to: string, campaign?: string): number {
  const seen = new Set<string>();
  const devices = new Set<string>();
  for (const message of messages) {
    const record = recordOf(message);
    if (seen.has(record.id)) continue;
    seen.add(record.id);
    const day = record.created_at.slice(0, 10);
    if (day < from || day > to || (campaign && record.campaign_id !== campaign)) continue;
    devices.add(record.device_id ?? '');
  }
  return devices.size;
}

/** What the table says: each campaign's histograms by day, and the provider's. */
async function reachInTable(tableName: string) {
  const stats = new CampaignStats(dynamodb, tableName);
  const byCampaign = new Map<string, Map<string, ReachHistogram>>();
  const devicesByDay = new Map<string, number>();
  for (const campaign of CAMPAIGNS) {
    const items = await stats.counterItems('sori', campaign);
    byCampaign.set(campaign, new Map(items.map((item) => [item.day, item.reach])));
    for (const item of items) {
      // Each day's histogram holds exactly the day's unique devices.
      expect(devicesOf(item.reach)).toBe(item.unique_devices);
      devicesByDay.set(`${campaign}/${item.day}`, item.unique_devices);
    }
  }
  const lastDay = dayOfNumber(dayNumber(FIRST_DAY) + DAYS - 1);
  const providerDays = await readProviderDays(dynamodb, tableName, 'sori', FIRST_DAY, lastDay);
  return { byCampaign, provider: new Map(providerDays.map((day) => [day.day, day.reach])), providerDays };
}

/** Every range of the days: each campaign's unique devices and the provider's equal the records'. */
async function expectExact(tableName: string, messages: QueueMessage[]) {
  const { byCampaign, provider } = await reachInTable(tableName);
  const checked: string[] = [];
  for (let from = 0; from < DAYS; from++) {
    for (let to = from; to < DAYS; to++) {
      const range = [
        dayOfNumber(dayNumber(FIRST_DAY) + from),
        dayOfNumber(dayNumber(FIRST_DAY) + to),
      ] as const;
      for (const campaign of CAMPAIGNS) {
        expect(uniqueOver(byCampaign.get(campaign) ?? new Map(), ...range), `${campaign} ${range}`).toBe(
          truth(messages, ...range, campaign),
        );
      }
      expect(uniqueOver(provider, ...range), `all campaigns ${range}`).toBe(truth(messages, ...range));
      checked.push(range.join('..'));
    }
  }
  expect(checked).toHaveLength((DAYS * (DAYS + 1)) / 2);
}

/** Stores `messages` in batches of `size`, as SQS hands them to the consumer. */
async function storeInBatches(
  writer: EventWriter,
  counters: CampaignCounters,
  messages: QueueMessage[],
  size = 7,
) {
  for (let i = 0; i < messages.length; i += size)
    await storeBatch(writer, counters, messages.slice(i, i + size));
}

const isDevicePut = (call: ProxiedCall) =>
  call.action === 'PutItem' &&
  String((call.input.Item as { pk?: { S?: string } })?.pk?.S).startsWith('REACH#');

describe('unique devices over a range', () => {
  it('equal the distinct devices of the stored records for every range, per campaign and across campaigns, with days arriving out of order and duplicates', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb, LAYOUT);
    const messages = traffic(240, 40, 1);
    await storeInBatches(writer, counters, messages.slice(0, 120));
    await counters.repair();
    // Duplicate deliveries (a sender's retries) among the later ones, folded in another pass.
    await storeInBatches(writer, counters, [...messages.slice(120), ...messages.slice(0, 30)]);
    await counters.repair();
    await expectExact(tableName, messages);
  });

  it('count a batch killed before it closed once, from its own writes, in the ranges as in the days', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb, LAYOUT);
    const messages = traffic(60, 15, 2);
    await storeInBatches(writer, counters, messages.slice(0, 30));
    // A consumer killed after its writes: its entry was opened two minutes ago and never closed.
    const killed = messages.slice(30, 45);
    const token = newClaimToken(Date.now() - 120_000);
    const groups = [
      ...new Set(killed.map((m) => `${recordOf(m).campaign_id}|${recordOf(m).created_at.slice(0, 10)}`)),
    ].map((id) => {
      const [campaignId, day] = id.split('|') as [string, string];
      return { key: { provider: 'sori', campaignId, day }, name: null };
    });
    await dynamodb.send(new PutItemCommand({ TableName: tableName, Item: openBatchItem(token, groups) }));
    const other = new EventWriter(dynamodb, tableName, LAYOUT);
    for (const [i, message] of killed.entries()) {
      await other.store(message, `${token}.${i}`);
      await other.markDevice(recordOf(message), true, `${token}.${i}`);
    }
    await storeInBatches(writer, counters, messages.slice(45));
    expect(await counters.repair()).toMatchObject({ recounted: 1, failed: 0 });
    await expectExact(tableName, messages);
  });

  it.each<{ fault: Fault; step: string }>([
    { fault: 'fail-before', step: 'fails on its third device' },
    { fault: 'lose-answer', step: "loses the answer of its third device's write" },
  ])('move every histogram once when a fold $step and a later pass takes it over', async ({ fault }) => {
    const { tableName, writer, counters } = await createTestTable(dynamodb, LAYOUT);
    const messages = traffic(90, 20, 3);
    await storeInBatches(writer, counters, messages.slice(0, 45));
    await counters.repair();
    await storeInBatches(writer, counters, messages.slice(45));
    // Every attempt at the third device's write (the SDK retries a 500), so that the fold cannot finish.
    let devicePuts = 0;
    let victim: string | undefined;
    const proxy = await startDynamoDbProxy({
      fault: (call) => {
        if (!isDevicePut(call)) return undefined;
        const key = JSON.stringify(
          call.input.Item && [
            (call.input.Item as Record<string, unknown>).pk,
            (call.input.Item as Record<string, unknown>).sk,
          ],
        );
        if (++devicePuts === 3) victim = key;
        return key === victim ? fault : undefined;
      },
    });
    proxies.push(proxy);
    const crashing = new CampaignCounters(
      new DynamoDBClient(localClientConfig(proxy.endpoint)),
      tableName,
      LAYOUT,
    );
    const first = await crashing.repair().catch((error: unknown) => error);
    expect(devicePuts).toBeGreaterThanOrEqual(3);
    expect(first).toMatchObject({ failed: 1, folded: 0 });
    // The next passes finish the fold (released at once when it failed; after its lease otherwise).
    await counters.repair(Date.now() + 120_000);
    expect(await counters.repair()).toMatchObject({ failed: 0 });
    await expectExact(tableName, messages);
  });

  it("keep the provider's deliveries per day: each settled, stored for the first time, or a duplicate", async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb, LAYOUT);
    const messages = traffic(50, 10, 4);
    const retries = messages.slice(0, 12);
    await storeInBatches(writer, counters, [...messages, ...retries]);
    await counters.repair();
    const { providerDays } = await reachInTable(tableName);
    const sum = (pick: (day: (typeof providerDays)[number]) => number) =>
      providerDays.reduce((total, day) => total + pick(day), 0);
    expect({
      received: sum((d) => d.received),
      stored: sum((d) => d.stored),
      duplicates: sum((d) => d.duplicates),
      quarantined: sum((d) => d.quarantined),
    }).toEqual({ received: 62, stored: 50, duplicates: 12, quarantined: 0 });
  });

  it('count the deliveries of a batch without a campaign event (logins alone) at the next pass', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb, LAYOUT);
    const prefix = randomUUID().slice(0, 6);
    const logins = Array.from({ length: 3 }, (_, i) =>
      buildQueueMessage(
        sori,
        Buffer.from(JSON.stringify({ ...soriPayload('authentication'), device_id: `login_${prefix}_${i}` })),
        `${FIRST_DAY}T09:00:00.000Z`,
      ),
    );
    await storeBatch(writer, counters, [...logins, logins[0] as QueueMessage]);
    await counters.repair();
    const [day] = await readProviderDays(dynamodb, tableName, 'sori', FIRST_DAY, FIRST_DAY);
    expect(day).toMatchObject({ received: 4, stored: 3, duplicates: 1, quarantined: 0 });
  });

  it("are what `events stats` gives over a range: each campaign's devices counted once, exact up to 92 days", async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb, LAYOUT);
    const messages = traffic(120, 12, 6);
    await storeInBatches(writer, counters, messages);
    await counters.repair();
    const lastDay = dayOfNumber(dayNumber(FIRST_DAY) + DAYS - 1);
    const days = Array.from({ length: DAYS }, (_, i) => dayOfNumber(dayNumber(FIRST_DAY) + i));
    const rows = await new CampaignStats(dynamodb, tableName).rangeStats(['sori'], days);
    expect(rows.map((row) => [row.campaign_id, row.unique_devices, row.unique_devices_exact]).sort()).toEqual(
      CAMPAIGNS.map((campaign) => [campaign, truth(messages, FIRST_DAY, lastDay, campaign), true]).sort(),
    );
  });
});
