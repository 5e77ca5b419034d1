// npm run bench: every figure next to a baseline measured in the same run, as a ratio. Offline, a few minutes.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CONFIG } from '../infra/config';
import { RECEIVE_EXTERNAL_MODULES } from '../infra/constructs/campaign-inbox';
import { type BundleFigures, measureBundles } from './cold-start';
import { costPerMillion } from './cost';
import { dashboardReport, measureDashboardLoad, printDashboardFigures } from './dashboard-load';
import { measureEndToEnd } from './end-to-end';
import { measureLogBytes } from './log-bytes';
import { measureRealistic } from './realistic';
import { measureReceiveCpu } from './receive-cpu';
import { measureWrites } from './writes';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const ROOT = join(import.meta.dirname, '..');
const fixed = (value: number, digits = 1) => Number(value.toFixed(digits));
const started = Date.now();
const log = (message: string) =>
  console.error(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${message}`);

/** The code measured: the commit, and the source files that differed from it, when the bench started. */
const git = (args: string[]) => {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  } catch {
    return '';
  }
};
const source = {
  commit: git(['rev-parse', 'HEAD']).trim(),
  uncommitted: git(['status', '--porcelain', '--', 'lib', 'functions', 'local', 'infra'])
    .split('\n')
    .filter(Boolean),
};

log('receive CPU, own work');
const own = await measureReceiveCpu('serialize-only', 10_000, 5);
log('receive CPU, with the send');
const withSdk = await measureReceiveCpu('send', 3_000, 3);
log('cold start');
const [receiveBundle, processBundle, typicalBundle] = await measureBundles([
  {
    name: 'receive-webhook',
    entry: join(ROOT, 'functions/receive-webhook/handler.ts'),
    external: RECEIVE_EXTERNAL_MODULES,
  },
  { name: 'process-webhook', entry: join(ROOT, 'functions/process-webhook/handler.ts'), external: [] },
  // Bundled as a typical project bundles: the same options, without our credential-provider substitution.
  { name: 'typical-receive', entry: join(ROOT, 'bench/typical-lambda.ts'), external: [], alias: {} },
]);
const bundles = {
  receive: receiveBundle as BundleFigures,
  process: processBundle as BundleFigures,
  typical: typicalBundle as BundleFigures,
};
log('writes per stored event');
const writes = await measureWrites();
log('log bytes');
const logBytes = await measureLogBytes();
log('end to end');
const e2e = await measureEndToEnd(40, 10);
log('realistic workload: batches, write units, marker cache, cost');
const realistic = await measureRealistic({ receiveCpuMicros: withSdk.oursMicros, ...logBytes, log });
log('dashboard loads: time for 100 campaigns, read units at 10,000 and 1,000,000 devices');
const dashboard = await measureDashboardLoad({ log });
const dashboardFigures = dashboardReport(dashboard);
const atDefaults = (rate: number) => {
  const found = realistic.rates.find((r) => r.isDefault && r.ratePerSecond === rate);
  if (!found) throw new Error(`no realistic figures at ${rate}/s`);
  return found;
};
const smallAt = (rate: number) => realistic.small.find((r) => r.ratePerSecond === rate);
const at = (batchSize: number, duplicateShare: number) =>
  writes.find((w) => w.batchSize === batchSize && w.duplicateShare === duplicateShare);
const defaults = DEFAULT_CONFIG;
const atDefault = at(defaults.batchSize, 0);
const cost = costPerMillion({
  receiveCpuMicros: withSdk.oursMicros,
  writeUnitsPerStored: atDefault?.ours.writeUnits ?? Number.NaN,
  markersPerStored: atDefault?.ours.markers ?? Number.NaN,
  batchSize: defaults.batchSize,
  ...logBytes,
  receiveMemoryMb: realistic.stack.memoryMb.Receive,
  processMemoryMb: realistic.stack.memoryMb.Process,
});

type Row = { figure: string; ours: string | number; baseline: string | number; ratio: number | string };
const rows: Row[] = [
  {
    figure: 'receive CPU, own work (µs/event)',
    ours: fixed(own.oursMicros),
    baseline: fixed(own.typicalMicros),
    ratio: fixed(own.ratio, 2),
  },
  {
    figure: 'receive, own work (events/s, one core)',
    ours: Math.round(own.oursEventsPerSecond),
    baseline: Math.round(own.typicalEventsPerSecond),
    ratio: fixed(own.typicalEventsPerSecond / own.oursEventsPerSecond, 2),
  },
  {
    figure: 'receive CPU with the send (µs/event; ours: its own signed client, typical: the SDK)',
    ours: fixed(withSdk.oursMicros),
    baseline: fixed(withSdk.typicalMicros),
    ratio: fixed(withSdk.ratio, 2),
  },
  {
    figure: 'receive bundle (KiB)',
    ours: fixed(bundles.receive.bytes / 1024),
    baseline: fixed(bundles.typical.bytes / 1024),
    ratio: fixed(bundles.receive.bytes / bundles.typical.bytes, 2),
  },
  {
    figure: 'receive cold import, median (ms)',
    ours: fixed(bundles.receive.importMsMedian),
    baseline: fixed(bundles.typical.importMsMedian),
    ratio: fixed(bundles.receive.importMsMedian / bundles.typical.importMsMedian, 2),
  },
  {
    figure: 'process bundle (KiB) / cold import (ms)',
    ours: `${fixed(bundles.process.bytes / 1024)} / ${fixed(bundles.process.importMsMedian)}`,
    baseline: '-',
    ratio: '-',
  },
  ...writes.map((w) => ({
    figure: `write units per stored event, batch ${w.batchSize}, ${w.duplicateShare * 100} % dup (markers, counters in)`,
    ours: fixed(w.ours.writeUnits, 2),
    baseline: `${fixed(w.conditionalPut.writeUnits, 2)} (conditional put; Powertools idempotency ${fixed(w.powertoolsIdempotency.writeUnits, 2)})`,
    ratio: fixed(w.ratio, 2),
  })),
  {
    figure: `POST → queryable at ${e2e.ratePerSecond}/s, p50 / p99 (ms)`,
    ours: `${e2e.queryableMs.p50} / ${e2e.queryableMs.p99}`,
    baseline: `${e2e.receiveMs.p50} / ${e2e.receiveMs.p99} (POST alone)`,
    ratio: fixed(e2e.ratioP99, 2),
  },
  {
    figure: `cost per million events (USD), batch ${defaults.batchSize}`,
    ours: fixed(cost.ours.total, 2),
    baseline: `${fixed(cost.floor.total, 2)} (floor)`,
    ratio: fixed(cost.ratio, 2),
  },
  {
    figure: 'storage per million events kept, per month (USD, table + PITR)',
    ours: fixed(cost.storagePerMillionPerMonth, 3),
    baseline: '-',
    ratio: '-',
  },
  ...realistic.rates.map((r) => ({
    figure: `realistic, ${r.setting} at ${r.ratePerSecond}/s: mean batch / POST → stored p50 / p99 (ms)`,
    ours: `${fixed(r.batching.meanBatch, 2)} / ${r.batching.latencyMs.p50} / ${r.batching.latencyMs.p99}${r.keepsUp ? '' : ` (falls behind: needs ${fixed(r.concurrencyNeeded)} invocations at once, may run ${realistic.stack.eventSource.maxConcurrency})`}`,
    baseline: '-',
    ratio: '-',
  })),
  ...realistic.rates.map((r) => {
    const small = r.isDefault ? smallAt(r.ratePerSecond) : undefined;
    return {
      figure: `realistic, ${r.setting} at ${r.ratePerSecond}/s: write units per stored event (baseline: the small workload at the same batches)`,
      ours: fixed(r.writeUnitsPerStored, 2),
      baseline: small ? fixed(small.writeUnits, 2) : '-',
      ratio: small ? fixed(r.writeUnitsPerStored / small.writeUnits, 2) : '-',
    };
  }),
  ...realistic.rates.map((r) => ({
    figure: `realistic, ${r.setting} at ${r.ratePerSecond}/s: cost per million stored events (USD; baseline: the full-batch small-workload figure)`,
    ours: fixed(r.costPerMillion.total, 2),
    baseline: fixed(cost.ours.total, 2),
    ratio: fixed(r.costPerMillion.total / cost.ours.total, 2),
  })),
  ...realistic.rates
    .filter((r) => r.isDefault)
    .map((r) => ({
      figure: `cost floor per million stored events at the realistic workload (API Gateway + receive function + SQS send/receive/delete + access logs + one record write per stored event, nothing else) at ${r.ratePerSecond}/s (USD; baseline: the cost at the defaults)`,
      ours: fixed(r.floor.total, 2),
      baseline: fixed(r.costPerMillion.total, 2),
      ratio: fixed(r.costPerMillion.total / r.floor.total, 2),
    })),
  ...realistic.rates
    .filter((r) => r.isDefault)
    .map((r) => ({
      figure: `marker cache at ${r.ratePerSecond}/s, default size, ${r.markerCache.containers} container(s): hit rate / marker writes per stored event (baseline: 1,000,000 devices)`,
      ours: `${fixed(r.markerCache.hitRate, 3)} / ${fixed(r.markerCache.markerWritesPerStored, 3)}`,
      baseline: (() => {
        const m = realistic.millionDevices.find((x) => x.ratePerSecond === r.ratePerSecond);
        return m ? `${fixed(m.hitRate, 3)} / ${fixed(m.markerWritesPerStored, 3)}` : '-';
      })(),
      ratio: '-',
    })),
  {
    figure: `marker cache: markDevice CPU per call, µs at one vCPU, on the default cache full (${realistic.consumerCpu.markerCacheEntries.toLocaleString('en-US')} entries; baseline: a 1,000-entry cache)`,
    ours: fixed(realistic.consumerCpu.markDeviceMicros),
    baseline: fixed(realistic.consumerCpu.markDeviceMicrosSmallCache),
    ratio: fixed(
      realistic.consumerCpu.markDeviceMicros / realistic.consumerCpu.markDeviceMicrosSmallCache,
      2,
    ),
  },
  {
    figure: 'fixed cost per month (USD: secret, metrics, alarms, dashboard, repair runs, idle long polls)',
    ours: fixed(realistic.fixed.total, 2),
    baseline: '-',
    ratio: '-',
  },
  {
    figure: `storage per million stored events over their life (USD, ${realistic.rates[0]?.storage.months.toFixed(1)} months at the default retention)`,
    ours: fixed(atDefaults(10).storage.lifetime, 2),
    baseline: '-',
    ratio: '-',
  },
  ...dashboardFigures.rows,
];

/** Figures tooling reads; the names are a contract. */
const summary = {
  receive_own_us: fixed(own.oursMicros),
  receive_typical_us: fixed(own.typicalMicros),
  receive_speedup_vs_typical: fixed(own.typicalMicros / own.oursMicros, 2),
  receive_with_sdk_us: fixed(withSdk.oursMicros),
  receive_typical_with_sdk_us: fixed(withSdk.typicalMicros),
  cold_import_ms: fixed(bundles.receive.importMsMedian),
  cold_import_ratio_vs_typical: fixed(bundles.receive.importMsMedian / bundles.typical.importMsMedian, 2),
  write_units_per_stored_event: fixed(at(100, 0)?.ours.writeUnits ?? Number.NaN, 2),
  write_units_per_stored_event_30pct_dup: fixed(at(100, 0.3)?.ours.writeUnits ?? Number.NaN, 2),
  cost_per_million_events_usd: fixed(cost.ours.total, 2),
  storage_per_million_events_month_usd: fixed(cost.storagePerMillionPerMonth, 3),
  cost_per_million_events_usd_at_10_per_s: fixed(atDefaults(10).costPerMillion.total, 2),
  cost_per_million_events_usd_at_100_per_s: fixed(atDefaults(100).costPerMillion.total, 2),
  cost_per_million_events_usd_at_1000_per_s: fixed(atDefaults(1000).costPerMillion.total, 2),
  write_units_per_stored_event_realistic: fixed(
    Math.max(...realistic.rates.filter((r) => r.isDefault).map((r) => r.writeUnitsPerStored)),
    2,
  ),
  write_units_per_stored_event_realistic_at_10_per_s: fixed(atDefaults(10).writeUnitsPerStored, 2),
  write_units_per_stored_event_realistic_at_100_per_s: fixed(atDefaults(100).writeUnitsPerStored, 2),
  write_units_per_stored_event_realistic_at_1000_per_s: fixed(atDefaults(1000).writeUnitsPerStored, 2),
  fixed_cost_per_month_usd: fixed(realistic.fixed.total, 2),
  storage_per_million_events_lifetime_usd: fixed(atDefaults(10).storage.lifetime, 2),
  cost_floor_per_million_events_usd_at_10_per_s: fixed(atDefaults(10).floor.total, 2),
  cost_floor_per_million_events_usd_at_100_per_s: fixed(atDefaults(100).floor.total, 2),
  cost_floor_per_million_events_usd_at_1000_per_s: fixed(atDefaults(1000).floor.total, 2),
  cost_per_million_deliveries_usd_at_10_per_s: fixed(atDefaults(10).costPerMillionDeliveries, 2),
  cost_per_million_deliveries_usd_at_100_per_s: fixed(atDefaults(100).costPerMillionDeliveries, 2),
  cost_per_million_deliveries_usd_at_1000_per_s: fixed(atDefaults(1000).costPerMillionDeliveries, 2),
  ...dashboardFigures.summary,
};

/** What each figure of the summary is, and what it assumes. */
const summaryAssumptions: Record<string, string> = {
  write_units_per_stored_event:
    "the small workload (3 campaigns, 50 devices, one hour), batches of 100 assumed full, no duplicates; the counters: each batch's journal entry (an open and a close), the one container's registrations of its campaign-days (as a fresh container pays them) and one repair pass folding the 1,000 deliveries into the counter items, as if they came within a minute",
  write_units_per_stored_event_30pct_dup: 'as write_units_per_stored_event, with 30 % duplicate deliveries',
  cost_per_million_events_usd:
    "the small workload at batch 10 assumed full (fullBatches), the functions' memory from the synthesized template, storage and fixed costs apart; kept for comparison, superseded by cost_per_million_events_usd_at_*",
  storage_per_million_events_month_usd:
    'one month of table storage and PITR for a million records of the small workload',
  cost_per_million_events_usd_at_10_per_s: `per million stored (distinct) events of the realistic workload at 10 webhook deliveries a second (duplicates included, so 7 distinct events a second), its 30 % duplicate deliveries paid for, at the default settings (batch ${DEFAULT_CONFIG.batchSize}, window ${DEFAULT_CONFIG.batchWindowSeconds} s, at most ${DEFAULT_CONFIG.maxConcurrency} invocations), at batch sizes measured with the local poller at this rate; API Gateway, both functions (the process function's time modelled per batch from its measured CPU at ${realistic.stack.memoryMb.Process} MB, its memory in the synthesized template, and ${realistic.assumptions.dynamodbCallMs} ms per DynamoDB round trip), SQS (a send per delivery, a receive and a delete per 10 messages of each batch), DynamoDB writes (write_units_per_stored_event_realistic_at_10_per_s), the repair's fold of this traffic (its writes in the write units, its consistent reads, its function time, each above an idle pass, per stored event), function and access logs; fixed costs (the idle repair pass among them) and storage apart; list prices of ${cost.prices.region}, ${cost.prices.date} (bench/prices.json)`,
  cost_per_million_events_usd_at_100_per_s:
    'as cost_per_million_events_usd_at_10_per_s, at 100 deliveries a second',
  cost_per_million_events_usd_at_1000_per_s: `as cost_per_million_events_usd_at_10_per_s, at 1,000 deliveries a second${atDefaults(1000).keepsUp ? '' : `; at the defaults the consumer falls behind at this rate (it needs about ${fixed(atDefaults(1000).concurrencyNeeded)} invocations at once), so batches are full and the queue grows`}`,
  write_units_per_stored_event_realistic:
    "the highest of the three rates at the default settings: records and the batches' journal entries (two writes a batch) from the real consumer replayed at the measured batch sizes, 30 % duplicates; each container's registrations of its campaign-days, paid again as containers are replaced (every 30 minutes assumed); marker writes from the marker cache over a whole day; the counter items written by the repair's fold once a minute, whole at their mid-day size, with the fold state: one pass over a minute of the measured batches, its units above an idle pass's spread over the events stored that minute (rate × 0.7 × 60)",
  write_units_per_stored_event_realistic_at_10_per_s:
    'as write_units_per_stored_event_realistic, at 10 deliveries a second (the fold over 420 events stored a minute)',
  write_units_per_stored_event_realistic_at_100_per_s:
    'as write_units_per_stored_event_realistic, at 100 deliveries a second (the fold over 4,200 events stored a minute)',
  write_units_per_stored_event_realistic_at_1000_per_s:
    'as write_units_per_stored_event_realistic, at 1,000 deliveries a second (the fold over 42,000 events stored a minute)',
  fixed_cost_per_month_usd: `a month of ${730} hours: ${realistic.stack.secrets} secret and its reads, ${realistic.assumptions.customMetrics} custom metrics, ${realistic.stack.alarmMetrics} alarm metrics (${realistic.stack.alarms} alarms), ${realistic.stack.dashboards} dashboard, the repair's idle pass every minute (its run, the fold state read, the journal and the earlier protocol's list queried, the state written as the watermark moves on; folding traffic is paid per stored event in cost_per_million_events_usd_at_*), ${realistic.assumptions.pollers} pollers' idle 20 s long polls; before free tiers`,
  storage_per_million_events_lifetime_usd: `a million stored events' records (${realistic.itemBytes.record} bytes each, no index entries: campaign events are found through their campaign-day partition) and the device markers they leave at 10 deliveries a second (${fixed(atDefaults(10).markerCache.markersStoredPerStored, 3)} per event), plus 100 bytes of overhead each, in table storage and PITR for the ${DEFAULT_CONFIG.recordRetentionDays}-day default retention`,
  cost_floor_per_million_events_usd_at_10_per_s: `what the fixed shape costs per million stored events of the realistic workload at 10 deliveries a second, at the default settings and the same measured batches and prices as cost_per_million_events_usd_at_10_per_s: API Gateway, the receive function, SQS (a send per delivery, a receive and a delete per 10 messages of each batch), access logs, and one record write per stored event (${atDefaults(10).floor.recordWriteUnits} write unit${atDefaults(10).floor.recordWriteUnits === 1 ? '' : 's'}: the record's put, ${realistic.itemBytes.record} bytes, with its index entries); nothing else: no process function, no duplicate's refused put, no device marker, no counters, no function logs, no fixed costs, no storage`,
  cost_floor_per_million_events_usd_at_100_per_s:
    'as cost_floor_per_million_events_usd_at_10_per_s, at 100 deliveries a second',
  cost_floor_per_million_events_usd_at_1000_per_s:
    'as cost_floor_per_million_events_usd_at_10_per_s, at 1,000 deliveries a second',
  cost_per_million_deliveries_usd_at_10_per_s: `cost_per_million_events_usd_at_10_per_s spread over the webhook deliveries instead of the stored events: per million deliveries, duplicates included (${fixed(1 / (1 - realistic.workload.duplicateShare), 2)} deliveries per stored event), so × ${fixed(1 - realistic.workload.duplicateShare, 2)}`,
  cost_per_million_deliveries_usd_at_100_per_s:
    'as cost_per_million_deliveries_usd_at_10_per_s, from cost_per_million_events_usd_at_100_per_s',
  cost_per_million_deliveries_usd_at_1000_per_s:
    'as cost_per_million_deliveries_usd_at_10_per_s, from cost_per_million_events_usd_at_1000_per_s',
  ...dashboardFigures.assumptions,
};

const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(totalmem() / 1024 ** 3),
  node: process.version,
};
console.table(rows);
printDashboardFigures(dashboard);
console.log('summary (bench/results.json):');
console.table(summary);
console.log('cost per million events, by part (USD):');
console.table(
  Object.keys(cost.ours)
    .filter((k) => k !== 'total')
    .map((part) => ({
      part,
      ours: fixed((cost.ours as Record<string, number>)[part] ?? 0, 3),
      floor: fixed((cost.floor as Record<string, number>)[part] ?? 0, 3),
    })),
);
writeFileSync(
  join(ROOT, 'bench', 'results.json'),
  `${JSON.stringify({ date: new Date().toISOString(), source, machine, summary, assumptions: summaryAssumptions, rows, receiveCpu: { own, withSdk }, bundles, writes, endToEnd: e2e, cost, realistic, dashboard }, null, 2)}\n`,
);
// In the project's format, so `npm run check` passes on the file as written.
try {
  execFileSync(join(ROOT, 'node_modules', '.bin', 'biome'), ['format', '--write', 'bench/results.json'], {
    cwd: ROOT,
    stdio: 'ignore',
  });
} catch {
  log('bench/results.json left unformatted: biome did not run');
}
log('wrote bench/results.json');
// The front doors' costs come from the figures just written, and are merged into the same file.
(await import('./front-door')).writeFrontDoorFigures();
