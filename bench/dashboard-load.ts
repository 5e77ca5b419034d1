// What one dashboard load costs, through DashboardReader's public API (`parseDashboardQuery` then `read`), against a
// local DynamoDB-API server in a process of its own:
// - its time for an account of 100 campaigns over a 30-day range: the first load of a new reader (the cold load),
//   then median and p95 of a warm reader's loads, each just after the repair's fold counted one more event (the
//   reader then reads the counted items again; between folds it keeps them), against a one-day load of the same
//   data (`?day=`, the first version's only load) timed in the same rounds;
// - its read units, priced as DynamoDB bills them (write-units.ts's rules), for one campaign over 30 days with
//   10,000 and with 1,000,000 devices, in read units, USD per load and USD per month of a page left open (the
//   page's polling interval read from the page, the fold's from the stack's repair schedule).
//
// The 100 campaigns and the 10,000-device campaign are stored through the real path: the consumer's storeBatch,
// then the repair's fold (CampaignCounters.repair), which writes the counter items and the provider-day items the
// dashboard reads. A million devices do not go through that path in a bench's minutes: the 1,000,000-device
// campaign's counter items and provider-day items are built with the fold's own item builders (counterItem,
// providerDayItem), their reach histograms computed exactly by the fold's own reachChanges over a simulated
// million devices' days (drawn as the 10,000-device campaign's are), their counts the 10,000-device campaign's
// times 100; its event records (the latest events and material names the dashboard reads) are the
// 10,000-device campaign's last day's records.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import {
  BatchWriteItemCommand,
  type BatchWriteItemCommandOutput,
  DynamoDBClient,
  GetItemCommand,
  type GetItemCommandInput,
  QueryCommand,
  type QueryCommandInput,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import type { QueueMessage } from '../lib/events/event-record';
import { CampaignCounters } from '../lib/ingest/campaign-counters';
import { EventWriter } from '../lib/ingest/event-writer';
import { storeBatch } from '../lib/ingest/store-batch';
import { sori } from '../lib/providers/sori';
import { type Dashboard, DashboardReader, parseDashboardQuery } from '../lib/queries/dashboard';
import { buildQueueMessage } from '../lib/receive/build-queue-message';
import { counterItem, foldStateKey } from '../lib/table/counter-items';
import { itemBytes } from '../lib/table/item-size';
import { providerDayItem, providerDayPartitionKey, readProviderDays } from '../lib/table/provider-days';
import {
  dayNumber,
  dayOfNumber,
  devicesOf,
  histogramOf,
  REACH_ATTRIBUTE,
  type ReachHistogram,
  reachChanges,
} from '../lib/table/reach';
import {
  campaignDayFamily,
  devicePartitionKey,
  EVENT_SORT_PREFIX,
  fromEventItem,
  isCountAttribute,
  NAME_ATTRIBUTE,
  RECORDS_TABLE,
  shardKeys,
  statsPartitionKey,
  TYPES_ATTRIBUTE,
} from '../lib/table/records-table';
import { type Item, queryItems } from '../lib/table/table-io';
import { ensureRecordsTable } from '../local/create-records-table';
import { localClientConfig } from '../local/local-stack';
import { startDynamoDbProcess } from './dynalite-child';
import { DEPLOYED_LAYOUT, random } from './workload';
import { readUnitsOf } from './write-units';

const ROOT = join(import.meta.dirname, '..');
const FIXTURE = JSON.parse(
  readFileSync(join(ROOT, 'examples/payloads/sori/impression.json'), 'utf8'),
) as Record<string, unknown> & {
  campaign: Record<string, unknown>;
  material: Record<string, unknown>;
  geolocation: object;
};
const PRICES = JSON.parse(readFileSync(join(import.meta.dirname, 'prices.json'), 'utf8')) as {
  dynamodbOnDemandPerMillionReadUnits: number;
  region: string;
  date: string;
};

/** The range the page shows (its "30 days" preset), and the period of the same length before it. */
export const RANGE_DAYS = 30;
/** A fixed last day, so every run stores the same items (the figures do not depend on the date). */
const TO = '2026-11-30';
const FROM = dayOfNumber(dayNumber(TO) - RANGE_DAYS + 1);
const PREVIOUS_FROM = dayOfNumber(dayNumber(FROM) - RANGE_DAYS);
const PREVIOUS_TO = dayOfNumber(dayNumber(FROM) - 1);
const HOURS_PER_MONTH = 730;

/** The 100-campaign account: its range stored through the real path. */
const ACCOUNT = {
  campaigns: 100,
  /** Campaign events per campaign and day, spread over the day's hours. */
  eventsPerCampaignDay: 12,
  /** Each campaign's audience; neighbouring campaigns share half of theirs (one account's devices). */
  devicesPerCampaign: 2_000,
} as const;

/** Shares of SORI's campaign events, as a running campaign sends them. */
const TRAFFIC = {
  clickShare: 0.05,
  platforms: [
    ['Android', 0.55],
    ['iOS', 0.4],
    ['Web', 0.05],
  ] as const,
  /** Viewer countries, the k-th most frequent 1/k as often as the first. */
  countries: [
    'United States',
    'Germany',
    'United Kingdom',
    'France',
    'Japan',
    'Brazil',
    'Canada',
    'India',
    'Spain',
    'Italy',
  ],
  materialsPerCampaign: 3,
} as const;

/**
 * One campaign's devices over the range and the period before it: each device is seen on one day of the range
 * drawn at random (so the range's unique devices are the whole population), and on `REVISITS` more days on
 * average (a Poisson draw), each drawn at random over both periods; one event per day seen.
 */
const REVISITS = 1;
/** The single campaigns' populations: the one stored through the real path, and the simulated one. */
const SMALL_DEVICES = 10_000;
const LARGE_DEVICES = 1_000_000;
const SCALE = LARGE_DEVICES / SMALL_DEVICES;

/** Warm loads timed of each kind (30 days, one day), alternately. */
const WARM_LOADS = 15;

const fixed = (value: number, digits = 1) => Number(value.toFixed(digits));
const DAY_MS = 86_400_000;
const dayStart = (day: number) => day * DAY_MS;

/** A seeded Poisson draw (Knuth's; the mean is small). */
function poisson(next: () => number, mean: number): number {
  const limit = Math.exp(-mean);
  let k = 0;
  let p = next();
  while (p > limit) {
    k++;
    p *= next();
  }
  return k;
}

/** Picks a value by weight (the weights sum to 1). */
function weighted<T>(values: ReadonlyArray<readonly [T, number]>, u: number): T {
  let sum = 0;
  for (const [value, weight] of values) {
    sum += weight;
    if (u < sum) return value;
  }
  return (values.at(-1) as readonly [T, number])[0];
}

const COUNTRY_WEIGHTS = (() => {
  const raw = TRAFFIC.countries.map((_, k) => 1 / (k + 1));
  const total = raw.reduce((a, b) => a + b, 0);
  return TRAFFIC.countries.map((country, k) => [country, (raw[k] as number) / total] as const);
})();

const campaignIdOf = (k: number) => `cmp_${String(k).padStart(4, '0')}`;
const campaignNameOf = (k: number) =>
  `${['Autumn', 'Winter', 'Spring', 'Summer', 'Launch'][k % 5]} ${['Audio', 'Video', 'Display', 'Podcast'][k % 4]} ${k + 1}`;
const deviceIdOf = (n: number) => `device_${String(n).padStart(7, '0')}`;

/** What the bench sent, to check the dashboard against: events per counter, devices per day. */
interface Sent {
  impressions: number;
  clicks: number;
  /** Devices (account-wide ids) seen in the range. */
  devices: Set<number>;
}

/** One SORI campaign event as SORI sends it (the documented impression, its fields varied), received at once. */
function campaignEvent(
  next: () => number,
  at: number,
  seq: string,
  campaign: number,
  device: number,
  sent: Sent | undefined,
): QueueMessage {
  const createdAt = new Date(at).toISOString();
  const material = Math.floor(next() * TRAFFIC.materialsPerCampaign);
  const click = next() < TRAFFIC.clickShare;
  const payload = {
    ...FIXTURE,
    event: click ? 'campaign.click' : 'campaign.impression',
    created_at: createdAt,
    timestamp: createdAt,
    activity_id: `act_${seq}`,
    device_id: deviceIdOf(device),
    platform: weighted(TRAFFIC.platforms, next()),
    geolocation: { ...FIXTURE.geolocation, viewer_country: weighted(COUNTRY_WEIGHTS, next()) },
    campaign: { ...FIXTURE.campaign, id: campaignIdOf(campaign), name: campaignNameOf(campaign) },
    material: {
      ...FIXTURE.material,
      id: `mat_${String(campaign).padStart(4, '0')}_${material}`,
      name: `${campaignNameOf(campaign)}, spot ${material + 1}`,
    },
  };
  if (sent && createdAt.slice(0, 10) >= FROM && createdAt.slice(0, 10) <= TO) {
    if (click) sent.clicks++;
    else sent.impressions++;
    sent.devices.add(device);
  }
  return buildQueueMessage(sori, Buffer.from(JSON.stringify(payload)), createdAt);
}

/** The 100-campaign account's events of one day, in time order. */
function accountDay(day: number, sent: Sent): QueueMessage[] {
  const next = random(day * 7_919 + 1);
  const slot = DAY_MS / ACCOUNT.eventsPerCampaignDay;
  const events: { at: number; campaign: number }[] = [];
  for (let campaign = 0; campaign < ACCOUNT.campaigns; campaign++) {
    // Spread over the day, a jitter within each slot.
    for (let i = 0; i < ACCOUNT.eventsPerCampaignDay; i++)
      events.push({ at: dayStart(day) + Math.floor(i * slot + next() * slot), campaign });
  }
  events.sort((a, b) => a.at - b.at);
  return events.map(({ at, campaign }, i) => {
    const device =
      campaign * (ACCOUNT.devicesPerCampaign / 2) + Math.floor(next() * ACCOUNT.devicesPerCampaign);
    return campaignEvent(next, at, `a${day}_${i}`, campaign, device, sent);
  });
}

/**
 * The days each of `devices` devices is seen (day numbers, a day twice for two events that day), as
 * {@link REVISITS} describes: `visit` is called once per device.
 */
function deviceDays(devices: number, seed: number, visit: (device: number, days: number[]) => void): void {
  const next = random(seed);
  const first = dayNumber(PREVIOUS_FROM);
  const rangeFirst = dayNumber(FROM);
  for (let device = 0; device < devices; device++) {
    const days = [rangeFirst + Math.floor(next() * RANGE_DAYS)];
    const more = poisson(next, REVISITS);
    for (let i = 0; i < more; i++) days.push(first + Math.floor(next() * 2 * RANGE_DAYS));
    visit(device, days);
  }
}

/** Unique devices of the range and of the period before it, counted from the devices' days themselves. */
interface Reach {
  range: number;
  previous: number;
}

/** The 10,000-device campaign's events, day by day, in time order within each day. */
function singleCampaignDays(devices: number, sent: Sent): { days: QueueMessage[][]; reach: Reach } {
  const visits = new Map<number, number[]>();
  const reach: Reach = { range: 0, previous: 0 };
  deviceDays(devices, 10_000, (device, days) => {
    for (const day of days) {
      const list = visits.get(day) ?? [];
      list.push(device);
      visits.set(day, list);
    }
    countReach(reach, days);
  });
  const next = random(77);
  const days = [...visits]
    .sort(([a], [b]) => a - b)
    .map(([day, seen]) => {
      const at = seen.map(() => dayStart(day) + Math.floor(next() * DAY_MS)).sort((a, b) => a - b);
      return seen.map((device, i) => campaignEvent(next, at[i] as number, `s${day}_${i}`, 0, device, sent));
    });
  return { days, reach };
}

function countReach(reach: Reach, days: number[]) {
  const from = dayNumber(FROM);
  const previousFrom = dayNumber(PREVIOUS_FROM);
  if (days.some((day) => day >= from)) reach.range++;
  if (days.some((day) => day >= previousFrom && day < from)) reach.previous++;
}

/**
 * The reach histograms of a simulated campaign of `devices` devices, per day, exactly as the fold keeps them: for
 * each device, reachChanges from no day to its days.
 */
function simulatedHistograms(devices: number): { byDay: Map<number, Map<number, number>>; reach: Reach } {
  const byDay = new Map<number, Map<number, number>>();
  const reach: Reach = { range: 0, previous: 0 };
  deviceDays(devices, 10_000, (_, days) => {
    for (const [day, change] of reachChanges([], days)) {
      const histogram = byDay.get(day) ?? new Map<number, number>();
      for (const [gap, by] of change) histogram.set(gap, (histogram.get(gap) ?? 0) + by);
      byDay.set(day, histogram);
    }
    countReach(reach, days);
  });
  return { byDay, reach };
}

/**
 * Stores days of deliveries through the real path: the consumer's storeBatch in batches of 100 (one warm
 * container), then the repair's fold after each day, as its schedule folds deliveries as they come.
 */
async function storeThroughPipeline(
  client: DynamoDBClient,
  table: string,
  days: Iterable<QueueMessage[]>,
  log: (message: string) => void,
): Promise<{ events: number; seconds: number }> {
  const writer = new EventWriter(client, table, DEPLOYED_LAYOUT);
  const counters = new CampaignCounters(client, table, DEPLOYED_LAYOUT);
  const began = Date.now();
  let events = 0;
  let count = 0;
  for (const messages of days) {
    for (let i = 0; i < messages.length; i += 100) {
      const outcomes = await storeBatch(writer, counters, messages.slice(i, i + 100));
      if (outcomes.some((o) => !o.ok)) throw new Error('a bench batch failed to store');
    }
    events += messages.length;
    await foldAll(counters);
    if (++count % 10 === 0)
      log(`dashboard: ${table}: ${count} days stored and folded, ${events.toLocaleString('en-US')} events`);
  }
  return { events, seconds: (Date.now() - began) / 1000 };
}

/** Repair passes until one finds nothing left to fold (a pass stops at its time budget). */
async function foldAll(counters: CampaignCounters) {
  for (;;) {
    const pass = await counters.repair();
    if (pass.failed > 0 || pass.gaveWay) throw new Error('a bench repair pass failed');
    if (pass.folded === 0 && pass.recounted === 0) return;
  }
}

async function putAll(client: DynamoDBClient, table: string, items: Item[]) {
  for (let i = 0; i < items.length; i += 25) {
    let pending: WriteRequest[] | undefined = items
      .slice(i, i + 25)
      .map((Item) => ({ PutRequest: { Item } }));
    while (pending && pending.length > 0) {
      const out: BatchWriteItemCommandOutput = await client.send(
        new BatchWriteItemCommand({ RequestItems: { [table]: pending } }),
      );
      pending = out.UnprocessedItems?.[table];
    }
  }
}

/** A campaign's counter items over `[first, last]`, as stored. */
const campaignCounterItems = (
  client: DynamoDBClient,
  table: string,
  campaign: string,
  first: string,
  last: string,
) =>
  queryItems(client, {
    TableName: table,
    KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :first AND :last',
    ExpressionAttributeNames: { '#pk': RECORDS_TABLE.partitionKey, '#sk': RECORDS_TABLE.sortKey },
    ExpressionAttributeValues: {
      ':pk': { S: statsPartitionKey('sori', campaign) },
      ':first': { S: first },
      ':last': { S: last },
    },
  });

/** A folded counter item rebuilt with the fold's builder, on another day or with other counts and reach. */
function rebuiltCounter(
  item: Item,
  change: { day?: string; scale?: number; reach?: ReachHistogram; fold: string },
): Item {
  const counts: Record<string, number> = {};
  for (const [name, value] of Object.entries(item))
    if (isCountAttribute(name)) counts[name] = Number(value.N) * (change.scale ?? 1);
  const reach = change.reach ?? histogramOf(item[REACH_ATTRIBUTE]);
  return counterItem(
    {
      provider: item.provider?.S ?? '',
      campaignId: item.campaign_id?.S ?? '',
      day: change.day ?? item.day?.S ?? '',
    },
    {
      counts,
      devices: change.reach ? devicesOf(change.reach) : Number(item.devices?.N ?? 0),
      name: item[NAME_ATTRIBUTE]?.S ?? null,
      version: Number(item.version?.N ?? 1),
      fold: change.fold,
      legacyClaims: new Map(),
      reach,
      types: item[TYPES_ATTRIBUTE]?.SS ?? [],
    },
  );
}

/** Where a dashboard read goes, by what it reads. */
type ReadKind =
  | 'counter listing (index query per provider-day)'
  | 'counter items (batch get)'
  | 'counter items (campaign query)'
  | 'provider-days (query)'
  | 'latest events (query)'
  | 'material names (query)'
  | 'fold state version (get)'
  | 'other';

interface ReadFigures {
  requests: number;
  /** Read units as the reads were sent (a consistent read costs twice an eventually consistent one). */
  units: number;
  /** Read units had every read been eventually consistent. */
  unitsEventual: number;
  items: number;
}

interface ReadTally extends ReadFigures {
  byKind: Partial<Record<ReadKind, ReadFigures>>;
}

const newFigures = (): ReadFigures => ({ requests: 0, units: 0, unitsEventual: 0, items: 0 });

function kindOf(command: string, input: QueryCommandInput): ReadKind {
  if (command === 'BatchGetItemCommand') return 'counter items (batch get)';
  const key = (input as { Key?: Item }).Key;
  if (
    command === 'GetItemCommand' &&
    key?.[RECORDS_TABLE.partitionKey]?.S === foldStateKey()[RECORDS_TABLE.partitionKey]?.S
  )
    return 'fold state version (get)';
  if (command !== 'QueryCommand') return 'other';
  if (input.IndexName) return 'counter listing (index query per provider-day)';
  const pk = input.ExpressionAttributeValues?.[':pk']?.S ?? '';
  if (pk.startsWith(statsPartitionKey('sori', ''))) return 'counter items (campaign query)';
  if (pk.startsWith(providerDayPartitionKey(''))) return 'provider-days (query)';
  return input.ProjectionExpression ? 'material names (query)' : 'latest events (query)';
}

type Output = { Item?: Item; Items?: Item[]; Responses?: Record<string, Item[]> };

/** One read's figures as DynamoDB bills it: its units as sent, its units were it eventually consistent. */
function price(command: string, input: Record<string, unknown>, output: Output): ReadFigures {
  const eventual = {
    ...input,
    ConsistentRead: false,
    RequestItems: Object.fromEntries(
      Object.entries((input.RequestItems ?? {}) as Record<string, object>).map(([t, r]) => [
        t,
        { ...r, ConsistentRead: false },
      ]),
    ),
  };
  return {
    requests: 1,
    units: readUnitsOf(command, input, output),
    unitsEventual: readUnitsOf(command, eventual, output),
    items:
      (output.Item ? 1 : 0) +
      (output.Items?.length ?? 0) +
      Object.values(output.Responses ?? {}).reduce((n, list) => n + list.length, 0),
  };
}

/**
 * Meters every read `client` sends, priced as DynamoDB bills it. A read that projects is billed for the whole
 * items it reads, not for what it returns: it is priced from the same read run again without the projection
 * (on `plain`, unmetered, after the load, so that the load's time is its own).
 */
function meterReads(client: DynamoDBClient, plain: DynamoDBClient) {
  let tally: ReadTally | undefined;
  // Each read is priced once the load is over: the pricing's work and its own reads are not the load's.
  let later: (() => Promise<void> | void)[] = [];
  const add = (kind: ReadKind, figures: ReadFigures) => {
    if (!tally) return;
    const part = tally.byKind[kind] ?? newFigures();
    tally.byKind[kind] = part;
    for (const t of [tally, part]) {
      t.requests += figures.requests;
      t.units += figures.units;
      t.unitsEventual += figures.unitsEventual;
      t.items += figures.items;
    }
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const command = String(context.commandName);
      if (!tally || !['GetItemCommand', 'QueryCommand', 'BatchGetItemCommand'].includes(command))
        return result;
      const input = args.input as QueryCommandInput;
      const kind = kindOf(command, input);
      const output = result.output as Output & { LastEvaluatedKey?: Item };
      if (command === 'GetItemCommand' && input.ProjectionExpression) {
        const { TableName, Key, ConsistentRead } = input as unknown as GetItemCommandInput;
        later.push(async () => {
          const whole = await plain.send(new GetItemCommand({ TableName, Key, ConsistentRead }));
          add(kind, price(command, { ConsistentRead }, { Item: whole.Item }));
        });
        return result;
      }
      if (command === 'QueryCommand' && input.ProjectionExpression) {
        const returned = output.Items?.length ?? 0;
        later.push(async () => {
          const { ProjectionExpression: _, ...whole } = input;
          // Only the names the key condition uses: DynamoDB refuses names an expression does not use.
          whole.ExpressionAttributeNames = Object.fromEntries(
            Object.entries(input.ExpressionAttributeNames ?? {}).filter(([name]) =>
              (input.KeyConditionExpression ?? '').includes(name),
            ),
          );
          const read = await plain.send(new QueryCommand({ ...whole, Limit: returned || 1 }));
          add(
            kind,
            price(command, whole as Record<string, unknown>, { Items: read.Items?.slice(0, returned) }),
          );
        });
        return result;
      }
      later.push(() => add(kind, price(command, input as unknown as Record<string, unknown>, output)));
      return result;
    },
    { step: 'initialize', name: 'meterDashboardReads' },
  );
  return {
    start() {
      tally = { ...newFigures(), byKind: {} };
      later = [];
    },
    async stop(): Promise<ReadTally> {
      for (const price of later) await price();
      const done = tally as ReadTally;
      tally = undefined;
      return done;
    },
  };
}

interface Load {
  ms: number;
  /** CPU time of this process during the load: the reader's own work and its SDK's (the server runs apart). */
  cpuMs: number;
  reads: ReadTally;
  dashboard: Dashboard;
}

/** A reader as the page's server keeps one (its own client, so a new one opens its connections), metered. */
function newReader(endpoint: string, table: string, plain: DynamoDBClient) {
  const client = new DynamoDBClient(localClientConfig(endpoint));
  const meter = meterReads(client, plain);
  let reader = new DashboardReader(client, table, DEPLOYED_LAYOUT);
  return {
    /**
     * A new reader on the same client, as a dashboard function's new instance finds it or a page opened anew:
     * nothing read yet, the client's connections open.
     */
    renew() {
      reader = new DashboardReader(client, table, DEPLOYED_LAYOUT);
    },
    /** One load through the reader's public API, as `GET /api/dashboard?<params>` asks for it. */
    async load(params: Record<string, string>): Promise<Load> {
      const parsed = parseDashboardQuery(new URLSearchParams(params), TO);
      if (!parsed.ok) throw new Error(`the bench's query was refused: ${parsed.message}`);
      meter.start();
      const began = performance.now();
      const cpu = process.cpuUsage();
      const dashboard = await reader.read(parsed.query);
      const ms = performance.now() - began;
      const used = process.cpuUsage(cpu);
      return { ms, cpuMs: (used.user + used.system) / 1000, reads: await meter.stop(), dashboard };
    },
    close: () => client.destroy(),
  };
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
};

/** The page's polling, read from the page itself: every N s for a range ending today, every M s for a past one. */
export function pagePolling(): { intervalS: number; pastRangeIntervalS: number } {
  const page = readFileSync(join(ROOT, 'functions/campaign-dashboard/page/index.html'), 'utf8');
  const poll = /setInterval\(\(\) => \{([\s\S]*?)\}, (\d+)\);/.exec(page);
  const past = poll ? /lastAsked >= (\d+)/.exec(poll[1] ?? '') : null;
  if (!poll || !past)
    throw new Error(
      "the page's polling interval was not found in functions/campaign-dashboard/page/index.html",
    );
  return { intervalS: Number(poll[2]) / 1000, pastRangeIntervalS: Number(past[1]) / 1000 };
}

/** The repair's schedule, read from the construct: the fold runs (and, with traffic, moves its state) so often. */
export function foldInterval(): number {
  const construct = readFileSync(join(ROOT, 'infra/constructs/campaign-inbox.ts'), 'utf8');
  const schedule = /'RepairSchedule'[\s\S]*?Schedule\.rate\(Duration\.(minutes|seconds)\((\d+)\)\)/.exec(
    construct,
  );
  if (!schedule) throw new Error("the repair's schedule was not found in infra/constructs/campaign-inbox.ts");
  return Number(schedule[2]) * (schedule[1] === 'minutes' ? 60 : 1);
}

/** A device with an event on the range's last day in a campaign: the first stored in its partition. */
async function deviceOnLastDay(client: DynamoDBClient, table: string, campaign: number): Promise<number> {
  const [partition] = shardKeys(campaignDayFamily('sori', campaignIdOf(campaign), TO), DEPLOYED_LAYOUT);
  const [item] = await queryItems(
    client,
    {
      TableName: table,
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :events)',
      ExpressionAttributeNames: { '#pk': RECORDS_TABLE.partitionKey, '#sk': RECORDS_TABLE.sortKey },
      ExpressionAttributeValues: { ':pk': { S: partition as string }, ':events': { S: EVENT_SORT_PREFIX } },
      Limit: 1,
    },
    1,
  );
  const device = item ? fromEventItem(item).device_id : undefined;
  if (!device) throw new Error(`dashboard bench: ${table} has no event on ${TO}`);
  return Number(device.slice('device_'.length));
}

/**
 * What a minute of traffic does between two polls: one more event through the real path (storeBatch, from a
 * device already counted that day, so the range's devices stay as sent) and the repair's fold that counts it.
 * The fold writes counts, so a reader reads its counted items again at its next load.
 */
async function refold(client: DynamoDBClient, table: string, sent: Sent, device: number, seq: number) {
  const writer = new EventWriter(client, table, DEPLOYED_LAYOUT);
  const counters = new CampaignCounters(client, table, DEPLOYED_LAYOUT);
  const at = dayStart(dayNumber(TO)) + DAY_MS - 60_000 + seq;
  const message = campaignEvent(random(seq + 1), at, `r_${table}_${seq}`, 0, device, sent);
  const [outcome] = await storeBatch(writer, counters, [message]);
  if (!outcome?.ok) throw new Error('a bench batch failed to store');
  await foldAll(counters);
}

/** Throws unless the dashboard's figures are the ones sent: the load measured is a right one. */
function check(label: string, actual: unknown, expected: unknown) {
  if (actual !== expected) throw new Error(`dashboard bench: ${label} is ${actual}, expected ${expected}`);
}

/** Polling, and what it makes of a load's read units over time. */
interface Polling {
  intervalS: number;
  pastRangeIntervalS: number;
  loadsPerHour: number;
  loadsPerMonth: number;
  /** Seconds between the repair's folds, each of which makes the next load read the counted items again. */
  foldIntervalS: number;
  /** Of the loads between two folds, the one that reads the counted items again. */
  loadsPerFold: number;
}

/** Read units of a month of polling: one load per fold reads the counted items, the others do not. */
const unitsPerMonth = (polling: Polling, afterFold: ReadTally, betweenFolds: ReadTally) =>
  (polling.loadsPerMonth / polling.loadsPerFold) *
  (afterFold.units + (polling.loadsPerFold - 1) * betweenFolds.units);

export interface CampaignCost {
  devices: number;
  /** How its items were made. */
  built: string;
  /** A warm reader's load of the 30-day range just after a fold: it reads again what the fold wrote. */
  afterFold: ReadTally;
  /** A warm reader's load between two folds: the counted items it keeps are still the table's. */
  betweenFolds: ReadTally;
  /** A new reader's first load (it also looks for material names the latest events do not give). */
  cold: ReadTally;
  /** A warm load drilled down to the campaign (`provider` + `campaign`), just after a fold. */
  drillDown: ReadTally;
  /** A load just after a fold, in USD. */
  usdPerLoad: number;
  usdPerHourOpen: number;
  usdPerMonthOpen: number;
  counterItemBytes: { median: number; max: number };
}

interface Timed {
  median: number;
  p95: number;
  all: number[];
}

export interface DashboardLoadFigures {
  range: { from: string; to: string; previousFrom: string; previousTo: string };
  polling: Polling;
  prices: { readUnitsPerMillionUsd: number; region: string; date: string };
  loadAverage: number[];
  account: {
    campaigns: number;
    events: number;
    storeSeconds: number;
    counterItems: number;
    coldMs: number;
    /** Warm 30-day loads just after a fold (the counted items read again), and between folds. */
    afterFoldMs: Timed;
    betweenFoldsMs: Timed;
    /** Median CPU time of this process during a 30-day and a one-day load just after a fold. */
    afterFoldCpuMs: number;
    dayCpuMs: number;
    /** The baseline: warm one-day loads (`?day=`) just after a fold. */
    dayMs: Timed;
    ratioVsDay: number;
    /** A new reader's 30-day load on a warm client: every counted item of the range and the period before. */
    fullReadMs: Timed;
    fullReadCpuMs: number;
    fullRead: ReadTally;
    afterFold: ReadTally;
    betweenFolds: ReadTally;
    cold: ReadTally;
    day: ReadTally;
    usdPerMonthOpen: number;
  };
  small: CampaignCost & { events: number; storeSeconds: number };
  large: CampaignCost & { simulatedSeconds: number };
}

const usd = (units: number) => (units * PRICES.dynamodbOnDemandPerMillionReadUnits) / 1_000_000;
const timed = (loads: Load[]): Timed => {
  const all = loads.map((l) => fixed(l.ms));
  return { median: quantile(all, 0.5), p95: quantile(all, 0.95), all };
};

/**
 * Measures a single campaign's loads (cold, just after a fold, between folds, drilled down) and checks the
 * dashboard's figures against what was sent.
 */
async function campaignCost(
  endpoint: string,
  plain: DynamoDBClient,
  table: string,
  devices: number,
  expected: { reach: Reach; sent: Sent },
  built: string,
  polling: Polling,
): Promise<CampaignCost> {
  const reader = newReader(endpoint, table, plain);
  const range = { from: FROM, to: TO };
  const device = await deviceOnLastDay(plain, table, 0);
  const checked = (label: string, load: Load) => {
    const { totals, campaigns, previous } = load.dashboard;
    const { reach, sent } = expected;
    check(`${table}, ${label}: unique devices over the range`, totals.unique_devices, reach.range);
    check(`${table}, ${label}: the campaign's unique devices`, campaigns[0]?.unique_devices, reach.range);
    check(`${table}, ${label}: previous period's unique devices`, previous.unique_devices, reach.previous);
    check(`${table}, ${label}: impressions over the range`, totals.impressions, sent.impressions);
    check(`${table}, ${label}: clicks over the range`, totals.clicks, sent.clicks);
    return load;
  };
  const cold = checked('cold', await reader.load(range));
  // The next load of a page, between folds: it reads the latest fold's items again once (see DashboardReader).
  checked('settled', await reader.load(range));
  await refold(plain, table, expected.sent, device, 1);
  const afterFold = checked('after a fold', await reader.load(range));
  const betweenFolds = checked('between folds', await reader.load(range));
  await refold(plain, table, expected.sent, device, 2);
  const drill = await reader.load({ ...range, provider: 'sori', campaign: campaignIdOf(0) });
  reader.close();
  check(`${table}: drill-down unique devices`, drill.dashboard.totals.unique_devices, expected.reach.range);
  const items = await campaignCounterItems(plain, table, campaignIdOf(0), PREVIOUS_FROM, TO);
  const sizes = items.map(itemBytes).sort((a, b) => a - b);
  const perMonth = usd(unitsPerMonth(polling, afterFold.reads, betweenFolds.reads));
  return {
    devices,
    built,
    afterFold: afterFold.reads,
    betweenFolds: betweenFolds.reads,
    cold: cold.reads,
    drillDown: drill.reads,
    usdPerLoad: usd(afterFold.reads.units),
    usdPerHourOpen: (perMonth * polling.loadsPerHour) / polling.loadsPerMonth,
    usdPerMonthOpen: perMonth,
    counterItemBytes: { median: quantile(sizes, 0.5), max: sizes.at(-1) ?? 0 },
  };
}

export async function measureDashboardLoad(
  options: { log?: (message: string) => void } = {},
): Promise<DashboardLoadFigures> {
  const log = options.log ?? ((message: string) => console.error(message));
  const polling = pagePollingFigures();
  const server = await startDynamoDbProcess();
  const plain = new DynamoDBClient(localClientConfig(server.endpoint));
  try {
    const small = await storeSmallCampaign(plain, log);
    const large = await buildLargeCampaign(plain, log);
    const account = await storeAccount(plain, log);
    const loads = await timeAccountLoads(server.endpoint, plain, account.sent, log);

    log('dashboard: read units of one campaign, 10,000 and 1,000,000 devices');
    const largeSent: Sent = {
      impressions: small.sent.impressions * SCALE,
      clicks: small.sent.clicks * SCALE,
      devices: new Set(),
    };
    const smallCost = await campaignCost(
      server.endpoint,
      plain,
      'dash-10k',
      SMALL_DEVICES,
      { reach: small.reach, sent: small.sent },
      `stored through storeBatch and the repair's fold: ${small.stored.events.toLocaleString('en-US')} events`,
      polling,
    );
    const largeCost = await campaignCost(
      server.endpoint,
      plain,
      'dash-1m',
      LARGE_DEVICES,
      { reach: large.reach, sent: largeSent },
      `counter and provider-day items built with counterItem and providerDayItem, reach histograms by reachChanges over ${LARGE_DEVICES.toLocaleString('en-US')} simulated devices' days, counts the 10,000-device campaign's × ${SCALE}; its last day's event records copied from it`,
      polling,
    );
    return {
      range: { from: FROM, to: TO, previousFrom: PREVIOUS_FROM, previousTo: PREVIOUS_TO },
      polling,
      prices: {
        readUnitsPerMillionUsd: PRICES.dynamodbOnDemandPerMillionReadUnits,
        region: PRICES.region,
        date: PRICES.date,
      },
      loadAverage: loads.loadAverage,
      account: accountFigures(account.stored, loads, polling),
      small: { ...smallCost, events: small.stored.events, storeSeconds: fixed(small.stored.seconds) },
      large: { ...largeCost, simulatedSeconds: fixed(large.simulatedSeconds) },
    };
  } finally {
    plain.destroy();
    await server.stop();
  }
}

/** How often the page loads: its polling intervals, and the fold's. */
function pagePollingFigures(): Polling {
  const { intervalS, pastRangeIntervalS } = pagePolling();
  const foldIntervalS = foldInterval();
  return {
    intervalS,
    pastRangeIntervalS,
    loadsPerHour: 3_600 / intervalS,
    loadsPerMonth: (HOURS_PER_MONTH * 3_600) / intervalS,
    foldIntervalS,
    loadsPerFold: Math.max(1, foldIntervalS / intervalS),
  };
}

type StoredFigures = Awaited<ReturnType<typeof storeThroughPipeline>>;

/** The 10,000-device campaign, through the real path: the range and the period before it. */
async function storeSmallCampaign(plain: DynamoDBClient, log: (message: string) => void) {
  await ensureRecordsTable(plain, 'dash-10k');
  const sent: Sent = { impressions: 0, clicks: 0, devices: new Set() };
  const single = singleCampaignDays(SMALL_DEVICES, sent);
  log(
    `dashboard: storing one campaign of ${SMALL_DEVICES.toLocaleString('en-US')} devices over ${2 * RANGE_DAYS} days through storeBatch and the repair's fold`,
  );
  const stored = await storeThroughPipeline(plain, 'dash-10k', single.days, log);
  return { sent, reach: single.reach, stored };
}

/**
 * The 1,000,000-device campaign: the fold's builders, histograms from a simulated million devices' days, the
 * 10,000-device campaign's counts scaled; its last day's records, the fold state and a device's marker copied.
 */
async function buildLargeCampaign(plain: DynamoDBClient, log: (message: string) => void) {
  log(`dashboard: simulating ${LARGE_DEVICES.toLocaleString('en-US')} devices' days`);
  const simulatedAt = performance.now();
  const large = simulatedHistograms(LARGE_DEVICES);
  const simulatedSeconds = (performance.now() - simulatedAt) / 1000;
  await ensureRecordsTable(plain, 'dash-1m');
  const smallCounters = await campaignCounterItems(plain, 'dash-10k', campaignIdOf(0), PREVIOUS_FROM, TO);
  const largeItems: Item[] = smallCounters.map((item) =>
    rebuiltCounter(item, {
      scale: SCALE,
      reach: large.byDay.get(dayNumber(item.day?.S ?? '')) ?? new Map(),
      fold: 'bench-1m',
    }),
  );
  for (const day of await readProviderDays(plain, 'dash-10k', 'sori', PREVIOUS_FROM, TO)) {
    largeItems.push(
      providerDayItem(
        {
          ...day,
          reach: large.byDay.get(dayNumber(day.day)) ?? new Map(),
          received: day.received * SCALE,
          stored: day.stored * SCALE,
          duplicates: day.duplicates * SCALE,
          quarantined: day.quarantined * SCALE,
        },
        1,
        'bench-1m',
      ),
    );
  }
  largeItems.push(...(await copiedFromSmall(plain)));
  await putAll(plain, 'dash-1m', largeItems);
  return { reach: large.reach, simulatedSeconds };
}

/** The items of one partition, whole. */
const partitionItems = (plain: DynamoDBClient, table: string, partition: string) =>
  queryItems(plain, {
    TableName: table,
    KeyConditionExpression: '#pk = :pk',
    ExpressionAttributeNames: { '#pk': RECORDS_TABLE.partitionKey },
    ExpressionAttributeValues: { ':pk': { S: partition } },
  });

/**
 * What the large campaign copies from the small one: its last day's event records, the fold state (so that a
 * reader keeps what it read between folds as it does on the other tables), and the marker of the device the bench
 * sends more events from (so the fold finds it already counted that day).
 */
async function copiedFromSmall(plain: DynamoDBClient): Promise<Item[]> {
  const items: Item[] = [];
  for (const partition of shardKeys(campaignDayFamily('sori', campaignIdOf(0), TO), DEPLOYED_LAYOUT)) {
    items.push(...(await partitionItems(plain, 'dash-10k', partition)));
  }
  const { Item: foldState } = await plain.send(
    new GetItemCommand({ TableName: 'dash-10k', Key: foldStateKey(), ConsistentRead: true }),
  );
  if (foldState) items.push(foldState);
  const refolded = await deviceOnLastDay(plain, 'dash-10k', 0);
  items.push(...(await partitionItems(plain, 'dash-10k', devicePartitionKey('sori', deviceIdOf(refolded)))));
  return items;
}

/**
 * The 100-campaign account: its range through the real path; the period before it, its range's folded items a
 * period earlier (rebuilt with the fold's builders), so that a load reads both periods' items.
 */
async function storeAccount(plain: DynamoDBClient, log: (message: string) => void) {
  await ensureRecordsTable(plain, 'dash-account');
  const sent: Sent = { impressions: 0, clicks: 0, devices: new Set() };
  const accountDays = Array.from({ length: RANGE_DAYS }, (_, i) => dayNumber(FROM) + i);
  log(
    `dashboard: storing ${ACCOUNT.campaigns} campaigns over ${RANGE_DAYS} days (${(ACCOUNT.campaigns * ACCOUNT.eventsPerCampaignDay * RANGE_DAYS).toLocaleString('en-US')} events) through storeBatch and the repair's fold`,
  );
  const stored = await storeThroughPipeline(
    plain,
    'dash-account',
    (function* () {
      for (const day of accountDays) yield accountDay(day, sent);
    })(),
    log,
  );
  const previousItems: Item[] = [];
  for (let campaign = 0; campaign < ACCOUNT.campaigns; campaign++) {
    for (const item of await campaignCounterItems(plain, 'dash-account', campaignIdOf(campaign), FROM, TO)) {
      const day = dayOfNumber(dayNumber(item.day?.S ?? '') - RANGE_DAYS);
      previousItems.push(rebuiltCounter(item, { day, fold: 'bench-previous-period' }));
    }
  }
  for (const day of await readProviderDays(plain, 'dash-account', 'sori', FROM, TO)) {
    previousItems.push(
      providerDayItem(
        { ...day, day: dayOfNumber(dayNumber(day.day) - RANGE_DAYS) },
        1,
        'bench-previous-period',
      ),
    );
  }
  await putAll(plain, 'dash-account', previousItems);
  return { sent, stored };
}

/** The account's loads, each kind in its own list, and the machine's load average when they were timed. */
interface AccountLoads {
  loadAverage: number[];
  cold: Load;
  afterFold: Load[];
  betweenFolds: Load[];
  day: Load[];
  fullRead: Load[];
}

/** Times the account's loads, checking each kind's totals against what was sent. */
async function timeAccountLoads(
  endpoint: string,
  plain: DynamoDBClient,
  sent: Sent,
  log: (message: string) => void,
): Promise<AccountLoads> {
  const loadAverage = loadavg().map((n) => fixed(n, 2));
  log(`dashboard: timing loads (load average ${loadAverage.join(', ')})`);
  const accountReader = newReader(endpoint, 'dash-account', plain);
  const cold = await accountReader.load({ from: FROM, to: TO });
  const checkAccount = (label: string, load: Load) => {
    const { totals, campaigns } = load.dashboard;
    check(`account, ${label}: impressions over the range`, totals.impressions, sent.impressions);
    check(`account, ${label}: clicks over the range`, totals.clicks, sent.clicks);
    check(`account, ${label}: unique devices`, totals.unique_devices, sent.devices.size);
    check(`account, ${label}: campaigns listed`, campaigns.length, ACCOUNT.campaigns);
  };
  checkAccount('cold', cold);
  const loads: AccountLoads = { loadAverage, cold, afterFold: [], betweenFolds: [], day: [], fullRead: [] };
  // Each round as the page sees it: a fold, then the 30-day load that reads again what the fold wrote and one
  // that keeps what it has; the one-day load the same way (its first load of the round, after the fold); then
  // the 30-day load of a new reader, which reads every counted item of its range (and settles, read again).
  const accountDevice = await deviceOnLastDay(plain, 'dash-account', 0);
  await accountReader.load({ from: FROM, to: TO });
  await accountReader.load({ day: TO });
  for (let i = 0; i < WARM_LOADS; i++) {
    await refold(plain, 'dash-account', sent, accountDevice, i);
    loads.afterFold.push(await accountReader.load({ from: FROM, to: TO }));
    loads.betweenFolds.push(await accountReader.load({ from: FROM, to: TO }));
    loads.day.push(await accountReader.load({ day: TO }));
    accountReader.renew();
    loads.fullRead.push(await accountReader.load({ from: FROM, to: TO }));
    await accountReader.load({ from: FROM, to: TO });
    await accountReader.load({ day: TO });
    await accountReader.load({ day: TO });
  }
  accountReader.close();
  checkAccount('a new reader', loads.fullRead.at(-1) as Load);
  checkAccount('after a fold', loads.afterFold.at(-1) as Load);
  checkAccount('between folds', loads.betweenFolds.at(-1) as Load);
  return loads;
}

/** The account's figures from its timed loads. */
function accountFigures(stored: StoredFigures, loads: AccountLoads, polling: Polling) {
  const { cold, afterFold, betweenFolds, day, fullRead } = loads;
  const last = afterFold.at(-1) as Load;
  const lastBetween = betweenFolds.at(-1) as Load;
  const cpu = (list: Load[]) =>
    fixed(
      quantile(
        list.map((l) => l.cpuMs),
        0.5,
      ),
    );
  return {
    campaigns: ACCOUNT.campaigns,
    events: stored.events,
    storeSeconds: fixed(stored.seconds),
    counterItems:
      (last.reads.byKind['counter items (batch get)']?.items ?? 0) +
      (last.reads.byKind['counter items (campaign query)']?.items ?? 0),
    coldMs: fixed(cold.ms),
    afterFoldMs: timed(afterFold),
    fullReadMs: timed(fullRead),
    fullReadCpuMs: cpu(fullRead),
    fullRead: (fullRead.at(-1) as Load).reads,
    betweenFoldsMs: timed(betweenFolds),
    afterFoldCpuMs: cpu(afterFold),
    dayCpuMs: cpu(day),
    dayMs: timed(day),
    ratioVsDay: fixed(timed(afterFold).median / timed(day).median, 2),
    afterFold: last.reads,
    betweenFolds: lastBetween.reads,
    cold: cold.reads,
    day: (day.at(-1) as Load).reads,
    usdPerMonthOpen: usd(unitsPerMonth(polling, last.reads, lastBetween.reads)),
  };
}

const sig = (value: number, digits = 3) => Number(value.toPrecision(digits));

/** The figures for bench/results.json: summary fields (new names only), what each assumes, and table rows. */
export function dashboardReport(f: DashboardLoadFigures) {
  return { summary: dashboardSummary(f), assumptions: dashboardAssumptions(f), rows: dashboardRows(f) };
}

/** The summary fields of bench/results.json. */
function dashboardSummary(f: DashboardLoadFigures) {
  const a = f.account;
  return {
    dashboard_30d_100_campaigns_load_ms: a.afterFoldMs.median,
    dashboard_30d_100_campaigns_load_p95_ms: a.afterFoldMs.p95,
    dashboard_30d_100_campaigns_load_between_folds_ms: a.betweenFoldsMs.median,
    dashboard_30d_100_campaigns_cold_load_ms: a.coldMs,
    dashboard_30d_100_campaigns_full_read_ms: a.fullReadMs.median,
    dashboard_30d_100_campaigns_full_read_p95_ms: a.fullReadMs.p95,
    dashboard_30d_100_campaigns_full_read_cpu_ms: a.fullReadCpuMs,
    dashboard_read_units_per_load_30d_100_campaigns_full_read: a.fullRead.units,
    dashboard_read_units_per_first_load_at_10k_devices: f.small.cold.units,
    dashboard_read_units_per_first_load_at_1m_devices: f.large.cold.units,
    dashboard_30d_100_campaigns_load_cpu_ms: a.afterFoldCpuMs,
    dashboard_1d_100_campaigns_load_ms: a.dayMs.median,
    dashboard_30d_vs_1d_load_ratio: a.ratioVsDay,
    dashboard_read_units_per_load_30d_100_campaigns: a.afterFold.units,
    dashboard_read_units_per_load_30d_100_campaigns_between_folds: a.betweenFolds.units,
    dashboard_read_units_per_load_at_10k_devices: f.small.afterFold.units,
    dashboard_read_units_per_load_at_1m_devices: f.large.afterFold.units,
    dashboard_read_units_per_load_at_10k_devices_between_folds: f.small.betweenFolds.units,
    dashboard_read_units_per_load_at_1m_devices_between_folds: f.large.betweenFolds.units,
    dashboard_usd_per_load_at_10k_devices: sig(f.small.usdPerLoad),
    dashboard_usd_per_load_at_1m_devices: sig(f.large.usdPerLoad),
    dashboard_usd_per_month_open_at_10k_devices: fixed(f.small.usdPerMonthOpen, 2),
    dashboard_usd_per_month_open_at_1m_devices: fixed(f.large.usdPerMonthOpen, 2),
    dashboard_usd_per_month_open_30d_100_campaigns: fixed(a.usdPerMonthOpen, 2),
    dashboard_poll_interval_s: f.polling.intervalS,
  };
}

/** What each summary field assumes, in words. */
function dashboardAssumptions(f: DashboardLoadFigures): Record<string, string> {
  const a = f.account;
  const range = `the 30-day range ${f.range.from} to ${f.range.to} (the page's "30 days"), whose load also reads the 30 days before it (${f.range.previousFrom} to ${f.range.previousTo}) for the comparison`;
  const account = `${a.campaigns} SORI campaigns, ${a.events.toLocaleString('en-US')} campaign events (${ACCOUNT.eventsPerCampaignDay} per campaign and day spread over the day's hours, ${TRAFFIC.clickShare * 100} % clicks, ${TRAFFIC.platforms.length} platforms, ${TRAFFIC.countries.length} countries, ${TRAFFIC.materialsPerCampaign} materials per campaign, ${ACCOUNT.devicesPerCampaign.toLocaleString('en-US')} devices per campaign, neighbours sharing half) stored over the range through storeBatch (batches of 100) and the repair's fold; the period before holds the range's folded counter and provider-day items a period earlier (rebuilt with counterItem and providerDayItem); ${a.counterItems.toLocaleString('en-US')} counter items read by a load after a fold`;
  const local = `through parseDashboardQuery and DashboardReader.read, against a local DynamoDB-API server (dynalite) in a process of its own on this machine (load average ${f.loadAverage.join(', ')} when timed)`;
  const afterFold = `a warm reader's load just after the repair's fold counted new traffic (one more event of campaign ${campaignIdOf(0)} on ${f.range.to}, from a device already counted that day, through storeBatch and the fold), so the reader reads again the items the fold wrote down it wrote (the counter item and provider-day item of that day), by key and consistently; a page polling every ${f.polling.intervalS} s gets one such load per fold (every ${f.polling.foldIntervalS} s while events come, RepairSchedule in infra/constructs/campaign-inbox.ts), the others between folds`;
  const open = `a page open around the clock for a month (${HOURS_PER_MONTH} h) on a range ending today, which the page asks for every ${f.polling.intervalS} s (functions/campaign-dashboard/page/index.html; a range ending before today every ${f.polling.pastRangeIntervalS} s): ${f.polling.loadsPerMonth.toLocaleString('en-US')} loads, one in ${f.polling.loadsPerFold} just after a fold (a fold every ${f.polling.foldIntervalS} s, as while events come), the others between folds`;
  const price = `on-demand, $${f.prices.readUnitsPerMillionUsd} per million read units (${f.prices.region}, ${f.prices.date}, bench/prices.json)`;
  const single = (c: CampaignCost) =>
    `one SORI campaign of ${c.devices.toLocaleString('en-US')} devices over ${range}, each device seen on one day of the range and on ${REVISITS} more day on average (Poisson) over both periods, the table holding nothing else; ${c.built}`;
  const units =
    'read units as the reads were sent, priced as DynamoDB bills them (bench/write-units.ts): a get or each key of a batch get 1 unit per started 4 KB of its item, a query 1 unit per started 4 KB of its page of items together, each half when eventually consistent; a read that projects priced by the whole items it reads';
  return {
    dashboard_30d_100_campaigns_load_ms: `median of ${WARM_LOADS} loads of ${range}, each ${afterFold}; ${local}; ${account}`,
    dashboard_30d_100_campaigns_load_p95_ms: 'as dashboard_30d_100_campaigns_load_ms, the 95th percentile',
    dashboard_30d_100_campaigns_load_between_folds_ms: `as dashboard_30d_100_campaigns_load_ms, the median of the loads right after those (no fold in between: the reader keeps its counted items, reading what tells it they are still the table's, and the latest events)`,
    dashboard_30d_100_campaigns_cold_load_ms:
      'as dashboard_30d_100_campaigns_load_ms, the first load of a new reader with a new client (its connections opened, no material name known); the modules were already loaded',
    dashboard_30d_100_campaigns_full_read_ms: `median of ${WARM_LOADS} loads of ${range} by a new reader on the warm client (a page opened anew, a new instance of the dashboard function): every counted item of both periods read again, eventually consistent, and the material names looked for; timed in the same rounds as dashboard_30d_100_campaigns_load_ms; ${local}; ${account}`,
    dashboard_30d_100_campaigns_full_read_p95_ms:
      'as dashboard_30d_100_campaigns_full_read_ms, the 95th percentile',
    dashboard_30d_100_campaigns_full_read_cpu_ms:
      "median CPU time of the bench's process during the loads of dashboard_30d_100_campaigns_full_read_ms (as dashboard_30d_100_campaigns_load_cpu_ms)",
    dashboard_read_units_per_load_30d_100_campaigns_full_read: `${units}; a load of dashboard_30d_100_campaigns_full_read_ms`,
    dashboard_read_units_per_first_load_at_10k_devices: `${units}; the first load of a new reader (every counted item of both periods, the material names looked for); ${single(f.small)}`,
    dashboard_read_units_per_first_load_at_1m_devices: `${units}; the first load of a new reader (every counted item of both periods, the material names looked for); ${single(f.large)}`,
    dashboard_30d_100_campaigns_load_cpu_ms:
      "median CPU time of the bench's process during the loads of dashboard_30d_100_campaigns_load_ms: the reader's own work and its SDK's (requests sent, answers parsed), not the local server's, which runs in a process of its own",
    dashboard_1d_100_campaigns_load_ms: `the baseline: median of ${WARM_LOADS} loads of the range's last day alone (?day=${f.range.to}, the first version's only load) of the same data by the same warm reader, each its first since a fold (so its counted items read again), timed in the same rounds as dashboard_30d_100_campaigns_load_ms`,
    dashboard_30d_vs_1d_load_ratio:
      'dashboard_30d_100_campaigns_load_ms / dashboard_1d_100_campaigns_load_ms',
    dashboard_read_units_per_load_30d_100_campaigns: `${units}; a load of dashboard_30d_100_campaigns_load_ms`,
    dashboard_read_units_per_load_30d_100_campaigns_between_folds: `${units}; a load of dashboard_30d_100_campaigns_load_between_folds_ms`,
    dashboard_read_units_per_load_at_10k_devices: `${units}; ${afterFold}; ${single(f.small)}`,
    dashboard_read_units_per_load_at_1m_devices: `${units}; ${afterFold}; ${single(f.large)}`,
    dashboard_read_units_per_load_at_10k_devices_between_folds:
      'as dashboard_read_units_per_load_at_10k_devices, a load between two folds (the reader keeps its counted items)',
    dashboard_read_units_per_load_at_1m_devices_between_folds:
      'as dashboard_read_units_per_load_at_1m_devices, a load between two folds (the reader keeps its counted items)',
    dashboard_usd_per_load_at_10k_devices: `dashboard_read_units_per_load_at_10k_devices (a load just after a fold), ${price}`,
    dashboard_usd_per_load_at_1m_devices: `dashboard_read_units_per_load_at_1m_devices (a load just after a fold), ${price}`,
    dashboard_usd_per_month_open_at_10k_devices: `the reads of ${open}: dashboard_read_units_per_load_at_10k_devices and dashboard_read_units_per_load_at_10k_devices_between_folds, ${price}; reads only (no Lambda, API Gateway or sign-in)`,
    dashboard_usd_per_month_open_at_1m_devices: `as dashboard_usd_per_month_open_at_10k_devices, from dashboard_read_units_per_load_at_1m_devices and dashboard_read_units_per_load_at_1m_devices_between_folds`,
    dashboard_usd_per_month_open_30d_100_campaigns: `as dashboard_usd_per_month_open_at_10k_devices, from dashboard_read_units_per_load_30d_100_campaigns and dashboard_read_units_per_load_30d_100_campaigns_between_folds`,
    dashboard_poll_interval_s: `seconds between the page's loads of a range ending today, read from functions/campaign-dashboard/page/index.html (a past range: ${f.polling.pastRangeIntervalS} s)`,
  };
}

/** The table rows: each figure beside its baseline. */
function dashboardRows(f: DashboardLoadFigures) {
  const a = f.account;
  return [
    {
      figure: `dashboard load, 30 days, ${a.campaigns} campaigns, warm, after a fold, median / p95 (ms; baseline: one-day load)`,
      ours: `${a.afterFoldMs.median} / ${a.afterFoldMs.p95}`,
      baseline: `${a.dayMs.median} / ${a.dayMs.p95}`,
      ratio: a.ratioVsDay,
    },
    {
      figure: `dashboard load, 30 days, ${a.campaigns} campaigns, between folds / cold (ms; baseline: after a fold)`,
      ours: `${a.betweenFoldsMs.median} / ${a.coldMs}`,
      baseline: a.afterFoldMs.median,
      ratio: `${fixed(a.betweenFoldsMs.median / a.afterFoldMs.median, 2)} / ${fixed(a.coldMs / a.afterFoldMs.median, 2)}`,
    },
    {
      figure: `dashboard load, 30 days, ${a.campaigns} campaigns, a new reader reading everything, median / p95 (ms; baseline: one-day load)`,
      ours: `${a.fullReadMs.median} / ${a.fullReadMs.p95}`,
      baseline: `${a.dayMs.median} / ${a.dayMs.p95}`,
      ratio: fixed(a.fullReadMs.median / a.dayMs.median, 2),
    },
    {
      figure: `dashboard read units per load, 30 days, ${a.campaigns} campaigns, after a fold / between folds (baseline: one-day load after a fold)`,
      ours: `${a.afterFold.units} / ${a.betweenFolds.units}`,
      baseline: a.day.units,
      ratio: fixed(a.afterFold.units / a.day.units, 2),
    },
    {
      figure:
        'dashboard read units per load, one campaign, 30 days, 1,000,000 devices, after a fold / between folds (baseline: 10,000 devices)',
      ours: `${f.large.afterFold.units} / ${f.large.betweenFolds.units}`,
      baseline: `${f.small.afterFold.units} / ${f.small.betweenFolds.units}`,
      ratio: fixed(f.large.afterFold.units / f.small.afterFold.units, 2),
    },
    {
      figure: `dashboard reads, USD per month of a page open (polled every ${f.polling.intervalS} s, a fold every ${f.polling.foldIntervalS} s), one campaign, 1,000,000 devices (baseline: 10,000 devices)`,
      ours: fixed(f.large.usdPerMonthOpen, 2),
      baseline: fixed(f.small.usdPerMonthOpen, 2),
      ratio: fixed(f.large.usdPerMonthOpen / f.small.usdPerMonthOpen, 2),
    },
  ];
}

/** The read parts of a load, for printing. */
function readRows(label: string, tally: ReadTally) {
  return Object.entries(tally.byKind).map(([kind, figures]) => ({
    load: label,
    reads: kind,
    requests: figures.requests,
    items: figures.items,
    units: figures.units,
  }));
}

/** Prints how the figures were made, and each load's reads by part (the figures themselves are in the rows). */
export function printDashboardFigures(f: DashboardLoadFigures) {
  const a = f.account;
  console.log(
    `dashboard loads through parseDashboardQuery + DashboardReader.read, ${f.range.from} to ${f.range.to} (the load also reads the previous period, ${f.range.previousFrom} to ${f.range.previousTo})`,
  );
  console.log(
    `- ${a.campaigns} campaigns: ${a.events.toLocaleString('en-US')} events stored through storeBatch + the repair's fold in ${a.storeSeconds} s; a 30-day load after a fold reads ${a.counterItems.toLocaleString('en-US')} counter items; this process's CPU during it (the reader and its SDK; the server runs apart), median ${a.afterFoldCpuMs} ms (one-day load: ${a.dayCpuMs} ms)`,
  );
  console.log(
    `  30-day loads after a fold (ms): ${a.afterFoldMs.all.join(', ')}; between folds: ${a.betweenFoldsMs.all.join(', ')}; one-day: ${a.dayMs.all.join(', ')}`,
  );
  console.log(
    `- ${f.small.devices.toLocaleString('en-US')} devices: ${f.small.events.toLocaleString('en-US')} events stored through storeBatch + the repair's fold in ${f.small.storeSeconds} s; counter items ${f.small.counterItemBytes.median} B median, ${f.small.counterItemBytes.max} B largest`,
  );
  console.log(
    `- ${f.large.devices.toLocaleString('en-US')} devices: NOT stored through the pipeline (too slow locally): ${f.large.built} (simulated in ${f.large.simulatedSeconds} s); counter items ${f.large.counterItemBytes.median} B median, ${f.large.counterItemBytes.max} B largest`,
  );
  console.log(
    `- the page polls every ${f.polling.intervalS} s (a range ending today; ${f.polling.pastRangeIntervalS} s for a past one): ${f.polling.loadsPerHour.toLocaleString('en-US')} loads an hour, ${f.polling.loadsPerMonth.toLocaleString('en-US')} a month open around the clock, one in ${f.polling.loadsPerFold} after a fold (every ${f.polling.foldIntervalS} s); machine load average ${f.loadAverage.join(', ')}`,
  );
  console.table([
    ...readRows(`${a.campaigns} campaigns, after a fold`, a.afterFold),
    ...readRows(`${a.campaigns} campaigns, between folds`, a.betweenFolds),
    ...readRows(`${a.campaigns} campaigns, cold`, a.cold),
    ...readRows(`${a.campaigns} campaigns, one day after a fold`, a.day),
    ...readRows('10k devices, after a fold', f.small.afterFold),
    ...readRows('10k devices, between folds', f.small.betweenFolds),
    ...readRows('10k devices, cold', f.small.cold),
    ...readRows('10k devices, drill-down after a fold', f.small.drillDown),
    ...readRows('1M devices, after a fold', f.large.afterFold),
    ...readRows('1M devices, between folds', f.large.betweenFolds),
    ...readRows('1M devices, cold', f.large.cold),
    ...readRows('1M devices, drill-down after a fold', f.large.drillDown),
  ]);
}

/**
 * `npm run bench:dashboard`: measures, prints, and adds the figures to bench/results.json (its summary fields
 * and their assumptions, and a `dashboard` section with its own date and source), leaving the rest as it is.
 */
async function main() {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const started = Date.now();
  const log = (message: string) =>
    console.error(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${message}`);
  const git = (args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' });
    } catch {
      return '';
    }
  };
  const source = {
    commit: git(['rev-parse', 'HEAD']).trim(),
    uncommitted: git([
      'status',
      '--porcelain',
      '--',
      'lib',
      'functions',
      'local',
      'infra',
      'bench/dashboard-load.ts',
    ])
      .split('\n')
      .filter(Boolean),
  };
  const figures = await measureDashboardLoad({ log });
  const { summary, assumptions, rows } = dashboardReport(figures);
  console.table(rows);
  printDashboardFigures(figures);
  console.log('summary (added to bench/results.json):');
  console.table(summary);
  const path = join(ROOT, 'bench', 'results.json');
  const results = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>) : {};
  results.summary = { ...(results.summary as object), ...summary };
  results.assumptions = { ...(results.assumptions as object), ...assumptions };
  const kept = ((results.rows as { figure: string }[] | undefined) ?? []).filter(
    (row) => !row.figure.startsWith('dashboard '),
  );
  results.rows = [...kept, ...rows];
  results.dashboard = { date: new Date().toISOString(), source, ...figures };
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
  try {
    execFileSync(join(ROOT, 'node_modules', '.bin', 'biome'), ['format', '--write', 'bench/results.json'], {
      cwd: ROOT,
      stdio: 'ignore',
    });
  } catch {
    log('bench/results.json left unformatted: biome did not run');
  }
  log('added the dashboard figures to bench/results.json');
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
