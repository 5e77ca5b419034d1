// CPU the process function spends per batch, by batch size: the deployed composition (createProcessHandler with
// the Powertools logger and metrics middlewares, as functions/process-webhook/handler.ts builds it) on the
// realistic workload at mid-day (counter items grown, the marker cache full as it is by noon), its table a
// DynamoDB-API server in a child process so this process's CPU is the consumer's alone. What it writes to
// stdout (the metrics line per batch) goes to /dev/null.
import { closeSync, openSync, writeSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context, SQSEvent } from 'aws-lambda';
import { createProcessHandler } from '../functions/process-webhook/process-webhook';
import type { EventRecord } from '../lib/events/event-record';
import { CampaignCounters } from '../lib/ingest/campaign-counters';
import { EventWriter } from '../lib/ingest/event-writer';
import { fromPowertools } from '../lib/log';
import { METRICS_NAMESPACE } from '../lib/metrics';
import { PowertoolsMetrics } from '../lib/powertools-metrics';
import { ensureRecordsTable } from '../local/create-records-table';
import { localClientConfig } from '../local/local-stack';
import { growCounters } from './counter-growth';
import { startDynamoDbProcess } from './dynalite-child';
import { standInTable } from './markers';
import { campaignId, DEPLOYED_LAYOUT, deliveries, drawer, type Workload } from './workload';

export interface ConsumerCpuFigures {
  /** Batch size → CPU ms per batch (median of the batches), and SDK calls per batch (mean). */
  perBatch: Array<{ batchSize: number; cpuMs: number; sdkCalls: number; batches: number }>;
  /** Marker cache entries when the batches ran (the default size: full). */
  markerCacheEntries: number;
  /** CPU µs of one markDevice call on the full cache (a cache hit or a miss, as the workload mixes them). */
  markDeviceMicros: number;
  /** The same on a cache of 1,000 entries (the workload's calls then nearly all miss and write). */
  markDeviceMicrosSmallCache: number;
}

const context = {
  functionName: 'process-webhook',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:process-webhook',
  memoryLimitInMB: '256',
  awsRequestId: 'bench',
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;

function quietly<T>(run: () => Promise<T>): Promise<T> {
  const out = process.stdout.write;
  const devNull = openSync('/dev/null', 'w');
  process.stdout.write = ((chunk: string | Uint8Array) => {
    if (typeof chunk === 'string') writeSync(devNull, chunk);
    else writeSync(devNull, chunk);
    return true;
  }) as typeof process.stdout.write;
  return run().finally(() => {
    process.stdout.write = out;
    closeSync(devNull);
  });
}

/** Measures CPU per batch at each of `batchSizes`, `deliveriesEach` deliveries each. */
export async function measureConsumerCpu(
  workload: Workload,
  ratePerSecond: number,
  batchSizes: readonly number[],
  deliveriesEach = 600,
): Promise<ConsumerCpuFigures> {
  const server = await startDynamoDbProcess();
  const saved = process.env.POWERTOOLS_LOG_LEVEL;
  process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
  try {
    const client = new DynamoDBClient(localClientConfig(server.endpoint));
    await ensureRecordsTable(client, TABLE);
    await growCounters(client, TABLE, DEPLOYED_LAYOUT, workload, ratePerSecond, DAY);
    const calls = countCalls(client);
    // The writer's cache filled by a morning of markers answered by the stand-in, then the real table.
    const standIn = standInTable();
    let target: DynamoDBClient = standIn.client;
    const switching = {
      send: (...args: unknown[]) => (target.send as (...a: unknown[]) => unknown)(...args),
      // What the consumer adds to its client goes on the real one, whose calls it is for.
      middlewareStack: client.middlewareStack,
    };
    const writer = new EventWriter(switching as unknown as DynamoDBClient, TABLE, DEPLOYED_LAYOUT);
    const marks = await measureMarkDevice(writer, morningOf(workload));
    target = client;
    const handler = processHandler(writer, client);
    const perBatch: ConsumerCpuFigures['perBatch'] = [];
    let seed = 500;
    for (const size of batchSizes) {
      const messages = deliveries(workload, {
        events: Math.round(deliveriesEach * (1 - workload.duplicateShare)),
        seed: seed++,
        day: DAY,
        fromHour: 12,
        toHour: 13,
      });
      perBatch.push(await timeBatches(handler, calls, messages, size));
    }
    client.destroy();
    return { perBatch, markerCacheEntries: writer.cachedMarkers, ...marks };
  } finally {
    if (saved === undefined) delete process.env.POWERTOOLS_LOG_LEVEL;
    else process.env.POWERTOOLS_LOG_LEVEL = saved;
    await server.stop();
  }
}

const TABLE = 'consumer-cpu';
const DAY = '2025-10-14';

/** Counts the calls `client` sends. @returns how many so far. */
function countCalls(client: DynamoDBClient): () => number {
  let calls = 0;
  client.middlewareStack.add(
    (next) => (args) => {
      calls++;
      return next(args);
    },
    { step: 'initialize', name: 'countCalls' },
  );
  return () => calls;
}

/** The workload's events of a morning, one per call. */
function morningOf(workload: Workload): () => EventRecord {
  const draw = drawer(workload, 99);
  return (): EventRecord => {
    const { campaign, device, click } = draw();
    return {
      provider: 'sori',
      event: click ? 'campaign.click' : 'campaign.impression',
      created_at: `${DAY}T06:00:00.000Z`,
      received_at: `${DAY}T06:00:00.000Z`,
      device_id: `device_${String(device).padStart(7, '0')}`,
      campaign_id: campaignId(campaign),
    } as EventRecord;
  };
}

/** CPU µs per markDevice call, at the writer's cache size in its steady state and at a small cache. */
async function measureMarkDevice(writer: EventWriter, morning: () => EventRecord) {
  /** CPU µs per markDevice call over `n` calls. */
  const timeMarks = async (on: EventWriter, n: number) => {
    const records = Array.from({ length: n }, morning);
    const start = process.cpuUsage();
    for (const record of records) await on.markDevice(record, true, 'morning');
    const used = process.cpuUsage(start);
    return (used.user + used.system) / n;
  };
  // Enough of a morning for the cache to be full and in its steady state, then 20,000 calls timed.
  for (let i = 0; i < 230_000; i++) await writer.markDevice(morning(), true, 'morning');
  const markDeviceMicros = await timeMarks(writer, 20_000);
  // The same calls on a cache of 1,000 entries: more of them miss, yet each costs what a small map costs.
  const small = new EventWriter(standInTable().client, TABLE, DEPLOYED_LAYOUT, 1_000);
  await timeMarks(small, 20_000);
  const markDeviceMicrosSmallCache = await timeMarks(small, 20_000);
  return { markDeviceMicros, markDeviceMicrosSmallCache };
}

/** The process function's handler as deployed: Powertools' logger and metrics, the real table. */
function processHandler(writer: EventWriter, client: DynamoDBClient) {
  const logger = new Logger({ serviceName: 'process-webhook' });
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'process-webhook' });
  return createProcessHandler(
    {
      writer,
      counters: new CampaignCounters(client, TABLE, DEPLOYED_LAYOUT),
      logger: fromPowertools(logger),
      metrics: new PowertoolsMetrics(metrics),
    },
    logMetrics(metrics, { captureColdStartMetric: true }),
    injectLambdaContext(logger),
  );
}

/** The handler's median CPU per batch of `size` and its SDK calls, the first batch (a warm-up) left out. */
async function timeBatches(
  handler: ReturnType<typeof processHandler>,
  calls: () => number,
  messages: ReturnType<typeof deliveries>,
  size: number,
): Promise<ConsumerCpuFigures['perBatch'][number]> {
  const bodies = messages.map((message, i) => ({ messageId: `m${i}`, body: JSON.stringify(message) }));
  const cpu: number[] = [];
  let sdkCalls = 0;
  await quietly(async () => {
    for (let i = 0; i + size <= bodies.length; i += size) {
      const event = { Records: bodies.slice(i, i + size) } as unknown as SQSEvent;
      const before = calls();
      const start = process.cpuUsage();
      const result = await handler(event, context);
      const used = process.cpuUsage(start);
      if (result.batchItemFailures.length > 0) throw new Error('a benchmark batch failed');
      // The first batch of each size warms the code paths it takes.
      if (i === 0) continue;
      cpu.push((used.user + used.system) / 1000);
      sdkCalls += calls() - before;
    }
  });
  const sorted = [...cpu].sort((a, b) => a - b);
  return {
    batchSize: size,
    cpuMs: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN,
    sdkCalls: sdkCalls / Math.max(1, cpu.length),
    batches: cpu.length,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { REALISTIC } = await import('./workload');
  console.log(JSON.stringify(await measureConsumerCpu(REALISTIC, 100, [1, 10, 100]), null, 2));
}
