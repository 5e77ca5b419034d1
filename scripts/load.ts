import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createLogger } from '../lib/log';
import { CampaignStats } from '../lib/queries/campaign-stats';
import { RecordsRepository } from '../lib/queries/records-repository';
import { signBody } from '../lib/signature/verify-signature';
import type { TableLayout } from '../lib/table/records-table';
import { endQuietlyOnClosedStdout, errorLine, isUsageError, UsageError } from './entry';
import { findRunningStack, localSecret, runningStackDynamoDb } from './local-stack-file';

export interface LoadOptions {
  /** Deliveries in all; `duplicateRatio` of them repeat an event already in the burst. */
  deliveries: number;
  duplicateRatio: number;
  concurrency: number;
  campaigns: number;
  devices: number;
  /** Stop waiting for the pipeline after this long. */
  timeoutMs: number;
  seed: number;
  /** The events happened over this many hours before the load began (default 24). */
  hours?: number;
  /** Gets the line that says the load stopped waiting, and why (nothing is said by default). */
  notify?: (line: string) => void;
}

export interface LoadReport {
  deliveries: number;
  distinct: number;
  accepted: number;
  duplicates: number;
  quarantined: number;
  errors5xx: number;
  other: number;
  stored: number;
  latencyMs: { p50: number; p99: number; max: number };
  secondsUntilQueryable: number;
  storedEqualsDistinct: boolean;
  countersEqualDistinct: boolean;
}

export interface LoadTarget {
  webhookUrl: string;
  secret: string;
  dynamodb: DynamoDBClient;
  tableName: string;
  layout: TableLayout;
}

/** A demo stream's campaigns, one name for each: a dashboard lists them by name. */
const CAMPAIGNS = [
  { name: 'Fall Promotion', tags: ['retail', 'autumn'] },
  { name: 'Holiday Giveaway', tags: ['retail', 'holiday'] },
  { name: 'Morning Drive Sweepstakes', tags: ['radio', 'contest'] },
  { name: 'Back to School Savings', tags: ['retail'] },
  { name: 'Game Day Specials', tags: ['sports', 'food'] },
  { name: 'New Year Fitness Challenge', tags: ['health'] },
  { name: 'Weekend Flash Sale', tags: ['retail', 'sale'] },
  { name: 'Local Dealer Test Drive', tags: ['auto'] },
  { name: 'Summer Concert Series', tags: ['events', 'music'] },
  { name: 'Loyalty Rewards Launch', tags: ['loyalty'] },
  { name: 'Spring Home Makeover', tags: ['home'] },
  { name: 'Coffee Club Double Points', tags: ['food', 'loyalty'] },
] as const;

/** The creatives the campaigns run; each campaign shows two of them. */
const MATERIALS = [
  { id: 'mat_5678', name: 'Audio Spot 15s', tags: ['audio', '15s'] },
  { id: 'mat_5679', name: 'Audio Spot 30s', tags: ['audio', '30s'] },
  { id: 'mat_6101', name: 'Banner 320x50', tags: ['display'] },
  { id: 'mat_6102', name: 'Video Pre-roll 6s', tags: ['video', '6s'] },
  { id: 'mat_6103', name: 'Host Read 60s', tags: ['audio', '60s'] },
] as const;

const PLACES = [
  { viewer_country: 'United States', viewer_region: 'Michigan', viewer_city: 'Ann Arbor' },
  { viewer_country: 'United States', viewer_region: 'Illinois', viewer_city: 'Chicago' },
  { viewer_country: 'United States', viewer_region: 'Texas', viewer_city: 'Austin' },
  { viewer_country: 'United States', viewer_region: 'California', viewer_city: 'San Diego' },
  { viewer_country: 'Canada', viewer_region: 'Ontario', viewer_city: 'Toronto' },
] as const;

const HOUR_MS = 3_600_000;

/** Campaign `index`'s name and tags: the list's, numbered once the list is used up, so no two are alike. */
export function demoCampaign(index: number): { name: string; tags: string[] } {
  const base = CAMPAIGNS[index % CAMPAIGNS.length] as (typeof CAMPAIGNS)[number];
  const round = Math.floor(index / CAMPAIGNS.length);
  return { name: round === 0 ? base.name : `${base.name} ${round + 1}`, tags: [...base.tags] };
}

/** A small seeded random generator, so a burst can be replayed exactly. */
export function mulberry32(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Realistic SORI events in the current webhook format: impressions, clicks (one in four), authentications,
 * materials; each happened at a random moment of the `hours` before `now`, never after it, as a sender's
 * events have all happened by the time they are delivered. Their `timestamp` is set when each is sent.
 */
function makeEvents(options: LoadOptions, run: string, now: number) {
  const random = mulberry32(options.seed);
  const distinct = Math.round(options.deliveries * (1 - options.duplicateRatio));
  const spanMs = (options.hours ?? 24) * HOUR_MS;
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)] as T;
  return Array.from({ length: distinct }, (_, i): Record<string, unknown> => {
    const kind = random();
    const device = `device_${run}_${Math.floor(random() * options.devices)}`;
    const created = new Date(now - Math.floor(random() * spanMs)).toISOString();
    const common = {
      account_id: 'acc_123456',
      created_at: created,
      device_id: device,
      platform: random() < 0.5 ? 'Android' : 'iOS',
      metadata: { session: randomUUID() },
      geolocation: { ...pick(PLACES) },
    };
    if (kind < 0.08) return { event: 'authentication', ...common };
    if (kind < 0.1) {
      const material = pick(MATERIALS);
      return {
        event: 'admin.material.updated',
        ...common,
        material: { ...material, tags: [...material.tags], image: null },
      };
    }
    const index = Math.floor(random() * options.campaigns);
    const material = MATERIALS[
      (index + (random() < 0.5 ? 0 : 1)) % MATERIALS.length
    ] as (typeof MATERIALS)[number];
    return {
      event: kind < 0.1 + 0.9 * 0.75 ? 'campaign.impression' : 'campaign.click',
      ...common,
      activity_id: `act_${run}_${i}`,
      campaign: { id: `cmp_${run}_${index}`, ...demoCampaign(index), image: null },
      material: { ...material, tags: [...material.tags], image: null },
    };
  });
}

/** The `p` quantile of `values` (nearest rank), 0 for none. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

/** The burst to send: every distinct event once, then retries of random ones, all in random order. */
function planDeliveries(events: Record<string, unknown>[], options: LoadOptions) {
  const random = mulberry32(options.seed + 1);
  const deliveries = [...events];
  while (deliveries.length < options.deliveries) {
    deliveries.push(events[Math.floor(random() * events.length)] as Record<string, unknown>);
  }
  for (let i = deliveries.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [deliveries[i], deliveries[j]] = [
      deliveries[j] as Record<string, unknown>,
      deliveries[i] as Record<string, unknown>,
    ];
  }
  return deliveries;
}

/** What the receiver answered to a burst. */
type Answers = Pick<
  LoadReport,
  'accepted' | 'duplicates' | 'quarantined' | 'errors5xx' | 'other' | 'latencyMs'
>;

/** Posts `deliveries`, `concurrency` at a time, each signed as SORI signs; tallies the answers. */
async function postAll(
  target: LoadTarget,
  deliveries: readonly Record<string, unknown>[],
  concurrency: number,
): Promise<Answers> {
  const answers: Answers = {
    accepted: 0,
    duplicates: 0,
    quarantined: 0,
    errors5xx: 0,
    other: 0,
    latencyMs: { p50: 0, p99: 0, max: 0 },
  };
  const latencies: number[] = [];
  const ids = new Set<string>();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < deliveries.length) {
        // SORI's `timestamp` is "appended just before dispatch": a retry carries a later one than the first.
        const body = JSON.stringify({ ...deliveries[next++], timestamp: new Date().toISOString() });
        const t0 = performance.now();
        const response = await fetch(target.webhookUrl, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-sori-signature': signBody(body, target.secret).toString('hex'),
          },
          body,
        });
        const answer = (await response.json()) as { status?: string; id?: string };
        latencies.push(performance.now() - t0);
        if (response.status >= 500) answers.errors5xx++;
        else if (response.status !== 202) answers.other++;
        else if (answer.status === 'quarantined') answers.quarantined++;
        else {
          answers.accepted++;
          if (answer.id && ids.has(answer.id)) answers.duplicates++;
          if (answer.id) ids.add(answer.id);
        }
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  answers.latencyMs = {
    p50: Number(percentile(latencies, 0.5).toFixed(1)),
    p99: Number(percentile(latencies, 0.99).toFixed(1)),
    max: Number((latencies.at(-1) ?? 0).toFixed(1)),
  };
  return answers;
}

/** Per campaign, per UTC day of `created_at`: what its counters must say once every event is counted. */
type Expected = Map<string, Map<string, { impressions: number; clicks: number; devices: Set<string> }>>;

/** The counters the events must produce: counters are kept per campaign and UTC day of `created_at`. */
function expectedCounters(events: readonly Record<string, unknown>[]): Expected {
  const expected: Expected = new Map();
  for (const event of events) {
    const campaign = (event.campaign as { id: string } | undefined)?.id;
    if (!campaign) continue;
    const days = expected.get(campaign) ?? new Map();
    expected.set(campaign, days);
    const day = String(event.created_at).slice(0, 10);
    const entry = days.get(day) ?? { impressions: 0, clicks: 0, devices: new Set<string>() };
    if (event.event === 'campaign.click') entry.clicks++;
    else entry.impressions++;
    entry.devices.add(String(event.device_id));
    days.set(day, entry);
  }
  return expected;
}

/** How many of the burst's events the table holds: each campaign's, and the devices' events of no campaign. */
async function countStored(
  target: LoadTarget,
  expected: Expected,
  events: readonly Record<string, unknown>[],
) {
  const records = new RecordsRepository(target.dynamodb, target.tableName, target.layout);
  let total = 0;
  for (const campaign of expected.keys()) {
    total += (await records.queryEvents({ provider: 'sori', campaign, limit: 1_000_000 })).length;
  }
  for (const device of new Set(events.map((e) => String(e.device_id)))) {
    total += (await records.queryEvents({ provider: 'sori', device, limit: 1_000_000 })).filter(
      (e) => !e.campaign_id,
    ).length;
  }
  return total;
}

/** The campaign-days whose counters differ from their events. */
async function countersOff(target: LoadTarget, expected: Expected): Promise<number> {
  const counters = new CampaignStats(target.dynamodb, target.tableName);
  let off = 0;
  for (const [campaign, days] of expected) {
    const rows = new Map((await counters.campaignStats('sori', campaign)).map((row) => [row.day, row]));
    for (const [day, want] of days) {
      const row = rows.get(day);
      if (
        row?.impressions !== want.impressions ||
        row.clicks !== want.clicks ||
        row.unique_devices !== want.devices.size
      )
        off++;
    }
  }
  return off;
}

const pause = () => new Promise((resolve) => setTimeout(resolve, 200));

/**
 * Sends a bounded burst of signed SORI deliveries to a local stack (loopback only): 30 % of them SORI-style
 * retries (same event, new `timestamp`) in random order, `concurrency` at a time; then waits until every
 * distinct event is queryable and the counters of each campaign-day equal its events, and reports both. Giving
 * up after `timeoutMs`, it says so through `options.notify`.
 */
export async function runLoad(target: LoadTarget, options: LoadOptions): Promise<LoadReport> {
  const url = new URL(target.webhookUrl);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname))
    throw new Error('load runs against loopback addresses only');
  const events = makeEvents(options, randomUUID().slice(0, 8), Date.now());
  const deliveries = planDeliveries(events, options);
  const started = performance.now();
  const answers = await postAll(target, deliveries, options.concurrency);

  const expected = expectedCounters(events);
  const sent = performance.now();
  const waited = () => ((performance.now() - sent) / 1000).toFixed(1);
  const deadline = Date.now() + options.timeoutMs;
  let stored = 0;
  do {
    stored = await countStored(target, expected, events);
    if (stored >= events.length) break;
    await pause();
  } while (Date.now() < deadline);
  const secondsUntilQueryable = Number(((performance.now() - started) / 1000).toFixed(2));
  const storedEqualsDistinct = stored === events.length;
  if (!storedEqualsDistinct) {
    options.notify?.(
      `load: stopped waiting after ${waited()} s: ${events.length} distinct events sent (${deliveries.length} deliveries), ${stored} of them seen stored`,
    );
  }

  // The counters follow the records by a repair pass: they are given what is left of the same time.
  let off = await countersOff(target, expected);
  while (off > 0 && storedEqualsDistinct && Date.now() < deadline) {
    await pause();
    off = await countersOff(target, expected);
  }
  if (off > 0 && storedEqualsDistinct) {
    const campaignDays = [...expected.values()].reduce((sum, days) => sum + days.size, 0);
    options.notify?.(
      `load: stopped waiting after ${waited()} s: the counters of ${off} of ${campaignDays} campaign-days differ from their stored events`,
    );
  }
  return {
    deliveries: deliveries.length,
    distinct: events.length,
    accepted: answers.accepted,
    duplicates: answers.duplicates,
    quarantined: answers.quarantined,
    errors5xx: answers.errors5xx,
    other: answers.other,
    stored,
    latencyMs: answers.latencyMs,
    secondsUntilQueryable,
    storedEqualsDistinct,
    countersEqualDistinct: off === 0,
  };
}

const USAGE = `Usage: npm run -s load -- [options]

Sends a bounded, loopback-only burst of signed SORI deliveries (30 % retries) to the running local stack, or
to a stack of its own when none runs on DATA_DIR, and checks that the stored records and the counters equal
the distinct events. The events happened over the past hours (none later than it is sent), across 8
campaigns with names of their own; if the stack has not stored and counted them all in time, it says so in
one line on stderr.

  --deliveries <n>   deliveries to send, 1 to 50000 (default 5000)
  --concurrency <n>  deliveries in flight, 1 to 200 (default 50)
  --duplicates <r>   share of retries, 0 to 0.9 (default 0.3)
  --hours <n>        spread the events' times over the past n hours, 1 to 720 (default 24)
  --timeout <s>      seconds to wait for the stack to store and count them, 1 to 3600 (default 120)
  --json             the report as one JSON object on stdout

Exit codes: 0 all stored once and counted exactly, 1 not, 2 usage error.
`;

/** The options of `load`, parsed and checked: a mistake in them is a usage error (exit code 2). */
function readOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      deliveries: { type: 'string', default: '5000' },
      concurrency: { type: 'string', default: '50' },
      duplicates: { type: 'string', default: '0.3' },
      hours: { type: 'string', default: '24' },
      timeout: { type: 'string', default: '120' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const options: LoadOptions = {
    deliveries: Number(values.deliveries),
    duplicateRatio: Number(values.duplicates),
    concurrency: Number(values.concurrency),
    campaigns: 8,
    devices: 400,
    timeoutMs: Number(values.timeout) * 1000,
    seed: 42,
    hours: Number(values.hours),
    notify: (line) => console.error(line),
  };
  if (values.help) return { help: true, json: values.json, options };
  if (!(Number.isInteger(options.deliveries) && options.deliveries > 0 && options.deliveries <= 50_000))
    throw new UsageError('--deliveries must be 1 to 50000');
  if (!(Number.isInteger(options.concurrency) && options.concurrency > 0 && options.concurrency <= 200))
    throw new UsageError('--concurrency must be 1 to 200');
  if (!(options.duplicateRatio >= 0 && options.duplicateRatio <= 0.9))
    throw new UsageError('--duplicates must be 0 to 0.9');
  if (!(Number.isInteger(options.hours) && (options.hours ?? 0) >= 1 && (options.hours ?? 0) <= 720))
    throw new UsageError('--hours must be 1 to 720');
  const timeout = Number(values.timeout);
  if (!(Number.isInteger(timeout) && timeout >= 1 && timeout <= 3600))
    throw new UsageError('--timeout must be 1 to 3600 seconds');
  return { help: false, json: values.json, options };
}

/**
 * The stack to load: the running `npm start` when there is one; else a stack of its own, in memory, whose
 * local runtime is loaded only then.
 */
async function loadTarget(): Promise<{ target: LoadTarget; stop?: () => Promise<void> }> {
  const running = await findRunningStack();
  if (running) {
    const secret = await localSecret();
    if (!secret) throw new Error('no secret for the running stack');
    const { webhookUrl, tableName, layout } = running;
    return { target: { webhookUrl, secret, dynamodb: runningStackDynamoDb(running), tableName, layout } };
  }
  const { startLocalStack } = await import('../local/local-stack');
  const secret = randomUUID();
  const own = await startLocalStack({ port: 0, secret, logger: createLogger('load', 'error') });
  const { webhookUrl, dynamodb, tableName, layout } = own;
  return { target: { webhookUrl, secret, dynamodb, tableName, layout }, stop: () => own.stop() };
}

async function main(argv: string[]): Promise<number> {
  const { help, json, options } = readOptions(argv);
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const { target, stop } = await loadTarget();
  console.error(
    `load: ${options.deliveries} deliveries, ${options.duplicateRatio * 100} % duplicates, concurrency ${options.concurrency}, events of the past ${options.hours} hours → ${target.webhookUrl}${stop ? ' (own in-memory stack)' : ''}`,
  );
  try {
    const report = await runLoad(target, options);
    if (json) console.log(JSON.stringify(report));
    else
      console.table(
        Object.entries(report).map(([figure, value]) => ({
          figure,
          value: typeof value === 'object' ? JSON.stringify(value) : value,
        })),
      );
    return report.storedEqualsDistinct && report.countersEqualDistinct && report.errors5xx === 0 ? 0 : 1;
  } finally {
    await stop?.();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  endQuietlyOnClosedStdout();
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(`load: ${errorLine(error)}`);
      const usage = isUsageError(error);
      process.exitCode = usage ? 2 : 1;
    },
  );
}
