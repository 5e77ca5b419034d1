// DynamoDB write units per stored event, markers and counters included, as AWS bills them (see
// write-units.ts), for our consumer and two baselines fed the same deliveries against a local DynamoDB-API
// server:
// - a competent conditional-put consumer: one conditional put per record into a table with an index per
//   access pattern (campaign, device, type and day), the raw body as text, a counter increment per stored
//   event and a device marker per event (its first insert adds a unique device);
// - the same consumer made idempotent with Powertools idempotency (the ecosystem's standard way), labelled.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import {
  type AttributeValue,
  BatchWriteItemCommand,
  type BatchWriteItemCommandOutput,
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  type GlobalSecondaryIndexDescription,
  PutItemCommand,
  UpdateItemCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import type { QueueMessage } from '../lib/events/event-record';
import { CampaignCounters, newClaimToken, type RepairSummary } from '../lib/ingest/campaign-counters';
import { EventWriter } from '../lib/ingest/event-writer';
import { storeBatch } from '../lib/ingest/store-batch';
import { sori } from '../lib/providers/sori';
import { buildQueueMessage } from '../lib/receive/build-queue-message';
import { batchKey, foldStateItem, journalQuery } from '../lib/table/counter-items';
import { itemBytes } from '../lib/table/item-size';
import {
  campaignPartitionKey,
  counterItemKey,
  DEFAULT_LAYOUT,
  devicePartitionKey,
  rawBytesOf,
  toItem,
  typeDayPartitionKey,
} from '../lib/table/records-table';
import { keyOf, queryItems } from '../lib/table/table-io';
import { startDynamoDb } from '../local/aws-servers';
import { ensureRecordsTable } from '../local/create-records-table';
import { localClientConfig } from '../local/local-stack';
import { growCounters } from './counter-growth';
import {
  campaignId,
  DEPLOYED_LAYOUT,
  shares,
  type Workload,
  deliveries as workloadDeliveries,
} from './workload';
import { countWriteUnits, type WriteTally } from './write-units';

const FIXTURE = JSON.parse(
  readFileSync(join(import.meta.dirname, '../examples/payloads/sori/impression.json'), 'utf8'),
) as Record<string, unknown>;

/**
 * The workload: `distinct` SORI impressions and clicks (3 in 4 impressions) as SORI sends them (the documented
 * impression with its campaign, material and geolocation), over 3 campaigns and 50 devices on one day (webhooks
 * arrive as events happen, so live traffic is today's; a device has about 7 events per campaign and day), plus
 * `duplicates` retries, in a fixed shuffled order.
 */
function deliveries(distinct: number, duplicates: number, seed: string): QueueMessage[] {
  const events = Array.from({ length: distinct }, (_, i) => {
    const campaign = FIXTURE.campaign as Record<string, unknown>;
    const payload = {
      ...FIXTURE,
      event: i % 4 === 3 ? 'campaign.click' : 'campaign.impression',
      created_at: `2025-10-14T05:${String(i % 60).padStart(2, '0')}:12.421Z`,
      activity_id: `act_${seed}_${i}`,
      device_id: `device_${i % 50}`,
      campaign: { ...campaign, id: `cmp_${seed}_${i % 3}` },
    };
    return buildQueueMessage(sori, Buffer.from(JSON.stringify(payload)), '2026-01-01T00:00:00.000Z');
  });
  const all = [...events];
  for (let i = 0; i < duplicates; i++) all.push(events[(i * 7919) % events.length] as QueueMessage);
  return all
    .map((message, i) => ({ message, order: (i * 2_654_435_761) % 4_294_967_296 }))
    .sort((a, b) => a.order - b.order)
    .map(({ message }) => message);
}

export interface WriteFigures {
  batchSize: number;
  duplicateShare: number;
  /**
   * Write units per distinct stored event: table and indexes, markers and counters included (ours: its journal
   * entries, and one repair pass folding them into the counter items, as if the deliveries came within a minute).
   */
  ours: PerStored;
  conditionalPut: PerStored;
  powertoolsIdempotency: PerStored;
  /** ours / the conditional-put consumer, in write units. */
  ratio: number;
}

export interface PerStored {
  writeUnits: number;
  requests: number;
  /** Of `writeUnits`, what the device markers cost. */
  markerUnits: number;
  /** Device marker writes. */
  markers: number;
}

/** Keys and indexes of the tables a client writes to, read once per table. */
async function shapes(client: DynamoDBClient, tables: string[]) {
  const known = new Map<string, { keys: string[]; indexes: GlobalSecondaryIndexDescription[] }>();
  for (const name of tables) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
    known.set(name, {
      keys: (Table?.KeySchema ?? []).map((key) => key.AttributeName ?? ''),
      indexes: Table?.GlobalSecondaryIndexes ?? [],
    });
  }
  return (table: string) => {
    const shape = known.get(table);
    if (!shape) throw new Error(`unknown table ${table}`);
    return shape;
  };
}

async function counted(endpoint: string, tables: string[]) {
  const client = new DynamoDBClient(localClientConfig(endpoint));
  const tally = countWriteUnits(client, await shapes(client, tables));
  return { client, tally };
}

async function ours(endpoint: string, messages: QueueMessage[], batchSize: number, table: string) {
  const setup = new DynamoDBClient(localClientConfig(endpoint));
  await ensureRecordsTable(setup, table);
  setup.destroy();
  const { client, tally } = await counted(endpoint, [table]);
  // One container, as Lambda keeps one warm under steady traffic: its marker cache lives across batches.
  const writer = new EventWriter(client, table, DEFAULT_LAYOUT);
  const counters = new CampaignCounters(client, table, DEFAULT_LAYOUT);
  for (let i = 0; i < messages.length; i += batchSize) {
    const outcomes = await storeBatch(writer, counters, messages.slice(i, i + batchSize));
    if (outcomes.some((o) => !o.ok)) throw new Error('a benchmark write failed');
  }
  // The counter items are written by the repair's fold, once a minute: one pass over these batches, as if
  // they all came within a minute.
  const pass = await counters.repair();
  if (pass.failed > 0) throw new Error('the repair pass failed');
  client.destroy();
  return tally;
}

/** The item a typical consumer writes: every field, the raw body as text, a key for each access pattern. */
function typicalItem(message: QueueMessage): Record<string, AttributeValue> {
  const item = toItem(message);
  const record = message.record;
  const raw = rawBytesOf(item);
  if (raw) item.raw = { S: raw.toString(message.raw_encoding === 'base64' ? 'base64' : 'utf8') };
  item.pk = { S: `EVENT#${record.id}` };
  item.sk = { S: 'RECORD' };
  if (message.kind !== 'event') return item;
  const sortKey = { S: `${message.record.created_at}#${record.id}` };
  const event = message.record;
  if (event.campaign_id) {
    item.gsi1pk = { S: campaignPartitionKey(event.provider, event.campaign_id, 0) };
    item.gsi1sk = sortKey;
  }
  if (event.device_id) {
    item.gsi2pk = { S: devicePartitionKey(event.provider, event.device_id) };
    item.gsi2sk = sortKey;
  }
  item.gsi3pk = { S: typeDayPartitionKey(event.provider, event.event, event.created_at.slice(0, 10), 0) };
  item.gsi3sk = sortKey;
  return item;
}

/** The typical consumer's work for one stored record: counter increment, device marker, unique device. */
async function typicalCount(client: DynamoDBClient, table: string, message: QueueMessage) {
  if (message.kind !== 'event' || !message.record.campaign_id) return;
  const { campaign_id: campaign, created_at, device_id: device, event } = message.record;
  const day = created_at.slice(0, 10);
  const key = { pk: { S: `STATS#sori#${campaign}` }, sk: { S: day } };
  await client.send(
    new UpdateItemCommand({
      TableName: table,
      Key: key,
      UpdateExpression: 'ADD #counter :one',
      ExpressionAttributeNames: { '#counter': event === 'campaign.click' ? 'clicks' : 'impressions' },
      ExpressionAttributeValues: { ':one': { N: '1' } },
    }),
  );
  if (!device) return;
  try {
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: {
          pk: { S: `CAMPAIGN#sori#${campaign}#${day}` },
          sk: { S: `D#${device}` },
          kind: { S: 'device' },
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: key,
        UpdateExpression: 'ADD unique_devices :one',
        ExpressionAttributeValues: { ':one': { N: '1' } },
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}

async function conditionalPut(endpoint: string, messages: QueueMessage[], batchSize: number, table: string) {
  const setup = new DynamoDBClient(localClientConfig(endpoint));
  await ensureRecordsTable(setup, table);
  setup.destroy();
  const { client, tally } = await counted(endpoint, [table]);
  for (let i = 0; i < messages.length; i += batchSize) {
    await Promise.all(
      messages.slice(i, i + batchSize).map(async (message) => {
        try {
          await client.send(
            new PutItemCommand({
              TableName: table,
              Item: typicalItem(message),
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          );
        } catch (error) {
          if (error instanceof ConditionalCheckFailedException) return;
          throw error;
        }
        await typicalCount(client, table, message);
      }),
    );
  }
  client.destroy();
  return tally;
}

/**
 * The conditional-put consumer behind `makeIdempotent` (DynamoDB persistence: an in-progress put, then a
 * completed update, per record), its record put then unconditional as such consumers write it.
 */
async function powertoolsIdempotency(
  endpoint: string,
  messages: QueueMessage[],
  batchSize: number,
  table: string,
) {
  const setup = new DynamoDBClient(localClientConfig(endpoint));
  await ensureRecordsTable(setup, table);
  await setup.send(
    new CreateTableCommand({
      TableName: `${table}-idempotency`,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    }),
  );
  setup.destroy();
  const { client, tally } = await counted(endpoint, [table, `${table}-idempotency`]);
  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName: `${table}-idempotency`,
    awsSdkV3Client: client,
  });
  const config = new IdempotencyConfig({ eventKeyJmesPath: 'record.id' });
  config.registerLambdaContext({ getRemainingTimeInMillis: () => 30_000 } as never);
  const storeOne = makeIdempotent(
    async (message: QueueMessage) => {
      await client.send(new PutItemCommand({ TableName: table, Item: typicalItem(message) }));
      await typicalCount(client, table, message);
      return 'stored';
    },
    { persistenceStore, config },
  );
  // Two copies of one event in flight at once: the second fails as "in progress" and SQS redelivers it later.
  let pending = [...messages];
  while (pending.length > 0) {
    const retry: QueueMessage[] = [];
    for (let i = 0; i < pending.length; i += batchSize) {
      const batch = pending.slice(i, i + batchSize);
      const results = await Promise.allSettled(batch.map((message) => storeOne(message)));
      results.forEach((result, j) => {
        if (result.status === 'rejected') retry.push(batch[j] as QueueMessage);
      });
    }
    pending = retry;
  }
  client.destroy();
  return tally;
}

const per = (tally: WriteTally, stored: number): PerStored => ({
  writeUnits: (tally.tableUnits + tally.indexUnits) / stored,
  requests: tally.requests / stored,
  markerUnits: tally.markerUnits / stored,
  markers: tally.markerRequests / stored,
});

/** Write units per stored event at batch 10 and 100, with 0 % and 30 % duplicates, 1,000 deliveries each. */
export async function measureWrites(): Promise<WriteFigures[]> {
  const server = await startDynamoDb();
  const results: WriteFigures[] = [];
  try {
    let run = 0;
    for (const batchSize of [10, 100]) {
      for (const duplicateShare of [0, 0.3]) {
        const total = 1000;
        const duplicates = Math.round(total * duplicateShare);
        const distinct = total - duplicates;
        const messages = deliveries(distinct, duplicates, `w${run}`);
        const a = per(await ours(server.endpoint, messages, batchSize, `ours-${run}`), distinct);
        const b = per(await conditionalPut(server.endpoint, messages, batchSize, `put-${run}`), distinct);
        const c = per(
          await powertoolsIdempotency(server.endpoint, messages, batchSize, `pt-${run}`),
          distinct,
        );
        run++;
        results.push({
          batchSize,
          duplicateShare,
          ours: a,
          conditionalPut: b,
          powertoolsIdempotency: c,
          ratio: a.writeUnits / b.writeUnits,
        });
      }
    }
  } finally {
    await server.stop();
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await measureWrites(), null, 2));
}

/** Write units per stored event of the consumer replaying a workload in batches of measured sizes. */
export interface ReplayFigures {
  workload: string;
  /** What the batch sizes are: the setting and rate they were measured at. */
  label: string;
  ratePerSecond: number;
  deliveries: number;
  stored: number;
  batches: number;
  meanBatch: number;
  /**
   * Write units per stored event: every write of the consumer as replayed (records, journal entries, markers as
   * its cache decided over this short replay), plus the fold's share at this rate (`repair.writeUnitsPerStored`).
   */
  writeUnits: number;
  /** The consumer's write requests per stored event (the fold's apart). */
  requests: number;
  markerUnits: number;
  markers: number;
  /**
   * The counters' write units per stored event: the batches' journal entries, the containers' registrations
   * (`registerUnitsPerStored`) and the fold's share.
   */
  counterUnits: number;
  /** The consumer's counter writes per stored event as replayed: journal entries, and a fresh container's registrations. */
  counterRequests: number;
  /** Of `counterUnits`, the journal entries' as replayed (an open and a close per batch), and their requests. */
  journalUnits: number;
  journalRequests: number;
  /**
   * A container's registrations as replayed (requests and units in all, not per event): the first batch of a
   * campaign-day and event type in a container lists it on its counter item, an update paid at the item's size.
   */
  register: { requests: number; units: number };
  /** Those paid again by each container started (`CONTAINER_STARTS_PER_DAY`), over a day's stored events. */
  registerUnitsPerStored: number;
  /** Write units of records (table and indexes, duplicates' refused puts included) per stored event. */
  recordUnits: number;
  /** Counter items' mean size when the replay began and after the fold wrote them (bytes). */
  counterItemBytes: { before: number; after: number };
  /** The repair's pass over a minute of this traffic (see `RepairFigures`). */
  repair: RepairFigures;
}

/**
 * Times a day each process container starts afresh, registering again every campaign-day it stores: Lambda
 * replaces warm containers at times it does not publish; taken as every 30 minutes, on the high side.
 */
export const CONTAINER_STARTS_PER_DAY = 48;

/** Units and calls of one repair pass. */
export interface PassUnits {
  writeUnits: number;
  readUnits: number;
  /** Calls one after another: writes, gets, query pages. */
  calls: number;
}

/**
 * What the repair's pass costs once a minute while the campaign-days take traffic: it reads the fold state and
 * the journal from its watermark (the minute's batches and the 20 s before, folded by the pass before), writes
 * the state (the fold under way), reads and writes whole each counter item the minute touched, writes the state
 * again, and once more as the watermark moves on.
 */
export interface RepairFigures extends PassUnits {
  /**
   * Counter item writes of the pass: each campaign-day once per fold it is in (a fold takes at most 2,000
   * batches, so a minute of more batches takes several).
   */
  listed: number;
  /** Of `writeUnits`, the counter items' and the fold state's. */
  counterItemUnits: number;
  foldStateUnits: number;
  /** Of `writeUnits`, the devices' days (one write per device counted on a new day) and the provider-days. */
  deviceReachUnits: number;
  providerDayUnits: number;
  /** Of `writeUnits`, the signal notices (one put per signal the fold raised on the workload's events). */
  noticeUnits: number;
  /** The largest fold state item the pass wrote, bytes (DynamoDB takes items of up to 400 KB). */
  foldStateBytes: number;
  /** Journal entries the pass read, of them the batches it folded, and batches a minute at this rate (the
   * measured batch sizes' mean). */
  journalEntries: number;
  folded: number;
  batchesPerMinute: number;
  /** Campaign-days of the workload, those the replay touched, and those a minute touches on average. */
  campaignDays: number;
  replayTouched: number;
  expectedTouchedPerMinute: number;
  /** A pass with no traffic since the last: the fixed costs' share. */
  idle: PassUnits;
  /** Stored events a minute at this rate: rate × (1 - duplicate share) × 60. */
  storedPerMinute: number;
  /** The pass's units above an idle pass's, per stored event of the minute. */
  writeUnitsPerStored: number;
  readUnitsPerStored: number;
}

async function counterItems(client: DynamoDBClient, table: string, workload: Workload, day: string) {
  const items = [];
  for (let k = 0; k < workload.campaigns; k++) {
    const { Item } = await client.send(
      new GetItemCommand({
        TableName: table,
        Key: counterItemKey({ provider: 'sori', campaignId: campaignId(k), day }),
        ConsistentRead: true,
      }),
    );
    if (Item) items.push(Item);
  }
  return items;
}

/** Runs `work`, returning what it added to `tally`. */
async function spent(tally: WriteTally, work: () => Promise<unknown>) {
  const before = { ...tally };
  tally.foldStateMaxBytes = 0;
  await work();
  const diff = Object.fromEntries(
    Object.entries(tally).map(([name, value]) => [name, value - before[name as keyof WriteTally]]),
  ) as unknown as WriteTally;
  // A largest size, not a sum: this work's own.
  diff.foldStateMaxBytes = tally.foldStateMaxBytes;
  tally.foldStateMaxBytes = Math.max(before.foldStateMaxBytes, tally.foldStateMaxBytes);
  return {
    tally: diff,
    pass: {
      writeUnits: diff.tableUnits + diff.indexUnits,
      readUnits: diff.readUnits,
      calls: diff.requests + diff.readRequests,
    },
  };
}

/** The time part of a batch token (see `newClaimToken`): tokens and the fold's watermark compare by it. */
const timePart = (ms: number) => newClaimToken(ms).split('_')[0] as string;

/**
 * Gives the journal what it holds when a steady pass begins at `now`: 80 s of batches shaped as the replay's
 * (their campaign-days and first inserts, taken in turn), the first 20 s of them folded by the pass a minute
 * before, which left its watermark at their start (the fold keeps the watermark 20 s behind, for entries still
 * landing). The replay's own entries are taken out: earlier passes folded them.
 */
async function steadyJournal(
  client: DynamoDBClient,
  table: string,
  batchesPerMinute: number,
  now: number,
): Promise<{ entries: number; minute: number }> {
  const replayed = await queryItems(client, journalQuery(table, ''));
  if (replayed.length === 0) throw new Error('the replay journaled no batch');
  const write = async (requests: WriteRequest[]) => {
    for (let i = 0; i < requests.length; i += 25) {
      let pending: WriteRequest[] | undefined = requests.slice(i, i + 25);
      while (pending && pending.length > 0) {
        const answer: BatchWriteItemCommandOutput = await client.send(
          new BatchWriteItemCommand({ RequestItems: { [table]: pending } }),
        );
        pending = answer.UnprocessedItems?.[table];
      }
    }
  };
  await write(replayed.map((item) => ({ DeleteRequest: { Key: keyOf(item) } })));
  const entries = Math.max(1, Math.round((batchesPerMinute * 80) / 60));
  const before = Math.round((batchesPerMinute * 20) / 60);
  const span = 80_000;
  const tokens = Array.from({ length: entries }, (_, i) =>
    newClaimToken(now - span + Math.floor(((i + 0.5) * span) / entries)),
  );
  await write(
    tokens.map((token, i) => {
      const shape = replayed[i % replayed.length] as Record<string, AttributeValue>;
      return { PutRequest: { Item: { ...shape, ...batchKey(token) } } };
    }),
  );
  await client.send(
    new PutItemCommand({
      TableName: table,
      Item: foldStateItem({
        watermark: timePart(now - span),
        folded: tokens.slice(0, before),
        pending: [],
        run: undefined,
        counted: 1,
        version: 1_000,
      }),
    }),
  );
  return { entries, minute: entries - before };
}

/** Campaign-days `n` deliveries touch on average, from the campaigns' shares (one day). */
function expectedTouched(workload: Workload, n: number): number {
  return shares(workload).campaigns.reduce((sum, p) => sum + 1 - (1 - p) ** n, 0);
}

/**
 * Replays `deliveries` of the workload (12:00 to 13:00) through the real consumer (`storeBatch`, one
 * EventWriter and CampaignCounters, as one warm container) in batches of `sizes`, taken in turn, after each
 * campaign-day's counter item was given its morning (see counter-growth.ts) at `ratePerSecond` when the workload
 * measures at mid-day. The consumer's writes are its records, device markers, two journal writes per batch, and
 * the registrations of a fresh container (priced per container start, see `CONTAINER_STARTS_PER_DAY`).
 * Then prices the repair's pass (`CampaignCounters.repair`, the counter items' one writer) as it runs once a
 * minute at this rate: over a journal holding a minute of batches shaped as the replay's (see `steadyJournal`),
 * with an idle pass (no traffic) measured before the replay for the fixed costs. Every call is priced by
 * write-units.ts.
 */
export async function replayWorkload(options: ReplayOptions): Promise<ReplayFigures> {
  const { endpoint, workload, table, ratePerSecond } = options;
  const layout = DEPLOYED_LAYOUT;
  const setup = new DynamoDBClient(localClientConfig(endpoint));
  await ensureRecordsTable(setup, table);
  if (workload.midDayCounters) await growCounters(setup, table, layout, workload, ratePerSecond, REPLAY_DAY);
  const before = await counterItems(setup, table, workload, REPLAY_DAY);
  const distinctShare = 1 - workload.duplicateShare;
  const messages = workloadDeliveries(workload, {
    events: Math.round(options.deliveries * distinctShare),
    seed: options.seed,
    day: REPLAY_DAY,
    fromHour: 12,
    toHour: 13,
  });
  const stored = new Set(messages.map((m) => m.record.id)).size;
  const { client, tally } = await counted(endpoint, [table]);
  const writer = new EventWriter(client, table, layout);
  const counters = new CampaignCounters(client, table, layout);

  // A pass with nothing to fold: the state read, the journal's and the earlier protocol's list's empty
  // queries, and the state written as the watermark moves on.
  const idle = (await spent(tally, () => counters.repair())).pass;
  let batches = 0;
  const { tally: replayed } = await spent(tally, async () => {
    batches = await replayBatches(writer, counters, messages, options.sizes);
  });
  const meanSize = options.sizes.reduce((sum, n) => sum + Math.max(1, n), 0) / options.sizes.length;
  const batchesPerMinute = (ratePerSecond * 60) / meanSize;
  const { pass, summary } = await steadyPass(setup, table, counters, tally, batchesPerMinute);
  const after = await counterItems(setup, table, workload, REPLAY_DAY);
  client.destroy();
  setup.destroy();

  const mean = (items: Record<string, AttributeValue>[]) =>
    items.reduce((sum, item) => sum + itemBytes(item), 0) / Math.max(1, items.length);
  const storedPerMinute = ratePerSecond * distinctShare * 60;
  // The consumer's counter writes are its journal entries and its registrations.
  const register = {
    requests: replayed.counterRequests - replayed.journalRequests,
    units: replayed.counterUnits - replayed.journalUnits,
  };
  const registerUnitsPerStored =
    (register.units * (options.containers ?? 1) * CONTAINER_STARTS_PER_DAY) / (storedPerMinute * 60 * 24);
  const repair = repairFigures({ options, messages, pass, summary, idle, batchesPerMinute, storedPerMinute });
  const units = replayed.tableUnits + replayed.indexUnits;
  return {
    workload: workload.name,
    label: options.label,
    ratePerSecond,
    deliveries: messages.length,
    stored,
    batches,
    meanBatch: messages.length / batches,
    writeUnits: (units - register.units) / stored + registerUnitsPerStored + repair.writeUnitsPerStored,
    requests: replayed.requests / stored,
    markerUnits: replayed.markerUnits / stored,
    markers: replayed.markerRequests / stored,
    counterUnits: replayed.journalUnits / stored + registerUnitsPerStored + repair.writeUnitsPerStored,
    counterRequests: replayed.counterRequests / stored,
    journalUnits: replayed.journalUnits / stored,
    journalRequests: replayed.journalRequests / stored,
    register,
    registerUnitsPerStored,
    recordUnits: (units - replayed.markerUnits - replayed.counterUnits) / stored,
    counterItemBytes: { before: mean(before), after: mean(after) },
    repair,
  };
}

/** What {@link replayWorkload} replays, where, and at which rate and batch sizes. */
export interface ReplayOptions {
  endpoint: string;
  workload: Workload;
  ratePerSecond: number;
  sizes: readonly number[];
  deliveries: number;
  label: string;
  table: string;
  seed: number;
  /** Process containers at once at this rate, each registering on its own (1 by default). */
  containers?: number;
}

const REPLAY_DAY = '2025-10-14';

/**
 * Stores the messages through the consumer in batches of `sizes`, taken in turn.
 * @returns the batches stored.
 */
async function replayBatches(
  writer: EventWriter,
  counters: CampaignCounters,
  messages: ReturnType<typeof workloadDeliveries>,
  sizes: readonly number[],
): Promise<number> {
  let batches = 0;
  let cursor = 0;
  for (let i = 0; i < messages.length; batches++) {
    const size = Math.max(1, sizes[cursor++ % sizes.length] ?? 1);
    const outcomes = await storeBatch(writer, counters, messages.slice(i, i + size));
    if (outcomes.some((o) => !o.ok)) throw new Error('a benchmark write failed');
    i += size;
  }
  return batches;
}

/** The repair's pass over a journal holding a minute of batches, checked to have folded them. */
async function steadyPass(
  setup: DynamoDBClient,
  table: string,
  counters: CampaignCounters,
  tally: WriteTally,
  batchesPerMinute: number,
) {
  const now = Date.now();
  const journal = await steadyJournal(setup, table, batchesPerMinute, now);
  let summary: RepairSummary | undefined;
  const pass = await spent(tally, async () => {
    summary = await counters.repair(now);
  });
  // The newest batches may wait for the next pass when the state's list of recent folds is full: a steady pass
  // folds as many older ones it left the minute before.
  if (
    !summary ||
    summary.folded === 0 ||
    summary.folded > journal.minute ||
    summary.failed > 0 ||
    summary.recounted > 0
  ) {
    throw new Error(`the measured pass did not fold the minute's batches: ${JSON.stringify(summary)}`);
  }
  return { pass, summary };
}

/** The repair's pass priced: its units above an idle pass's, per stored event. */
function repairFigures(measured: {
  options: ReplayOptions;
  messages: ReturnType<typeof workloadDeliveries>;
  pass: Awaited<ReturnType<typeof spent>>;
  summary: RepairSummary;
  idle: PassUnits;
  batchesPerMinute: number;
  storedPerMinute: number;
}): RepairFigures {
  const { options, messages, pass, summary, idle, batchesPerMinute, storedPerMinute } = measured;
  const { workload, ratePerSecond } = options;
  return {
    ...pass.pass,
    listed: summary.written,
    counterItemUnits: pass.tally.counterUnits - pass.tally.foldStateUnits,
    foldStateUnits: pass.tally.foldStateUnits,
    deviceReachUnits: pass.tally.reachUnits,
    providerDayUnits: pass.tally.providerDayUnits,
    noticeUnits: pass.tally.noticeUnits,
    foldStateBytes: pass.tally.foldStateMaxBytes,
    journalEntries: summary.checked,
    folded: summary.folded,
    batchesPerMinute,
    campaignDays: workload.campaigns,
    replayTouched: new Set(messages.flatMap((m) => (m.kind === 'event' ? [m.record.campaign_id] : []))).size,
    expectedTouchedPerMinute: expectedTouched(workload, ratePerSecond * 60),
    idle,
    storedPerMinute,
    writeUnitsPerStored: (pass.pass.writeUnits - idle.writeUnits) / storedPerMinute,
    readUnitsPerStored: (pass.pass.readUnits - idle.readUnits) / storedPerMinute,
  };
}
