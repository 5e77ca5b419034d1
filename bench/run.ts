// npm run bench: every figure next to a baseline measured in the same run, as a ratio. Offline, a few minutes.
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CONFIG } from '../infra/config';
import { RECEIVE_EXTERNAL_MODULES } from '../infra/constructs/campaign-inbox';
import { type BundleFigures, measureBundles } from './cold-start';
import { costPerMillion } from './cost';
import { measureEndToEnd } from './end-to-end';
import { measureLogBytes } from './log-bytes';
import { measureReceiveCpu } from './receive-cpu';
import { measureWrites } from './writes';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const ROOT = join(import.meta.dirname, '..');
const fixed = (value: number, digits = 1) => Number(value.toFixed(digits));
const started = Date.now();
const log = (message: string) =>
  console.error(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${message}`);

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
};

const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(totalmem() / 1024 ** 3),
  node: process.version,
};
console.table(rows);
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
  `${JSON.stringify({ date: new Date().toISOString(), machine, summary, rows, receiveCpu: { own, withSdk }, bundles, writes, endToEnd: e2e, cost }, null, 2)}\n`,
);
log('wrote bench/results.json');
