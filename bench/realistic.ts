// The figures the README's cost section is built from, on the traffic users send (workload.ts's REALISTIC):
// batch sizes the event source forms at 10, 100 and 1,000 events/s (batching.ts), write units per stored event
// at those batches (the real consumer replayed, and the repair's fold of a minute of that traffic, writes.ts), the
// marker cache over a day (markers.ts), the process function's time per batch (consumer-cpu.ts), and cost per
// million at each rate, fixed costs and lifetime storage apart, with the floor the fixed shape costs (cost.ts).
// Each figure carries what it assumes.
import { DEFAULT_CONFIG } from '../infra/config';
import { itemBytes } from '../lib/table/item-size';
import { deviceMarkerItem, PROJECTED_ATTRIBUTES, RECORDS_TABLE, toItem } from '../lib/table/records-table';
import { startDynamoDb } from '../local/aws-servers';
import { type BatchingFigures, type BatchSetting, measureBatching } from './batching';
import { type ConsumerCpuFigures, measureConsumerCpu } from './consumer-cpu';
import {
  ASSUMPTIONS,
  costFloorPerMillion,
  costPerMillionAtRate,
  fixedCostPerMonth,
  HOURS_PER_MONTH,
  storagePerMillionLifetime,
} from './cost';
import { type MarkerCacheFigures, measureMarkerCache } from './markers';
import { type FunctionRole, readStackFacts, type StackFacts } from './stack-facts';
import { DEPLOYED_LAYOUT, deliveries, REALISTIC, SMALL, type Workload } from './workload';
import { indexEntryBytes, writeUnits } from './write-units';
import { CONTAINER_STARTS_PER_DAY, type PassUnits, type ReplayFigures, replayWorkload } from './writes';

export const RATES = [10, 100, 1000] as const;

const fixedMs = (ms: number) => Math.round(ms);

/** Seconds of traffic sent at each rate for the batch measurement (enough batches for a p99 at each). */
const SECONDS: Record<number, number> = { 10: 30, 100: 15, 1000: 8 };

/** Deliveries replayed through the consumer for each batch-size distribution. */
const REPLAYED = 1000;

/** The SDK's Node HTTP handler opens at most 50 connections: a batch's parallel writes go 50 at a time. */
const SDK_CONNECTIONS = 50;

/** Counter items the repair's fold reads and writes at once (`CampaignCounters`' own bound). */
const FOLD_AT_ONCE = 8;

/** Assumptions of the realistic figures, beside the cost model's own (cost.ts's ASSUMPTIONS). */
export const REALISTIC_ASSUMPTIONS = {
  /** What a rate counts. */
  rate: 'webhook deliveries per second, duplicates included (what API Gateway and the queue see); with 30 % duplicates, 10/s stores 7 distinct events a second',
  /** In-region latency of a DynamoDB call, ms (cost.ts's). */
  dynamodbCallMs: ASSUMPTIONS.dynamodbWriteMs,
  /** API Gateway's own time before the receive function, ms (the function's billed time is added to it). */
  apiGatewayMs: 5,
  /** Pollers of the SQS event source: Lambda starts five, and `maxConcurrency` caps the invocations. */
  pollers: 5,
  /** A poller's idle long poll waits 20 s. */
  idleLongPollSeconds: 20,
  /** The receive function reads the signing secret again every 5 minutes (lib/signature/signing-secrets.ts). */
  secretTtlMinutes: 5,
  /** Warm receive containers counted for the secret's reads (each more adds about $0.04 a month). */
  receiveContainers: 1,
  /**
   * Custom metrics emitted every hour: receive's Accepted and one Accepted.<event> per event type sent (2), the
   * process function's Stored, Duplicates and ProcessingFailures (written on every batch, zeros included) and
   * Powertools' ColdStart; refusals and failures add theirs only in the hours they happen.
   */
  customMetrics: 7,
  /** The process function's CPU per batch, measured at one vCPU, scales by 1,769 MB / its memory. */
  cpuScalesWithMemory: true,
  /** Storage: a month is 365.25 / 12 days; records and markers live the default retention; counter items are
   * per campaign-day, not per event (about 3 KB each, kept for ever), and left out. */
  storage: 'table + PITR on items, indexes on their entries, 100 bytes of overhead per item and per entry',
};

export interface Setting extends BatchSetting {
  isDefault: boolean;
}

/** The defaults (from infra/config.ts, checked against the template) and the candidates the lead weighs. */
export function settings(facts: StackFacts): Setting[] {
  const { batchSize, batchWindowSeconds } = DEFAULT_CONFIG;
  if (facts.eventSource.batchSize !== batchSize || facts.eventSource.windowSeconds !== batchWindowSeconds) {
    throw new Error('the template does not deploy the event source DEFAULT_CONFIG describes');
  }
  return [
    {
      name: `default (batch ${batchSize}, window ${batchWindowSeconds} s)`,
      batchSize,
      windowSeconds: batchWindowSeconds,
      isDefault: true,
    },
    { name: 'earlier default (batch 10, no window)', batchSize: 10, windowSeconds: 0, isDefault: false },
    { name: 'candidate (batch 100, window 1 s)', batchSize: 100, windowSeconds: 1, isDefault: false },
  ];
}

/**
 * The process function's billed time for a batch of `n`, in AWS: its table calls' rounds (the journal entry
 * opened, records, markers, the entry closed; the parallel writes 50 at a time) at the in-region latency, plus
 * its CPU (measured at batches of 1, 10 and 100, linear between them) scaled to its memory.
 */
export function processModel(cpu: ConsumerCpuFigures, memoryMb: number): (n: number) => number {
  const points = [...cpu.perBatch].sort((a, b) => a.batchSize - b.batchSize);
  const cpuAt = (n: number) => {
    for (let i = 1; i < points.length; i++) {
      const a = points[i - 1];
      const b = points[i];
      if (!a || !b) continue;
      if (n <= b.batchSize || i === points.length - 1) {
        return a.cpuMs + ((b.cpuMs - a.cpuMs) * (n - a.batchSize)) / (b.batchSize - a.batchSize);
      }
    }
    return points[0]?.cpuMs ?? 0;
  };
  const scale = ASSUMPTIONS.fullVcpuMb / memoryMb;
  return (n) => {
    const rounds = 2 + 2 * Math.ceil(n / SDK_CONNECTIONS);
    return rounds * REALISTIC_ASSUMPTIONS.dynamodbCallMs + Math.max(0, cpuAt(n)) * scale;
  };
}

export interface RateFigures {
  setting: string;
  isDefault: boolean;
  ratePerSecond: number;
  batching: Omit<BatchingFigures, 'sizes'>;
  /** Whether the process function keeps up: invocations at once it needs, and the most it may run. */
  keepsUp: boolean;
  concurrencyNeeded: number;
  markerCache: MarkerCacheFigures;
  replay: ReplayFigures;
  /**
   * Write units per stored event: records and journal entries as replayed, markers at the day's cache figure,
   * the repair's fold of a minute of this traffic above an idle pass.
   */
  writeUnitsPerStored: number;
  /** Read units per stored event: the repair's fold above an idle pass. */
  readUnitsPerStored: number;
  costPerMillion: ReturnType<typeof costPerMillionAtRate>;
  /** What the fixed shape costs per million stored events before counters and markers (`costFloorPerMillion`). */
  floor: ReturnType<typeof costFloorPerMillion> & { recordWriteUnits: number };
  /** The cost per million webhook deliveries, duplicates included: `costPerMillion.total` spread over them. */
  costPerMillionDeliveries: number;
  storage: ReturnType<typeof storagePerMillionLifetime>;
  /** What these figures assume, beside them. */
  assumptions: string[];
}

export interface RealisticFigures {
  workload: Workload;
  stack: StackFacts;
  assumptions: typeof REALISTIC_ASSUMPTIONS & Omit<typeof ASSUMPTIONS, 'fullBatches'>;
  consumerCpu: ConsumerCpuFigures;
  processMs: { at1: number; at10: number; at100: number };
  rates: RateFigures[];
  /** The bench's earlier workload at the default setting's measured batches. */
  small: ReplayFigures[];
  /** The marker cache at 1,000,000 devices, default setting. */
  millionDevices: MarkerCacheFigures[];
  fixed: ReturnType<typeof fixedCostPerMonth> & { assumptions: Record<string, number | string> };
  /** A stored event's item and index entries, and a device marker (bytes). */
  itemBytes: { record: number; indexEntries: number[]; marker: number; message: number };
}

/** What {@link measureRealistic} is given: the receive function's CPU and the log bytes, measured before. */
interface RealisticOptions {
  receiveCpuMicros: number;
  logBytesPerEvent: number;
  logBytesPerBatch: number;
  log: (message: string) => void;
}

/** What every rate's figures share: the stack, the process function's model, the workload's messages. */
interface RealisticRun {
  options: RealisticOptions;
  workload: Workload;
  stack: StackFacts;
  memory: (role: FunctionRole) => number;
  consumerCpu: ConsumerCpuFigures;
  processMs: (n: number) => number;
  bodies: string[];
  messageBytes: number;
  receiveBilledMs: number;
  pollers: number;
  items: StoredItemFacts;
  repairBilledMs: (pass: PassUnits, items?: number) => number;
}

export async function measureRealistic(options: RealisticOptions): Promise<RealisticFigures> {
  const run = await prepareRun(options);
  const batching = await measureAllBatching(run);
  const server = await startDynamoDb();
  const simulate = markerCacheRuns(run);
  const replay = replayRuns(run, server.endpoint);
  const rates: RateFigures[] = [];
  const small: ReplayFigures[] = [];
  const millionDevices: MarkerCacheFigures[] = [];
  try {
    for (const { setting, figures } of batching) {
      const rate = figures.ratePerSecond;
      const containers = containersOf(run, figures);
      const cache = (await simulate(run.workload.devices, containers, figures.meanBatch)).find(
        (m) => m.ratePerSecond === rate,
      ) as MarkerCacheFigures;
      const label = `${setting.name} at ${rate}/s`;
      const replayed = await replay(run.workload, rate, figures.sizes, label, containers);
      rates.push(rateFigures(run, { setting, figures, cache, replayed, containers }));
      if (setting.isDefault) {
        small.push(await replay(SMALL, rate, figures.sizes, label, containers));
        const million = (await simulate(1_000_000, containers, figures.meanBatch)).find(
          (m) => m.ratePerSecond === rate,
        );
        if (million) millionDevices.push(million);
      }
    }
  } finally {
    await server.stop();
  }
  const { workload, stack, consumerCpu, processMs } = run;
  return {
    workload,
    stack,
    assumptions: (({ fullBatches: _, ...rest }) => ({ ...rest, ...REALISTIC_ASSUMPTIONS }))(ASSUMPTIONS),
    consumerCpu,
    processMs: { at1: processMs(1), at10: processMs(10), at100: processMs(100) },
    rates,
    small,
    millionDevices,
    fixed: fixedFigures(run, rates),
    itemBytes: {
      record: itemBytes(run.items.record),
      indexEntries: run.items.entries,
      marker: run.items.markerBytes,
      message: run.messageBytes,
    },
  };
}

/** The stack's facts, the process function's CPU measured and modelled, and the workload's messages. */
async function prepareRun(options: RealisticOptions): Promise<RealisticRun> {
  const { log } = options;
  const workload = REALISTIC;
  const stack = readStackFacts();
  const memory = (role: FunctionRole) => stack.memoryMb[role];
  log('realistic: process function CPU per batch');
  const consumerCpu = await measureConsumerCpu(workload, 100, [1, 10, 100]);
  const processMs = processModel(consumerCpu, memory('Process'));
  const messages = deliveries(workload, { events: 500, seed: 5, fromHour: 12, toHour: 13 });
  const bodies = messages.map((message) => JSON.stringify(message));
  const messageBytes = bodies.reduce((sum, body) => sum + Buffer.byteLength(body), 0) / bodies.length;
  const receiveBilledMs = Math.ceil(
    (options.receiveCpuMicros / 1000) * (ASSUMPTIONS.fullVcpuMb / memory('Receive')) + ASSUMPTIONS.sqsSendMs,
  );
  return {
    options,
    workload,
    stack,
    memory,
    consumerCpu,
    processMs,
    bodies,
    messageBytes,
    receiveBilledMs,
    pollers: Math.min(REALISTIC_ASSUMPTIONS.pollers, stack.eventSource.maxConcurrency),
    items: storedItemFacts(messages),
    repairBilledMs: repairModel(consumerCpu, memory('Repair')),
  };
}

/** The batches the event source forms, at each setting and rate. */
async function measureAllBatching(
  run: RealisticRun,
): Promise<Array<{ setting: Setting; figures: BatchingFigures }>> {
  const batching: Array<{ setting: Setting; figures: BatchingFigures }> = [];
  for (const setting of settings(run.stack)) {
    for (const rate of RATES) {
      run.options.log(`realistic: batches at ${rate}/s, ${setting.name}`);
      batching.push({
        setting,
        figures: await measureBatching({
          setting,
          ratePerSecond: rate,
          seconds: SECONDS[rate] ?? 10,
          bodies: run.bodies,
          handlerMs: run.processMs,
          pollers: run.pollers,
          postMs: REALISTIC_ASSUMPTIONS.apiGatewayMs + run.receiveBilledMs,
        }),
      });
    }
  }
  return batching;
}

/** The containers that run at these batches: each keeps a marker cache of its own. */
const containersOf = (run: RealisticRun, figures: BatchingFigures) =>
  Math.min(run.pollers, Math.max(1, Math.ceil(figures.meanConcurrent - 1e-9)));

/** One simulated day of the marker cache per number of devices and containers, each run once. */
function markerCacheRuns(run: RealisticRun) {
  const { workload } = run;
  const sims = new Map<string, MarkerCacheFigures[]>();
  return async (devices: number, containers: number, meanBatch: number) => {
    const key = `${devices}/${containers}`;
    let figures = sims.get(key);
    if (!figures) {
      run.options.log(
        `realistic: marker cache over a day, ${devices.toLocaleString('en-US')} devices, ${containers} container(s)`,
      );
      figures = await measureMarkerCache({
        workload,
        devices,
        containers,
        meanBatch,
        rates: RATES,
        // A million devices: nearly every event is its device's first of the day in its campaign, at any rate,
        // and the cache's steady state comes once it is full; a shorter day's start shows it.
        ...(devices > workload.devices ? { maxDeliveries: 300_000 } : {}),
      });
      sims.set(key, figures);
    }
    return figures;
  };
}

/** The consumer replayed on a fresh table per workload, rate, containers and batch sizes, each run once. */
function replayRuns(run: RealisticRun, endpoint: string) {
  const replays = new Map<string, ReplayFigures>();
  let tables = 0;
  return async (w: Workload, rate: number, sizes: readonly number[], label: string, containers: number) => {
    const key = `${w.name}/${rate}/${containers}/${sizes.slice(0, 2000).join(',')}`;
    let figures = replays.get(key);
    if (!figures) {
      run.options.log(`realistic: replaying ${label} (${w.name.split(':')[0]})`);
      figures = await replayWorkload({
        endpoint,
        workload: w,
        ratePerSecond: rate,
        sizes,
        deliveries: REPLAYED,
        label,
        table: `replay-${tables++}`,
        seed: 21,
        containers,
      });
      replays.set(key, figures);
    }
    return figures;
  };
}

/** A stored event's item, its index entries, its write units, and a device marker's size. */
interface StoredItemFacts {
  record: ReturnType<typeof toItem>;
  entries: number[];
  recordWriteUnits: number;
  markerBytes: number;
}

function storedItemFacts(messages: ReturnType<typeof deliveries>): StoredItemFacts {
  const sample = messages[0];
  if (sample?.kind !== 'event') throw new Error('the workload made no event');
  const record = toItem(sample, DEPLOYED_LAYOUT);
  const shapes = Object.values(RECORDS_TABLE.indexes).map((index) => ({
    keys: [index.partitionKey, index.sortKey],
    projected: [...PROJECTED_ATTRIBUTES],
  }));
  const tableKeys = [RECORDS_TABLE.partitionKey, RECORDS_TABLE.sortKey];
  // The floor's one write per stored event: the record put, its index entries included.
  const recordPut = writeUnits(undefined, record, shapes, tableKeys);
  return {
    record,
    entries: indexEntryBytes(record, shapes, tableKeys),
    recordWriteUnits: recordPut.table + recordPut.indexes,
    markerBytes: itemBytes(deviceMarkerItem(sample.record, DEPLOYED_LAYOUT) ?? {}),
  };
}

/**
 * The repair function's billed time for a pass: its rounds of calls at the in-region latency (the fold reads and
 * writes up to FOLD_AT_ONCE counter items at once, each a read then a put; the rest one after another), plus the
 * consumer's CPU per SDK call scaled to the repair's memory.
 */
function repairModel(consumerCpu: ConsumerCpuFigures, memoryMb: number) {
  const cpuPerCallMs =
    consumerCpu.perBatch.reduce((sum, p) => sum + p.cpuMs, 0) /
    consumerCpu.perBatch.reduce((sum, p) => sum + p.sdkCalls, 0);
  return (pass: PassUnits, items = 0) => {
    const rounds = pass.calls - 2 * items + 2 * Math.ceil(items / FOLD_AT_ONCE);
    return Math.ceil(
      rounds * ASSUMPTIONS.dynamodbWriteMs + pass.calls * cpuPerCallMs * (ASSUMPTIONS.fullVcpuMb / memoryMb),
    );
  };
}

/** What one setting at one rate measured: its batches, its marker cache, its replay. */
interface RateMeasures {
  setting: Setting;
  figures: BatchingFigures;
  cache: MarkerCacheFigures;
  replayed: ReplayFigures;
  containers: number;
}

/** One setting's figures at one rate: write and read units, cost, whether it keeps up, storage. */
function rateFigures(run: RealisticRun, measures: RateMeasures): RateFigures {
  const { setting, figures, cache, replayed } = measures;
  const { workload, options, processMs, memory } = run;
  const rate = figures.ratePerSecond;
  const unitsPerMarkerWrite = replayed.markers > 0 ? replayed.markerUnits / replayed.markers : 1;
  // The counters: the journal as replayed and the fold's minute (both in `counterUnits`).
  const writeUnitsPerStored =
    replayed.recordUnits + replayed.counterUnits + cache.markerWritesPerStored * unitsPerMarkerWrite;
  const fold = replayed.repair;
  const costPerMillion = costPerMillionAtRate({
    ratePerSecond: rate,
    duplicateShare: workload.duplicateShare,
    receiveCpuMicros: options.receiveCpuMicros,
    writeUnitsPerStored,
    readUnitsPerStored: fold.readUnitsPerStored,
    repairBilledMsPerStored:
      (run.repairBilledMs(fold, fold.listed) - run.repairBilledMs(fold.idle)) / fold.storedPerMinute,
    repairMemoryMb: memory('Repair'),
    batchSizes: figures.sizes,
    processMs,
    messageBytes: run.messageBytes,
    logBytesPerEvent: options.logBytesPerEvent,
    logBytesPerBatch: options.logBytesPerBatch,
    accessLogBytesPerRequest: run.stack.accessLogBytes,
    receiveMemoryMb: memory('Receive'),
    processMemoryMb: memory('Process'),
  });
  const meanHandlerSeconds =
    figures.sizes.reduce((sum, n) => sum + processMs(n), 0) / figures.sizes.length / 1000;
  const capacity = (run.pollers * figures.meanBatch) / meanHandlerSeconds;
  const { sizes: _, ...batchingFigures } = figures;
  const { recordWriteUnits } = run.items;
  return {
    setting: setting.name,
    isDefault: setting.isDefault,
    ratePerSecond: rate,
    batching: batchingFigures,
    keepsUp: capacity > rate,
    concurrencyNeeded: rate / (figures.meanBatch / meanHandlerSeconds),
    markerCache: cache,
    replay: replayed,
    writeUnitsPerStored,
    readUnitsPerStored: fold.readUnitsPerStored,
    costPerMillion,
    floor: { ...costFloorPerMillion(costPerMillion, recordWriteUnits), recordWriteUnits },
    costPerMillionDeliveries: (costPerMillion.total * 1_000_000) / costPerMillion.deliveriesPerMillionStored,
    assumptions: rateAssumptions(run, measures, capacity),
    storage: storagePerMillionLifetime({
      recordBytes: itemBytes(run.items.record),
      indexEntryBytes: run.items.entries,
      markersPerStored: cache.markersStoredPerStored,
      markerBytes: run.items.markerBytes,
      retentionDays: DEPLOYED_LAYOUT.retentionDays,
    }),
  };
}

/** What one rate's figures assume, in words, beside them. */
function rateAssumptions(run: RealisticRun, measures: RateMeasures, capacity: number): string[] {
  const { figures, cache, replayed, containers } = measures;
  const { workload, processMs, memory, pollers, receiveBilledMs } = run;
  const rate = figures.ratePerSecond;
  const fold = replayed.repair;
  const { recordWriteUnits } = run.items;
  return [
    `${rate} deliveries/s (${Math.round(rate * (1 - workload.duplicateShare))} distinct events/s); batches: ${figures.poller}; ${pollers} pollers; Poisson arrivals for ${figures.seconds} s`,
    `the process function takes ${fixedMs(processMs(1))} / ${fixedMs(processMs(10))} / ${fixedMs(processMs(100))} ms for a batch of 1 / 10 / 100 (its CPU measured at one vCPU × ${(ASSUMPTIONS.fullVcpuMb / memory('Process')).toFixed(2)} for ${memory('Process')} MB, plus its rounds of DynamoDB calls at ${REALISTIC_ASSUMPTIONS.dynamodbCallMs} ms)`,
    `POST → stored: send → batch stored, measured, plus ${REALISTIC_ASSUMPTIONS.apiGatewayMs + receiveBilledMs} ms of API Gateway and the receive function`,
    `write units: records and the batches' journal entries (an open and a close per batch, ${replayed.journalUnits.toFixed(3)} units per stored event) as the consumer wrote them replaying ${REPLAYED} deliveries at these batches; a container's registrations (each campaign-day and event type listed on its counter item by the container's first batch of it: ${replayed.register.requests} updates, ${replayed.register.units} units at the items' mid-day size) paid again by each of ${containers} container(s) ${CONTAINER_STARTS_PER_DAY} times a day (a container replaced every 30 minutes), over a day's stored events: ${replayed.registerUnitsPerStored.toFixed(4)} units per stored event; marker writes ${cache.markerWritesPerStored.toFixed(3)} per stored event from the marker cache over the day (${cache.method}; ${containers} container(s), each with its own cache, from the invocations running at once)`,
    `the repair's fold, once a minute: one pass over a minute of these batches (${fold.journalEntries} journal entries read: ${Math.round(fold.batchesPerMinute)} batches a minute and the 20 s before), ${fold.folded} batches folded, ${fold.listed} counter item writes, each item whole at its mid-day size (${fold.counterItemUnits} units; the replay touched ${fold.replayTouched} of the workload's ${fold.campaignDays} campaign-days, a minute at this rate ${fold.expectedTouchedPerMinute.toFixed(1)} on average), the devices counted on a new day, their days written ${fold.deviceReachUnits} units, the provider-day items ${fold.providerDayUnits} units, the signal notices ${fold.noticeUnits} units, the fold state written ${fold.foldStateUnits} units (largest ${(fold.foldStateBytes / 1024).toFixed(1)} KB), ${fold.readUnits} read units (consistent: the state, the journal, each counter item; the earlier protocol's list, eventually consistent); the pass's units above an idle pass's (${fold.idle.writeUnits} write, ${fold.idle.readUnits} read units, in the fixed costs) over the ${Math.round(fold.storedPerMinute)} events stored a minute: ${fold.writeUnitsPerStored.toFixed(4)} write and ${fold.readUnitsPerStored.toFixed(4)} read units per stored event`,
    `cost: per million stored events, ${(1 / (1 - workload.duplicateShare)).toFixed(2)} deliveries each; SQS a receive and a delete per 10 messages of each batch; the repair's fold (its writes, reads and function time above an idle pass) per stored event; fixed costs and storage apart`,
    `floor: API Gateway, the receive function, SQS's send, receives and deletes, access logs, as in the cost, and one record write per stored event (${recordWriteUnits} unit${recordWriteUnits === 1 ? '' : 's'}, the record's put with its index entries), nothing else`,
    capacity > rate
      ? `keeps up: ${pollers} invocations at once handle about ${Math.round(capacity)} events/s at these batches`
      : `falls behind: ${pollers} invocations at once handle about ${Math.round(capacity)} events/s at full batches; the queue grows and the latency with it`,
  ];
}

/**
 * The fixed costs a month. The repair: once a minute, whatever the traffic, an idle pass (the state read, the
 * journal's and the earlier protocol's list's empty queries, the state written as the watermark moves on);
 * folding traffic costs more, paid per stored event in each rate's figures.
 */
function fixedFigures(run: RealisticRun, rates: RateFigures[]): RealisticFigures['fixed'] {
  const { stack, pollers } = run;
  const idle = rates.find((r) => r.isDefault)?.replay.repair.idle;
  if (!idle) throw new Error('no idle repair pass was measured');
  const fixedInput = {
    secrets: stack.secrets,
    secretReadsPerMonth:
      REALISTIC_ASSUMPTIONS.receiveContainers *
      (60 / REALISTIC_ASSUMPTIONS.secretTtlMinutes) *
      HOURS_PER_MONTH,
    customMetrics: REALISTIC_ASSUMPTIONS.customMetrics,
    alarmMetrics: stack.alarmMetrics,
    dashboards: stack.dashboards,
    kmsKeys: stack.kmsKeys,
    repairRunsPerMonth: stack.scheduledRunsPerMonth,
    repairMemoryMb: run.memory('Repair'),
    repairBilledMs: run.repairBilledMs(idle),
    repairWriteUnitsPerRun: idle.writeUnits,
    repairReadUnitsPerRun: idle.readUnits,
    emptyPollsPerMonth: pollers * (3600 / REALISTIC_ASSUMPTIONS.idleLongPollSeconds) * HOURS_PER_MONTH,
  };
  return {
    ...fixedCostPerMonth(fixedInput),
    assumptions: {
      ...fixedInput,
      repair: `every minute an idle pass, measured: the fold state read and the journal queried (consistent), the earlier protocol's list queried (eventually consistent), ${idle.readUnits} read units; the state written as the watermark moves on, ${idle.writeUnits} write unit(s); ${idle.calls} calls one after another. A pass folding traffic (counter items written whole, the state written ahead) is paid per stored event at its rate, not here`,
      emptyLongPolls: `${pollers} idle pollers, one 20 s long poll each at a time: the floor when no traffic comes, and less as traffic fills the polls`,
    },
  };
}
