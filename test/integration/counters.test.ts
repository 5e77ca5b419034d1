import { randomUUID } from 'node:crypto';
import {
  GetItemCommand,
  ProvisionedThroughputExceededException,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import type { QueueMessage } from '../../lib/events/event-record';
import { CampaignCounters, newClaimToken } from '../../lib/ingest/campaign-counters';
import { EventWriter } from '../../lib/ingest/event-writer';
import { storeBatch } from '../../lib/ingest/store-batch';
import { sori } from '../../lib/providers/sori';
import { CampaignStats } from '../../lib/queries/campaign-stats';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import type { TableLayout } from '../../lib/table/records-table';
import { mulberry32 } from '../../scripts/load';
import { soriPayload } from '../support/deliveries';
import { createTestTable, eventually, faultyDynamoDb, localClients } from '../support/local-aws';

const { dynamodb } = localClients();

/** A realistic burst: impressions and clicks over campaigns, devices and two days, each event unique. */
function burst(count: number, seed = randomUUID().slice(0, 6)) {
  const base = soriPayload('impression');
  return Array.from({ length: count }, (_, i) => {
    const click = i % 4 === 3;
    const payload = {
      ...base,
      event: click ? 'campaign.click' : 'campaign.impression',
      activity_id: `act_${seed}_${i}`,
      device_id: `device_${i % 7}`,
      platform: i % 5 === 0 ? 'iOS' : 'Android',
      created_at: `2025-10-${i % 2 === 0 ? '14' : '15'}T0${5 + (i % 3)}:${String(i % 60).padStart(2, '0')}:12.421Z`,
      campaign: { ...(base.campaign as object), id: `cmp_${i % 3}` },
    };
    return buildQueueMessage(sori, Buffer.from(JSON.stringify(payload)), '2026-01-01T00:00:00.000Z');
  });
}

/** The exact counts of distinct events: what the counters must equal. */
function expected(messages: QueueMessage[]) {
  const byKey = new Map<string, { impressions: number; clicks: number; devices: Set<string> }>();
  const seen = new Set<string>();
  for (const message of messages) {
    if (message.kind !== 'event' || seen.has(message.record.id)) continue;
    seen.add(message.record.id);
    const key = `${message.record.campaign_id}|${message.record.created_at.slice(0, 10)}`;
    const entry = byKey.get(key) ?? { impressions: 0, clicks: 0, devices: new Set<string>() };
    if (message.record.event === 'campaign.click') entry.clicks++;
    else entry.impressions++;
    entry.devices.add(message.record.device_id ?? '');
    byKey.set(key, entry);
  }
  return [...byKey.entries()]
    .map(([key, entry]) => ({
      key,
      impressions: entry.impressions,
      clicks: entry.clicks,
      unique_devices: entry.devices.size,
    }))
    .sort((a, b) => a.key.localeCompare(b.key));
}

/** Events per hour, platform, country, material and app of each campaign-day, from the distinct events. */
function expectedBreakdowns(messages: QueueMessage[]) {
  const counts: Record<string, number> = {};
  const seen = new Set<string>();
  for (const message of messages) {
    if (message.kind !== 'event' || seen.has(message.record.id)) continue;
    seen.add(message.record.id);
    const r = message.record;
    const values = [
      ['hour', r.created_at.slice(11, 13)],
      ['platform', r.platform],
      ['country', r.geolocation?.viewer_country],
      ['material', r.material_id],
      // A record that names no app came to its provider's own URL: the default app.
      ['app', r.app ?? 'default'],
    ];
    for (const [breakdown, value] of values) {
      const key = `${r.campaign_id}|${r.created_at.slice(0, 10)}|${breakdown}|${value}|${r.event}`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
  }
  return counts;
}

async function actualBreakdowns(stats: CampaignStats) {
  const counts: Record<string, number> = {};
  for (const campaign of ['cmp_0', 'cmp_1', 'cmp_2']) {
    for (const item of await stats.counterItems('sori', campaign)) {
      for (const [breakdown, byValue] of Object.entries(item.breakdowns)) {
        for (const [value, byEvent] of Object.entries(byValue)) {
          for (const [event, count] of Object.entries(byEvent)) {
            if (count > 0) counts[`${campaign}|${item.day}|${breakdown}|${value}|${event}`] = count;
          }
        }
      }
    }
  }
  return counts;
}

async function actual(stats: CampaignStats) {
  const rows = [];
  for (const campaign of ['cmp_0', 'cmp_1', 'cmp_2']) {
    for (const row of await stats.campaignStats('sori', campaign)) {
      rows.push({
        key: `${row.campaign_id}|${row.day}`,
        impressions: row.impressions,
        clicks: row.clicks,
        unique_devices: row.unique_devices,
      });
    }
  }
  return rows.sort((a, b) => a.key.localeCompare(b.key));
}

/** Deliveries with 30 % duplicates in random order, cut into batches of `size`. */
function deliveries(messages: QueueMessage[], size: number, random = mulberry32(7)) {
  const all = [...messages, ...messages.filter(() => random() < 0.3)];
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [all[i], all[j]] = [all[j] as QueueMessage, all[i] as QueueMessage];
  }
  const batches: QueueMessage[][] = [];
  for (let i = 0; i < all.length; i += size) batches.push(all.slice(i, i + size));
  return batches;
}

/** Runs batches like the event source: a failed message comes back in a later batch until it succeeds. */
async function drain(
  writer: EventWriter,
  counters: CampaignCounters,
  batches: QueueMessage[][],
  repair: () => Promise<unknown> = () => counters.repair(),
  concurrency = 3,
) {
  const queue = [...batches];
  let rounds = 0;
  while (queue.length > 0 && rounds++ < 50) {
    const running = queue.splice(0, concurrency);
    const results = await Promise.all(running.map((batch) => storeBatch(writer, counters, batch)));
    results.forEach((outcomes, b) => {
      const failed = (running[b] ?? []).filter((_, i) => !outcomes[i]?.ok);
      if (failed.length > 0) queue.push(failed);
    });
  }
  expect(queue).toEqual([]);
  // The scheduled repair folds the batches' journal into the counter items.
  await repair();
}

describe.each<TableLayout>([
  { shards: 1, retentionDays: 365 },
  { shards: 4, retentionDays: 365 },
])('campaign counters with %o', (layout) => {
  it('equal the distinct events per campaign and day, by hour, platform, country and material too, after a burst with 30 % duplicates in random order, once folded', async () => {
    const { writer, counters, stats } = await createTestTable(dynamodb, layout);
    const messages = burst(120);
    await drain(writer, counters, deliveries(messages, 10));
    expect(await actual(stats)).toEqual(expected(messages));
    expect(await actualBreakdowns(stats)).toEqual(expectedBreakdowns(messages));
    const top = await stats.dayStats('sori', '2025-10-14');
    expect(top.map((row) => row.campaign_id)).toHaveLength(3);
    expect(top[0]?.impressions).toBeGreaterThanOrEqual(top[2]?.impressions ?? 0);
  });

  it('stay exact, breakdowns included, when DynamoDB throttles record puts, markers and counter updates (each retried alone), once the repair pass has run', async () => {
    const { tableName } = await createTestTable(dynamodb, layout);
    // Fault injection: one write in five, of any kind, is throttled at random, as DynamoDB does under load.
    const random = mulberry32(11);
    const { client } = faultyDynamoDb((command) =>
      ['PutItemCommand', 'UpdateItemCommand'].includes(command.name) && random() < 0.2
        ? new ProvisionedThroughputExceededException({ message: 'injected throttle', $metadata: {} })
        : undefined,
    );
    const writer = new EventWriter(client, tableName, layout);
    const counters = new CampaignCounters(client, tableName, layout, 60_000);
    const messages = burst(80);
    // Batches left open by writes that ended in doubt are counted by the scheduled repair pass (on a table that
    // answers), once they are stale (here: begun before the pass's process started, as after a restart).
    await drain(writer, counters, deliveries(messages, 10), () =>
      new CampaignCounters(dynamodb, tableName, layout, 60_000, Date.now()).repair(),
    );
    expect(await actual(new CampaignStats(dynamodb, tableName))).toEqual(expected(messages));
    expect(await actualBreakdowns(new CampaignStats(dynamodb, tableName))).toEqual(
      expectedBreakdowns(messages),
    );
  });

  it('count nothing twice when the consumer dies after some writes of a batch and the batch is redelivered', async () => {
    const { tableName } = await createTestTable(dynamodb, layout);
    // Fault injection: the process "dies" before it closes its batch's journal entry, and the whole batch comes
    // back, as after a Lambda crash.
    let dead = true;
    const { client } = faultyDynamoDb((command) =>
      dead &&
      command.name === 'UpdateItemCommand' &&
      String(command.input.UpdateExpression).includes('#tally')
        ? new Error('process crashed')
        : undefined,
    );
    const writer = new EventWriter(client, tableName, layout);
    const messages = burst(30);
    await storeBatch(writer, new CampaignCounters(client, tableName, layout, 60_000), messages.slice(0, 20));
    dead = false;
    // The next process knows every batch begun before it started is dead.
    const counters = new CampaignCounters(client, tableName, layout, 60_000, Date.now());
    await drain(new EventWriter(client, tableName, layout), counters, [messages.slice(0, 20), messages]);
    expect(await actual(new CampaignStats(dynamodb, tableName))).toEqual(expected(messages));
  });
});

describe('batches left open', () => {
  const key = { provider: 'sori', campaignId: 'cmp_0', day: '2025-10-14' };
  const ofCampaignDay = (messages: QueueMessage[]) =>
    messages.filter(
      (m) =>
        m.kind === 'event' &&
        m.record.campaign_id === 'cmp_0' &&
        m.record.created_at.startsWith('2025-10-14'),
    );

  it('are counted from their own writes once stale, never while the batch may still be running', async () => {
    const layout = { shards: 2, retentionDays: null };
    const { writer, counters, stats } = await createTestTable(dynamodb, layout, 60_000);
    const messages = ofCampaignDay(burst(24));
    // A batch that opened its entry and wrote its records, then was killed before it closed the entry.
    const token = newClaimToken();
    await counters.open(token, [{ key, name: null }]);
    for (const [i, message] of messages.entries()) {
      await writer.store(message, `${token}.${i}`);
      if (message.kind === 'event') await writer.markDevice(message.record, true, `${token}.${i}`);
    }
    expect(await counters.repair()).toMatchObject({ recounted: 0, folded: 0, written: 0 });
    expect(await stats.campaignStats('sori', 'cmp_0')).toEqual([]);

    expect(await counters.repair(Date.now() + 60_000)).toMatchObject({ recounted: 1, folded: 1, written: 1 });
    const [row] = await stats.campaignStats('sori', 'cmp_0');
    expect(row).toMatchObject({
      impressions: expected(messages)[0]?.impressions,
      clicks: expected(messages)[0]?.clicks,
      unique_devices: expected(messages)[0]?.unique_devices,
    });
    expect(await counters.repair(Date.now() + 60_000)).toMatchObject({ recounted: 0, folded: 0, written: 0 });
  });

  it('of the earlier protocol (a stale claim on the counter item, listed for the repair) are settled from their own writes, the claim dropped and the item unlisted', async () => {
    const layout = { shards: 2, retentionDays: null };
    const { writer, counters, stats, tableName } = await createTestTable(dynamodb, layout, 60_000);
    const messages = ofCampaignDay(burst(24));
    const token = newClaimToken(Date.now() - 120_000);
    // The counter item as the earlier consumer left it: its claim put, nothing applied, listed in gsi2.
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { pk: { S: 'STATS#sori#cmp_0' }, sk: { S: '2025-10-14' } },
        UpdateExpression:
          'SET #claim = :zero, kind = :kind, provider = :p, campaign_id = :c, #day = :d, gsi2pk = :ppk, gsi2sk = :psk ADD version :one',
        ExpressionAttributeNames: { '#claim': `claim_${token}`, '#day': 'day' },
        ExpressionAttributeValues: {
          ':zero': { N: '0' },
          ':one': { N: '1' },
          ':kind': { S: 'stats' },
          ':p': { S: 'sori' },
          ':c': { S: 'cmp_0' },
          ':d': { S: '2025-10-14' },
          ':ppk': { S: 'STATS#PENDING' },
          ':psk': { S: '2025-10-14#sori#cmp_0' },
        },
      }),
    );
    for (const [i, message] of messages.entries()) {
      await writer.store(message, `${token}.${i}`);
      if (message.kind === 'event') await writer.markDevice(message.record, true, `${token}.${i}`);
    }
    expect(await counters.repair()).toMatchObject({ written: 1, failed: 0 });
    const [row] = await stats.campaignStats('sori', 'cmp_0');
    expect(row).toMatchObject({
      impressions: expected(messages)[0]?.impressions,
      clicks: expected(messages)[0]?.clicks,
      unique_devices: expected(messages)[0]?.unique_devices,
    });
    const { Item } = await dynamodb.send(
      new GetItemCommand({
        TableName: tableName,
        Key: { pk: { S: 'STATS#sori#cmp_0' }, sk: { S: '2025-10-14' } },
        ConsistentRead: true,
      }),
    );
    expect(
      Object.keys(Item ?? {}).filter((name) => name.startsWith('claim_') || name.startsWith('gsi2')),
    ).toEqual([]);
    expect(await counters.repair()).toMatchObject({ written: 0, cleared: 0, failed: 0 });
  });
});

describe('counter repair', () => {
  const layout: TableLayout = { shards: 2, retentionDays: null };

  /** Stats items as stored, for checking that a read path wrote nothing. */
  const statsItems = async (tableName: string) => {
    const { Items = [] } = await dynamodb.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: 'begins_with(pk, :stats)',
        ExpressionAttributeValues: { ':stats': { S: 'STATS#sori#' } },
        ConsistentRead: true,
      }),
    );
    return Items.sort((a, b) => `${a.pk?.S}${a.sk?.S}`.localeCompare(`${b.pk?.S}${b.sk?.S}`));
  };

  async function dayRows(stats: CampaignStats) {
    const rows = [];
    for (const day of ['2025-10-14', '2025-10-15']) {
      for (const row of await stats.dayStats('sori', day)) {
        rows.push({
          key: `${row.campaign_id}|${row.day}`,
          impressions: row.impressions,
          clicks: row.clicks,
          unique_devices: row.unique_devices,
        });
      }
    }
    return rows.sort((a, b) => a.key.localeCompare(b.key));
  }

  it('settles a batch killed between its records and its device markers: every read path and breakdown equals the records, and the retry counts nothing twice', async () => {
    const { tableName } = await createTestTable(dynamodb, layout);
    // Fault injection: the batch "dies" after its record puts: every device marker write and the close of its
    // journal entry fail, as if the process were gone (the crash test kills a real local stack for the same effect).
    const { client } = faultyDynamoDb((command) => {
      const key = (command.input.Key ?? command.input.Item) as Record<string, { S?: string }> | undefined;
      const marker = key?.pk?.S?.startsWith('DEVICE#');
      const close = String(command.input.UpdateExpression ?? '').includes('#tally');
      return marker || close ? new Error('process killed') : undefined;
    });
    const messages = burst(40);
    const outcomes = await storeBatch(
      new EventWriter(client, tableName, layout),
      new CampaignCounters(client, tableName, layout, 60_000),
      messages,
    );
    expect(outcomes.every((outcome) => !outcome.ok)).toBe(true);
    const before = await statsItems(tableName);

    // Read paths only read: the counters stay as the dead batch left them until the repair runs.
    const reader = new CampaignStats(dynamodb, tableName);
    expect((await actual(reader)).every((row) => row.impressions === 0 && row.unique_devices === 0)).toBe(
      true,
    );
    expect(await statsItems(tableName)).toEqual(before);

    // The next process knows every batch begun before it started is dead.
    const repairer = new CampaignCounters(dynamodb, tableName, layout, 60_000, Date.now());
    const summary = await repairer.repair();
    expect(summary).toMatchObject({ checked: 1, recounted: 1, folded: 1, written: 6 });
    expect(await actual(reader)).toEqual(expected(messages));
    expect(await actualBreakdowns(reader)).toEqual(expectedBreakdowns(messages));
    expect(
      await eventually(
        async () => {
          const rows = await dayRows(reader);
          return JSON.stringify(rows) === JSON.stringify(expected(messages)) ? rows : undefined;
        },
        5_000,
        'the all-campaign read path to converge',
      ),
    ).toEqual(expected(messages));

    // SQS redelivers the dead batch: records and markers are all there, nothing moves.
    await storeBatch(new EventWriter(dynamodb, tableName, layout), repairer, messages);
    expect(await actual(reader)).toEqual(expected(messages));
    expect(await repairer.repair()).toMatchObject({ recounted: 0, folded: 1 });
    expect(await actual(reader)).toEqual(expected(messages));
  });

  it('folds each closed batch once, and leaves the counters alone while a batch is open and live; records are found by campaign and by type before they are counted', async () => {
    const { writer, counters, stats, tableName, repository } = await createTestTable(
      dynamodb,
      layout,
      60_000,
    );
    const messages = burst(12);
    await storeBatch(writer, counters, messages);
    const byCampaign = await repository.queryEvents({
      provider: 'sori',
      campaign: 'cmp_0',
      since: '2025-10-14T00:00:00.000Z',
      until: '2025-10-15T23:59:59.999Z',
      limit: 100,
    });
    expect(byCampaign).toHaveLength(
      messages.filter((m) => m.kind === 'event' && m.record.campaign_id === 'cmp_0').length,
    );
    const clicks = await repository.queryEvents({
      provider: 'sori',
      type: 'campaign.click',
      since: '2025-10-14T00:00:00.000Z',
      until: '2025-10-15T23:59:59.999Z',
      limit: 100,
    });
    expect(clicks).toHaveLength(
      messages.filter((m) => m.kind === 'event' && m.record.event === 'campaign.click').length,
    );
    // Listed (the read paths find the records) but not counted before the repair's pass.
    expect((await actual(stats)).map((row) => row.impressions + row.clicks + row.unique_devices)).toEqual(
      expected(messages).map(() => 0),
    );
    expect(await counters.repair()).toEqual({
      checked: 1,
      recounted: 0,
      cleared: 0,
      failed: 0,
      folded: 1,
      written: 6,
      // What the pass raised, for its metrics (see the signals tests).
      signals: expect.any(Object),
    });
    expect(await counters.repair()).toMatchObject({ folded: 0, written: 0, failed: 0 });
    expect(await actual(stats)).toEqual(expected(messages));

    await counters.open(newClaimToken(), [
      { key: { provider: 'sori', campaignId: 'cmp_0', day: '2025-10-14' }, name: null },
    ]);
    const before = await statsItems(tableName);
    expect(await counters.repair()).toMatchObject({ recounted: 0, folded: 0, written: 0, failed: 0 });
    expect(await statsItems(tableName)).toEqual(before);
    expect(await actual(stats)).toEqual(expected(messages));
  });

  it('two repair passes at once (the schedule and doctor, say) fold every batch once, the later one giving way without an error', async () => {
    const { writer, counters, stats, tableName } = await createTestTable(dynamodb, layout, 60_000);
    const messages = burst(24);
    await storeBatch(writer, counters, messages.slice(0, 12));
    await storeBatch(writer, counters, messages.slice(12));
    const other = new CampaignCounters(dynamodb, tableName, layout, 60_000);
    const passes = await Promise.all([counters.repair(), other.repair(), counters.repair()]);
    expect(passes.every((pass) => pass.failed === 0)).toBe(true);
    await other.repair();
    expect(await actual(stats)).toEqual(expected(messages));
  });
});
