import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createLogger } from '../lib/log';
import { CampaignStats } from '../lib/queries/campaign-stats';
import { RecordsRepository } from '../lib/queries/records-repository';
import { signBody } from '../lib/signature/verify-signature';
import { type LocalStack, localClientConfig, startLocalStack } from '../local/local-stack';
import { endQuietlyOnClosedStdout, errorLine, isUsageError, UsageError } from './entry';
import { findRunningStack, localSecret } from './local-target';

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
  layout: LocalStack['layout'];
}

const DAY = new Date().toISOString().slice(0, 10);

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

/** Realistic SORI events in the current webhook format: impressions, clicks (one in four), authentications, materials. */
function makeEvents(options: LoadOptions, run: string) {
  const random = mulberry32(options.seed);
  const distinct = Math.round(options.deliveries * (1 - options.duplicateRatio));
  return Array.from({ length: distinct }, (_, i) => {
    const kind = random();
    const device = `device_${run}_${Math.floor(random() * options.devices)}`;
    const created = new Date(
      Date.parse(`${DAY}T00:00:00.000Z`) + Math.floor(random() * 86_000_000),
    ).toISOString();
    const common = {
      account_id: 'acc_123456',
      created_at: created,
      device_id: device,
      platform: random() < 0.5 ? 'Android' : 'iOS',
      metadata: { session: randomUUID() },
      geolocation: { viewer_country: 'United States', viewer_region: 'Michigan', viewer_city: 'Ann Arbor' },
      timestamp: created,
    };
    if (kind < 0.08) return { event: 'authentication', ...common };
    if (kind < 0.1) {
      return {
        event: 'admin.material.updated',
        ...common,
        material: { id: `mat_${i}`, name: 'Spot', tags: [], image: null },
      };
    }
    const campaign = `cmp_${run}_${Math.floor(random() * options.campaigns)}`;
    return {
      event: kind < 0.1 + 0.9 * 0.75 ? 'campaign.impression' : 'campaign.click',
      ...common,
      activity_id: `act_${run}_${i}`,
      campaign: { id: campaign, name: 'Fall Promotion', tags: ['retail'], image: null },
      material: { id: 'mat_5678', name: 'Audio Spot 15s', tags: ['audio'], image: null },
    };
  });
}

/** The `p` quantile of `values` (nearest rank), 0 for none. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

/**
 * Sends a bounded burst of signed SORI deliveries to a local stack (loopback only): 30 % of them SORI-style
 * retries (same event, new `timestamp`) in random order, `concurrency` at a time; then waits until every
 * distinct event is queryable and checks the stored records and the counters against the distinct events.
 */
export async function runLoad(target: LoadTarget, options: LoadOptions): Promise<LoadReport> {
  const url = new URL(target.webhookUrl);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname))
    throw new Error('load runs against loopback addresses only');
  const run = randomUUID().slice(0, 8);
  const random = mulberry32(options.seed + 1);
  const events = makeEvents(options, run);
  const deliveries = events.map((event) => JSON.stringify(event));
  while (deliveries.length < options.deliveries) {
    const event = events[Math.floor(random() * events.length)] as Record<string, unknown>;
    deliveries.push(JSON.stringify({ ...event, timestamp: new Date().toISOString() }));
  }
  for (let i = deliveries.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [deliveries[i], deliveries[j]] = [deliveries[j] as string, deliveries[i] as string];
  }

  const report: LoadReport = {
    deliveries: deliveries.length,
    distinct: events.length,
    accepted: 0,
    duplicates: 0,
    quarantined: 0,
    errors5xx: 0,
    other: 0,
    stored: 0,
    latencyMs: { p50: 0, p99: 0, max: 0 },
    secondsUntilQueryable: 0,
    storedEqualsDistinct: false,
    countersEqualDistinct: false,
  };
  const latencies: number[] = [];
  const ids = new Set<string>();
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (next < deliveries.length) {
        const body = deliveries[next++] as string;
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
        if (response.status >= 500) report.errors5xx++;
        else if (response.status !== 202) report.other++;
        else if (answer.status === 'quarantined') report.quarantined++;
        else {
          report.accepted++;
          if (answer.id && ids.has(answer.id)) report.duplicates++;
          if (answer.id) ids.add(answer.id);
        }
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  report.latencyMs = {
    p50: Number(percentile(latencies, 0.5).toFixed(1)),
    p99: Number(percentile(latencies, 0.99).toFixed(1)),
    max: Number((latencies.at(-1) ?? 0).toFixed(1)),
  };

  // Expected, from the events themselves.
  const expected = new Map<string, { impressions: number; clicks: number; devices: Set<string> }>();
  for (const event of events as Record<string, unknown>[]) {
    const campaign = (event.campaign as { id: string } | undefined)?.id;
    if (!campaign) continue;
    const entry = expected.get(campaign) ?? { impressions: 0, clicks: 0, devices: new Set<string>() };
    if (event.event === 'campaign.click') entry.clicks++;
    else entry.impressions++;
    entry.devices.add(String(event.device_id));
    expected.set(campaign, entry);
  }

  const records = new RecordsRepository(target.dynamodb, target.tableName, target.layout);
  const counters = new CampaignStats(target.dynamodb, target.tableName);
  const countStored = async () => {
    let total = 0;
    for (const campaign of expected.keys()) {
      total += (await records.queryEvents({ provider: 'sori', campaign, limit: 1_000_000 })).length;
    }
    for (const device of new Set((events as { device_id: string }[]).map((e) => e.device_id))) {
      total += (await records.queryEvents({ provider: 'sori', device, limit: 1_000_000 })).filter(
        (e) => !e.campaign_id,
      ).length;
    }
    return total;
  };
  const deadline = Date.now() + options.timeoutMs;
  do {
    report.stored = await countStored();
    if (report.stored >= events.length) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  } while (Date.now() < deadline);
  report.secondsUntilQueryable = Number(((performance.now() - started) / 1000).toFixed(2));
  report.storedEqualsDistinct = report.stored === events.length;

  let countersMatch = true;
  for (const [campaign, want] of expected) {
    const [row] = await counters.campaignStats('sori', campaign, DAY, DAY);
    if (
      row?.impressions !== want.impressions ||
      row.clicks !== want.clicks ||
      row.unique_devices !== want.devices.size
    ) {
      countersMatch = false;
    }
  }
  report.countersEqualDistinct = countersMatch;
  return report;
}

const USAGE = `Usage: npm run -s load -- [options]

Sends a bounded, loopback-only burst of signed SORI deliveries (30 % retries) to the running local stack, or
to a stack of its own when none runs on DATA_DIR, and checks that the stored records and the counters equal
the distinct events.

  --deliveries <n>   deliveries to send, 1 to 50000 (default 5000)
  --concurrency <n>  deliveries in flight, 1 to 200 (default 50)
  --duplicates <r>   share of retries, 0 to 0.9 (default 0.3)
  --json             the report as one JSON object on stdout

Exit codes: 0 all stored once and counted exactly, 1 not, 2 usage error.
`;

/** A mistake in the command line (exit code 2), as opposed to a failed run (1). */

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      deliveries: { type: 'string', default: '5000' },
      concurrency: { type: 'string', default: '50' },
      duplicates: { type: 'string', default: '0.3' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const options: LoadOptions = {
    deliveries: Number(values.deliveries),
    duplicateRatio: Number(values.duplicates),
    concurrency: Number(values.concurrency),
    campaigns: 8,
    devices: 400,
    timeoutMs: 120_000,
    seed: 42,
  };
  if (!(Number.isInteger(options.deliveries) && options.deliveries > 0 && options.deliveries <= 50_000))
    throw new UsageError('--deliveries must be 1 to 50000');
  if (!(Number.isInteger(options.concurrency) && options.concurrency > 0 && options.concurrency <= 200))
    throw new UsageError('--concurrency must be 1 to 200');
  if (!(options.duplicateRatio >= 0 && options.duplicateRatio <= 0.9))
    throw new UsageError('--duplicates must be 0 to 0.9');

  // Against the running `npm start` when there is one; else against a stack of its own, in memory.
  const running = await findRunningStack();
  let own: LocalStack | undefined;
  let target: LoadTarget;
  if (running) {
    const secret = await localSecret();
    if (!secret) throw new Error('no secret for the running stack');
    target = {
      webhookUrl: running.webhookUrl,
      secret,
      dynamodb: new DynamoDBClient(localClientConfig(running.dynamodbEndpoint)),
      tableName: running.tableName,
      layout: running.layout,
    };
  } else {
    const secret = randomUUID();
    own = await startLocalStack({ port: 0, secret, logger: createLogger('load', 'error') });
    target = {
      webhookUrl: own.webhookUrl,
      secret,
      dynamodb: own.dynamodb,
      tableName: own.tableName,
      layout: own.layout,
    };
  }
  console.error(
    `load: ${options.deliveries} deliveries, ${options.duplicateRatio * 100} % duplicates, concurrency ${options.concurrency} → ${target.webhookUrl}${own ? ' (own in-memory stack)' : ''}`,
  );
  try {
    const report = await runLoad(target, options);
    if (values.json) console.log(JSON.stringify(report));
    else
      console.table(
        Object.entries(report).map(([figure, value]) => ({
          figure,
          value: typeof value === 'object' ? JSON.stringify(value) : value,
        })),
      );
    return report.storedEqualsDistinct && report.countersEqualDistinct && report.errors5xx === 0 ? 0 : 1;
  } finally {
    await own?.stop();
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
