/**
 * Interleavings of consumer batches and repair passes that the counters must survive: a journal entry landing
 * behind the watermark, stale entries sharing a campaign-day and its devices, claims of the earlier protocol
 * beside new entries, a recount racing its batch's own close, a fold redone after a crash at each step with
 * batches arriving between passes, and a type registration racing a fold's write. The local DynamoDB-API
 * server does the storing; a proxy (test/support/dynamodb-proxy.ts) fails or delays the calls it picks, and a
 * client middleware holds one call until the test has run another writer: a stand-in for a process paused
 * mid-way, which the local server cannot be made to do on demand.
 */
import { randomUUID } from 'node:crypto';
import {
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { QueueMessage } from '../../lib/events/event-record';
import { type BatchTally, CampaignCounters, newClaimToken } from '../../lib/ingest/campaign-counters';
import { EventWriter } from '../../lib/ingest/event-writer';
import { storeBatch } from '../../lib/ingest/store-batch';
import { sori } from '../../lib/providers/sori';
import { CampaignStats } from '../../lib/queries/campaign-stats';
import { DashboardReader } from '../../lib/queries/dashboard';
import { RecordsRepository } from '../../lib/queries/records-repository';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { batchKey, openBatchItem } from '../../lib/table/counter-items';
import { counterFieldsOf, type TableLayout } from '../../lib/table/records-table';
import { localClientConfig } from '../../local/local-stack';
import { soriPayload } from '../support/deliveries';
import { type Fault, type ProxiedCall, startDynamoDbProxy } from '../support/dynamodb-proxy';
import { createTestTable, eventually, localClients } from '../support/local-aws';

const { dynamodb } = localClients();
const LAYOUT: TableLayout = { shards: 2, retentionDays: 365 };
const DAY = '2025-10-14';
const proxies: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

/** SORI events; `device` and `campaign` pick each one's device and campaign, `click` its type. */
function events(
  count: number,
  options: {
    device?: (i: number) => string;
    campaign?: (i: number) => string;
    click?: (i: number) => boolean;
  } = {},
) {
  const seed = randomUUID().slice(0, 6);
  const base = soriPayload('impression');
  return Array.from({ length: count }, (_, i) => {
    const payload = {
      ...base,
      event: options.click?.(i) ? 'campaign.click' : 'campaign.impression',
      activity_id: `act_${seed}_${i}`,
      device_id: options.device?.(i) ?? `device_${seed}_${i}`,
      platform: i % 2 === 0 ? 'iOS' : 'Android',
      created_at: `${DAY}T0${5 + (i % 3)}:00:00.000Z`,
      campaign: { ...(base.campaign as object), id: options.campaign?.(i) ?? 'cmp_0' },
    };
    return buildQueueMessage(sori, Buffer.from(JSON.stringify(payload)), '2026-01-01T00:00:00.000Z');
  });
}

const recordOf = (message: QueueMessage | undefined) => {
  if (message?.kind !== 'event') throw new Error('not an event');
  return message.record;
};

/** Per campaign: impressions, clicks and unique devices of the distinct events. */
function expected(messages: QueueMessage[]) {
  const out: Record<string, { impressions: number; clicks: number; devices: Set<string> }> = {};
  const seen = new Set<string>();
  for (const message of messages) {
    const record = recordOf(message);
    if (seen.has(record.id)) continue;
    seen.add(record.id);
    const campaign = record.campaign_id ?? '';
    out[campaign] ??= { impressions: 0, clicks: 0, devices: new Set() };
    const entry = out[campaign];
    if (record.event === 'campaign.click') entry.clicks++;
    else entry.impressions++;
    entry.devices.add(record.device_id ?? '');
  }
  return Object.fromEntries(
    Object.entries(out).map(([campaign, e]) => [
      campaign,
      { impressions: e.impressions, clicks: e.clicks, unique_devices: e.devices.size },
    ]),
  );
}

async function actual(tableName: string) {
  const rows = await new CampaignStats(dynamodb, tableName).dayStats('sori', DAY);
  return Object.fromEntries(
    rows
      .filter((row) => row.impressions + row.clicks + row.unique_devices > 0)
      .map((row) => [
        row.campaign_id,
        { impressions: row.impressions, clicks: row.clicks, unique_devices: row.unique_devices },
      ]),
  );
}

/** A batch killed after `write`: its entry opened two minutes ago (stale), never closed. */
async function killedBatch(tableName: string, campaigns: string[], write: (token: string) => Promise<void>) {
  const token = newClaimToken(Date.now() - 120_000);
  const groups = campaigns.map((campaignId) => ({
    key: { provider: 'sori', campaignId, day: DAY },
    name: null,
  }));
  await dynamodb.send(new PutItemCommand({ TableName: tableName, Item: openBatchItem(token, groups) }));
  await write(token);
  return token;
}

async function journalEntry(tableName: string, token: string) {
  const { Item } = await dynamodb.send(
    new GetItemCommand({ TableName: tableName, Key: batchKey(token), ConsistentRead: true }),
  );
  return Item;
}

/** A client of the local server that runs `meanwhile` once, before the first command `when` picks is sent. */
function clientPausedOnce(
  when: (name: string, input: Record<string, unknown>) => boolean,
  meanwhile: () => Promise<void>,
) {
  const client = new DynamoDBClient(localClientConfig(inject('dynamodbEndpoint')));
  let done = false;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (!done && when(String(context.commandName), args.input as Record<string, unknown>)) {
        done = true;
        await meanwhile();
      }
      return next(args);
    },
    { step: 'initialize', name: 'pauseOnce' },
  );
  return client;
}

const isCounterPut = (call: ProxiedCall) =>
  call.action === 'PutItem' &&
  String((call.input.Item as { pk?: { S?: string } })?.pk?.S).startsWith('STATS#sori#');

describe('the watermark', () => {
  it('loses nothing when a journal entry lands behind it: the batch whose open was cut off wrote nothing, and its redelivery is counted once', async () => {
    const { tableName } = await createTestTable(dynamodb, LAYOUT);
    const staleAfterMs = 1_200;
    let opens = 0;
    // The batch's open: its first attempt reaches the table 3 s after its connection was cut, every retry fails.
    const proxy = await startDynamoDbProxy({
      fault: (call): Fault | undefined => {
        const item = call.input.Item as { pk?: { S?: string } } | undefined;
        if (call.action !== 'PutItem' || item?.pk?.S !== 'STATS#BATCH') return undefined;
        return opens++ === 0 ? 'late' : 'fail-before';
      },
      holdMs: 3_000,
    });
    proxies.push(proxy);
    const client = new DynamoDBClient(localClientConfig(proxy.endpoint));
    const messages = events(3);
    const outcomes = await storeBatch(
      new EventWriter(client, tableName, LAYOUT),
      new CampaignCounters(client, tableName, LAYOUT, staleAfterMs),
      messages,
    );
    expect(outcomes.every((outcome) => !outcome.ok)).toBe(true);

    // A pass moves the watermark past the batch's time before its entry lands.
    await new Promise((resolve) => setTimeout(resolve, 800));
    const repair = new CampaignCounters(dynamodb, tableName, LAYOUT, staleAfterMs);
    await repair.repair();
    const landed = await eventually(
      async () => {
        const { Items = [] } = await dynamodb.send(
          new QueryCommand({
            TableName: tableName,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': { S: 'STATS#BATCH' } },
            ConsistentRead: true,
          }),
        );
        return Items[0];
      },
      15_000,
      'the late journal entry to land',
    );
    const { Item: state } = await dynamodb.send(
      new GetItemCommand({
        TableName: tableName,
        Key: { pk: { S: 'STATS#FOLD' }, sk: { S: 'STATE' } },
        ConsistentRead: true,
      }),
    );
    expect(String(state?.watermark?.S) > String(landed.sk?.S)).toBe(true);

    // SQS redelivers the batch to a consumer that can write.
    const redelivered = await storeBatch(
      new EventWriter(dynamodb, tableName, LAYOUT),
      new CampaignCounters(dynamodb, tableName, LAYOUT, staleAfterMs),
      messages,
    );
    expect(redelivered.map((outcome) => outcome.ok && outcome.outcome)).toEqual([
      'stored',
      'stored',
      'stored',
    ]);
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    for (let pass = 0; pass < 3; pass++) await repair.repair();
    expect(await actual(tableName)).toEqual(expected(messages));
  }, 60_000);
});

describe('one repair pass', () => {
  it('counts two stale entries of one campaign-day sharing devices once each: a device flagged by the later batch (a duplicate delivery) counts for it, one the earlier batch never flagged for the earlier', async () => {
    const { tableName, writer } = await createTestTable(dynamodb, LAYOUT);
    const shared = `device_${randomUUID().slice(0, 6)}`;
    const messages = events(4, { device: (i) => (i < 3 ? shared : `${shared}_other`) });
    const [r0, r1, r2, r3] = messages;
    // Batch A stored r0 and r1 (one device), then was killed before any marker.
    await killedBatch(tableName, ['cmp_0'], async (token) => {
      await writer.store(r0 as QueueMessage, `${token}.0`);
      await writer.store(r1 as QueueMessage, `${token}.1`);
    });
    // Batch B got r0 again (a duplicate, its marker flag set by B), then r2 (same device) and r3, then was killed.
    const other = new EventWriter(dynamodb, tableName, LAYOUT);
    await killedBatch(tableName, ['cmp_0'], async (token) => {
      expect(await other.store(r0 as QueueMessage, `${token}.0`)).toBe('duplicate');
      expect(await other.markDevice(recordOf(r0), true, `${token}.0`)).toBe('first');
      await other.store(r2 as QueueMessage, `${token}.1`);
      await other.markDevice(recordOf(r2), true, `${token}.1`);
      await other.store(r3 as QueueMessage, `${token}.2`);
    });
    const summary = await new CampaignCounters(dynamodb, tableName, LAYOUT).repair();
    expect(summary).toMatchObject({ recounted: 2, folded: 2, failed: 0 });
    expect(await actual(tableName)).toEqual(expected(messages));
    expect(await new CampaignCounters(dynamodb, tableName, LAYOUT).repair()).toMatchObject({ written: 0 });
    expect(await actual(tableName)).toEqual(expected(messages));
  });

  it('settles a stale claim of the earlier protocol and folds a new closed entry on the same counter item at once', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb, LAYOUT);
    const messages = events(10, { device: (i) => `device_legacy_${i % 4}` });
    const legacy = messages.slice(0, 5);
    const fresh = messages.slice(5);
    const token = newClaimToken(Date.now() - 120_000);
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { pk: { S: 'STATS#sori#cmp_0' }, sk: { S: DAY } },
        UpdateExpression:
          'SET #claim = :zero, kind = :kind, provider = :p, campaign_id = :c, #day = :d, gsi2pk = :ppk, gsi2sk = :psk ADD version :one',
        ExpressionAttributeNames: { '#claim': `claim_${token}`, '#day': 'day' },
        ExpressionAttributeValues: {
          ':zero': { N: '0' },
          ':one': { N: '1' },
          ':kind': { S: 'stats' },
          ':p': { S: 'sori' },
          ':c': { S: 'cmp_0' },
          ':d': { S: DAY },
          ':ppk': { S: 'STATS#PENDING' },
          ':psk': { S: `${DAY}#sori#cmp_0` },
        },
      }),
    );
    // The earlier consumer stored its records and some markers, then died.
    for (const [i, message] of legacy.entries()) {
      await writer.store(message, `${token}.${i}`);
      if (i < 2) await writer.markDevice(recordOf(message), true, `${token}.${i}`);
    }
    // A batch of this protocol, with a redelivery of the legacy batch's last event, on the same campaign-day.
    await storeBatch(new EventWriter(dynamodb, tableName, LAYOUT), counters, [
      ...fresh,
      legacy[4] as QueueMessage,
    ]);
    const summary = await counters.repair();
    expect(summary).toMatchObject({ folded: 1, written: 1, failed: 0 });
    expect(await actual(tableName)).toEqual(expected(messages));
    expect(await counters.repair()).toMatchObject({ written: 0, cleared: 0, failed: 0 });
    expect(await actual(tableName)).toEqual(expected(messages));
  });
});

describe('a recount racing its batch', () => {
  /** A stale batch that wrote its records and markers but had not closed; `truth` is the tally it would close with. */
  async function staleBatch(tableName: string) {
    const writer = new EventWriter(dynamodb, tableName, LAYOUT);
    const messages = events(4, { device: (i) => `device_race_${i % 2}` });
    const truth: BatchTally = { inserted: [], devices: [0] };
    let devices = 0;
    const token = await killedBatch(tableName, ['cmp_0'], async (token) => {
      for (const [i, message] of messages.entries()) {
        await writer.store(message, `${token}.${i}`);
        truth.inserted.push([0, ...counterFieldsOf(recordOf(message))]);
        if ((await writer.markDevice(recordOf(message), true, `${token}.${i}`)) === 'first') devices++;
      }
    });
    truth.devices[0] = devices;
    return { token, truth, messages };
  }

  it("closes the entry once: the consumer's close landing after the recount is refused, and the batch counts once", async () => {
    const { tableName } = await createTestTable(dynamodb, LAYOUT);
    const { token, truth, messages } = await staleBatch(tableName);
    expect(await new CampaignCounters(dynamodb, tableName, LAYOUT).repair()).toMatchObject({ recounted: 1 });
    expect(await new CampaignCounters(dynamodb, tableName, LAYOUT).close(token, truth)).toBe(false);
    await new CampaignCounters(dynamodb, tableName, LAYOUT).repair();
    expect(await actual(tableName)).toEqual(expected(messages));
  });

  it("takes the consumer's tally when the consumer closes between the recount's reads and its close, and counts the batch once", async () => {
    const { tableName } = await createTestTable(dynamodb, LAYOUT);
    const { token, truth, messages } = await staleBatch(tableName);
    let consumerClosed: boolean | undefined;
    const client = clientPausedOnce(
      (name, input) => name === 'UpdateItemCommand' && String(input.UpdateExpression).includes('#tally'),
      async () => {
        consumerClosed = await new CampaignCounters(dynamodb, tableName, LAYOUT).close(token, truth);
      },
    );
    expect(await new CampaignCounters(client, tableName, LAYOUT).repair()).toMatchObject({
      recounted: 1,
      folded: 1,
      failed: 0,
    });
    expect(consumerClosed).toBe(true);
    expect((await journalEntry(tableName, token))?.tally?.S).toBe(
      JSON.stringify([truth.inserted, truth.devices, [], []]),
    );
    expect(await actual(tableName)).toEqual(expected(messages));
  });
});

describe('a fold redone after a crash', () => {
  it.each<{ step: string; crash: (call: ProxiedCall, counterPuts: number) => boolean; throws: boolean }>([
    { step: 'right after it was written down', crash: (call) => isCounterPut(call), throws: false },
    {
      step: 'after its first counter item',
      crash: (call, puts) => isCounterPut(call) && puts > 1,
      throws: false,
    },
    {
      step: 'after every counter item, before the fold state says it is done',
      crash: (call) =>
        call.action === 'PutItem' &&
        (call.input.Item as { pk?: { S?: string }; run?: unknown })?.pk?.S === 'STATS#FOLD' &&
        (call.input.Item as { run?: unknown }).run === undefined,
      throws: true,
    },
  ])('$step, with batches stored between the passes, adds every batch once', async ({ crash, throws }) => {
    const { tableName, writer, counters } = await createTestTable(dynamodb, LAYOUT);
    const campaign = (i: number) => `cmp_${i % 3}`;
    const first = events(9, { campaign, click: (i) => i % 4 === 0 });
    const second = events(9, {
      campaign,
      click: (i) => i % 2 === 0,
      device: (i) => `device_shared_${i % 4}`,
    });
    const third = events(6, { campaign, device: (i) => `device_shared_${i % 4}` });
    await storeBatch(writer, counters, first);
    let counterPuts = 0;
    const proxy = await startDynamoDbProxy({
      fault: (call) => {
        if (isCounterPut(call)) counterPuts++;
        return crash(call, counterPuts) ? 'fail-before' : undefined;
      },
    });
    proxies.push(proxy);
    const crashing = new CampaignCounters(
      new DynamoDBClient(localClientConfig(proxy.endpoint)),
      tableName,
      LAYOUT,
    );
    const crashed = await crashing.repair().then(
      () => false,
      () => true,
    );
    expect(crashed).toBe(throws);
    await storeBatch(writer, counters, [...second, first[0] as QueueMessage]);
    // The next pass after the killed fold's lease (90 s) takes it over.
    await counters.repair(Date.now() + 120_000);
    await storeBatch(writer, counters, third);
    await counters.repair();
    expect(await counters.repair()).toMatchObject({ written: 0, failed: 0 });
    expect(await actual(tableName)).toEqual(expected([...first, ...second, ...third]));
  });
});

describe('a type registration racing a fold', () => {
  it("moves the counter item's version under the fold's write, which reads it again: the registered type stays listed, the records are found by type before they are counted, and all is counted once", async () => {
    const { tableName, writer, counters, repository } = await createTestTable(dynamodb, LAYOUT);
    const views = events(4);
    const clicks = events(3, { click: () => true });
    await storeBatch(writer, counters, views);
    // Another container stores the clicks (a type new to the campaign-day) while the fold is about to write.
    const client = clientPausedOnce(
      (name, input) =>
        name === 'PutItemCommand' && (input.Item as { pk?: { S?: string } })?.pk?.S === 'STATS#sori#cmp_0',
      async () => {
        await storeBatch(
          new EventWriter(dynamodb, tableName, LAYOUT),
          new CampaignCounters(dynamodb, tableName, LAYOUT),
          clicks,
        );
      },
    );
    expect(await new CampaignCounters(client, tableName, LAYOUT).repair()).toMatchObject({
      folded: 1,
      failed: 0,
    });
    const [item] = await new CampaignStats(dynamodb, tableName).counterItems('sori', 'cmp_0');
    expect(item?.types).toEqual(expect.arrayContaining(['campaign.click', 'campaign.impression']));
    const found = await repository.queryEvents({
      provider: 'sori',
      type: 'campaign.click',
      since: `${DAY}T00:00:00.000Z`,
      until: `${DAY}T23:59:59.999Z`,
      limit: 100,
    });
    expect(found).toHaveLength(3);
    expect(await actual(tableName)).toEqual({ cmp_0: { impressions: 4, clicks: 0, unique_devices: 4 } });
    await counters.repair();
    expect(await actual(tableName)).toEqual(expected([...views, ...clicks]));
  });
});

describe('duplicates across containers', () => {
  it('count once on every read path when three containers store overlapping batches at once, each batch holding one event twice and one device many times', async () => {
    const { tableName } = await createTestTable(dynamodb, LAYOUT);
    const messages = events(18, { device: (i) => `device_dup_${i % 3}`, click: (i) => i % 3 === 0 });
    const batches = [0, 1, 2].map((c) => {
      const own = messages.slice(c * 6, c * 6 + 6);
      // Its own events, one of them twice, and two of the next container's.
      return [...own, own[0] as QueueMessage, ...messages.slice(((c + 1) % 3) * 6, ((c + 1) % 3) * 6 + 2)];
    });
    const outcomes = await Promise.all(
      batches.map((batch) =>
        storeBatch(
          new EventWriter(dynamodb, tableName, LAYOUT),
          new CampaignCounters(dynamodb, tableName, LAYOUT),
          batch,
        ),
      ),
    );
    expect(outcomes.flat().every((outcome) => outcome.ok)).toBe(true);
    expect(outcomes.flat().filter((outcome) => outcome.ok && outcome.outcome === 'stored')).toHaveLength(18);
    await new CampaignCounters(dynamodb, tableName, LAYOUT).repair();
    const want = expected(messages);
    expect(await actual(tableName)).toEqual(want);
    const board = await new DashboardReader(dynamodb, tableName, LAYOUT).read(DAY);
    expect(board.campaigns.map((row) => [row.impressions, row.clicks, row.unique_devices])).toEqual([
      [want.cmp_0?.impressions, want.cmp_0?.clicks, want.cmp_0?.unique_devices],
    ]);
    const byCampaign = await new RecordsRepository(dynamodb, tableName, LAYOUT).queryEvents({
      provider: 'sori',
      campaign: 'cmp_0',
      since: `${DAY}T00:00:00.000Z`,
      until: `${DAY}T23:59:59.999Z`,
      limit: 100,
    });
    expect(byCampaign).toHaveLength(18);
  });
});
