// Cost per million events from list prices (bench/prices.json) and the figures measured in the same run.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sori } from '../lib/providers/sori';
import { buildQueueMessage } from '../lib/receive/build-queue-message';
import { itemBytes } from '../lib/table/item-size';
import { deviceMarkerItem, toItem } from '../lib/table/records-table';

const PRICES = JSON.parse(readFileSync(join(import.meta.dirname, 'prices.json'), 'utf8')) as Record<
  string,
  number | string
>;
const price = (name: string) => Number(PRICES[name]);

/** Assumptions the run cannot measure here (no AWS): in-region request latencies and per-item overhead. */
export const ASSUMPTIONS = {
  sqsSendMs: 8,
  dynamodbWriteMs: 6,
  /** A Lambda gets one vCPU at 1,769 MB; CPU-bound time scales with memory below that. */
  fullVcpuMb: 1769,
  /** The functions' memory when the caller gives none (the bench passes the synthesized template's). */
  receiveMemoryMb: 256,
  processMemoryMb: 256,
  /** DynamoDB's per-item storage overhead. */
  itemOverheadBytes: 100,
  /** Batches are full: at low rates they are smaller and cost more per event, but little in all. */
  fullBatches: true,
};

export interface CostInput {
  /** Receive CPU per event, µs, with the deployed settings (the SDK call included). */
  receiveCpuMicros: number;
  /** Write units per stored event at `batchSize`, markers and counters included (measured). */
  writeUnitsPerStored: number;
  /** Device markers per stored event (measured), for storage. */
  markersPerStored: number;
  /** The stack's default batch size. */
  batchSize: number;
  /** Log bytes per event and per consumer batch the functions write with the deployed settings (measured). */
  logBytesPerEvent: number;
  logBytesPerBatch: number;
  /** The functions' memory, MB, as the stack deploys them (ASSUMPTIONS' when not given). */
  receiveMemoryMb?: number;
  processMemoryMb?: number;
}

/**
 * Cost of a million SORI impressions with the stack's default settings: per-event costs (requests, compute,
 * writes, logs) and, apart, storage per month for a million events kept (table and point-in-time recovery).
 */
export function costPerMillion(input: CostInput) {
  const raw = JSON.stringify(
    JSON.parse(readFileSync(join(import.meta.dirname, '../examples/payloads/sori/impression.json'), 'utf8')),
  );
  const message = buildQueueMessage(sori, Buffer.from(raw), new Date().toISOString());
  const recordBytes = itemBytes(toItem(message));
  const markerBytes =
    message.kind === 'event'
      ? itemBytes(deviceMarkerItem(message.record, { shards: 1, retentionDays: 365 }) ?? {})
      : 0;
  const a = {
    ...ASSUMPTIONS,
    receiveMemoryMb: input.receiveMemoryMb ?? ASSUMPTIONS.receiveMemoryMb,
    processMemoryMb: input.processMemoryMb ?? ASSUMPTIONS.processMemoryMb,
  };
  const million = 1_000_000;

  const receiveMs = Math.ceil(
    (input.receiveCpuMicros / 1000) * (a.fullVcpuMb / a.receiveMemoryMb) + a.sqsSendMs,
  );
  const processInvocations = million / input.batchSize;
  // Per batch: the journal entry opened, the records, their markers, the entry closed: four rounds of writes
  // one after another.
  const processMs = 4 * a.dynamodbWriteMs + 2;
  const gbSeconds = (ms: number, mb: number, n: number) => (ms / 1000) * (mb / 1024) * n;

  const ours = {
    apiGateway: price('apiGatewayHttpPerMillionRequests'),
    lambdaReceive:
      price('lambdaPerMillionRequests') +
      gbSeconds(receiveMs, a.receiveMemoryMb, million) * price('lambdaArmPerGbSecond'),
    // One send per event; one receive and one batch delete per batch.
    sqs: (1 + 2 / input.batchSize) * price('sqsStandardPerMillionRequests'),
    lambdaProcess:
      (processInvocations / million) * price('lambdaPerMillionRequests') +
      gbSeconds(processMs, a.processMemoryMb, processInvocations) * price('lambdaArmPerGbSecond'),
    dynamodbWrites: input.writeUnitsPerStored * price('dynamodbOnDemandPerMillionWriteUnits'),
    cloudwatchLogs:
      ((million * input.logBytesPerEvent + processInvocations * input.logBytesPerBatch) / 1024 ** 3) *
      price('cloudwatchLogsIngestPerGb'),
  };
  const storedGb =
    (million *
      (recordBytes + a.itemOverheadBytes + input.markersPerStored * (markerBytes + a.itemOverheadBytes))) /
    1024 ** 3;
  const storagePerMonth = storedGb * (price('dynamodbStoragePerGbMonth') + price('dynamodbPitrPerGbMonth'));
  // The floor: one API request, a 1 ms receive, one SQS send, one conditional write of a 1 KB item, nothing else.
  const floor = {
    apiGateway: price('apiGatewayHttpPerMillionRequests'),
    lambdaReceive:
      price('lambdaPerMillionRequests') +
      gbSeconds(1 + a.sqsSendMs, 128, million) * price('lambdaArmPerGbSecond'),
    sqs: price('sqsStandardPerMillionRequests'),
    lambdaProcess: (processInvocations / million) * price('lambdaPerMillionRequests'),
    dynamodbWrites: price('dynamodbOnDemandPerMillionWriteUnits'),
    cloudwatchLogs: 0,
  };
  const total = (parts: Record<string, number>) =>
    Object.values(parts).reduce((sum, value) => sum + value, 0);
  return {
    prices: { date: PRICES.date, region: PRICES.region },
    assumptions: a,
    measured: { ...input, recordBytes, markerBytes, receiveBilledMs: receiveMs },
    ours: { ...ours, total: total(ours) },
    floor: { ...floor, total: total(floor) },
    ratio: total(ours) / total(floor),
    storagePerMillionPerMonth: storagePerMonth,
  };
}

/** Hours AWS prices a month at. */
export const HOURS_PER_MONTH = 730;
/** SQS bills a request per started 64 KB of its payload. */
const SQS_CHUNK_BYTES = 64 * 1024;
/** At most 10 messages a ReceiveMessage returns, and at most 10 entries a DeleteMessageBatch takes. */
const SQS_BATCH_LIMIT = 10;

/** What one rate's cost per million stored events is computed from: measured figures and the stack's settings. */
export interface RateCostInput {
  ratePerSecond: number;
  /** Share of deliveries that are second deliveries: each stored event arrives 1 / (1 - share) times. */
  duplicateShare: number;
  /** Receive CPU per delivery, µs at one full vCPU (measured). */
  receiveCpuMicros: number;
  /**
   * DynamoDB write units per stored event (measured): records, markers, the batches' journal entries, and the
   * repair's fold of a minute of traffic at this rate above an idle pass (an idle pass is a fixed cost).
   */
  writeUnitsPerStored: number;
  /** DynamoDB read units per stored event (measured): the repair's fold above an idle pass. */
  readUnitsPerStored?: number;
  /** The repair function's billed ms per stored event above its idle pass, and its memory. */
  repairBilledMsPerStored?: number;
  repairMemoryMb?: number;
  /** Deliveries per process invocation, batch by batch (measured). */
  batchSizes: readonly number[];
  /** Billed duration of a batch of `n` deliveries, ms (the process function's model). */
  processMs: (n: number) => number;
  /** An SQS message's body, bytes. */
  messageBytes: number;
  /** Function log bytes per delivery (receive) and per batch (process), measured. */
  logBytesPerEvent: number;
  logBytesPerBatch: number;
  /** API Gateway access log bytes per request (the stage's format, filled). */
  accessLogBytesPerRequest: number;
  receiveMemoryMb: number;
  processMemoryMb: number;
}

/** Cost per million stored events at one rate, by part (USD); fixed monthly costs are apart. */
export function costPerMillionAtRate(input: RateCostInput) {
  const million = 1_000_000;
  const deliveries = million / (1 - input.duplicateShare);
  const a = ASSUMPTIONS;
  const sizes = input.batchSizes.length > 0 ? input.batchSizes : [1];
  const perBatch = sizes.reduce((sum, n) => sum + n, 0) / sizes.length;
  const batches = deliveries / perBatch;
  // Per measured batch: receives and deletes, each a request per 10 messages and per started 64 KB.
  const requestsOf = (n: number) =>
    Math.max(Math.ceil(n / SQS_BATCH_LIMIT), Math.ceil((n * input.messageBytes) / SQS_CHUNK_BYTES));
  const sqsPerBatch = sizes.reduce((sum, n) => sum + 2 * requestsOf(n), 0) / sizes.length;
  const sendsPerDelivery = Math.ceil(input.messageBytes / SQS_CHUNK_BYTES);
  const billedMsPerBatch = sizes.reduce((sum, n) => sum + Math.ceil(input.processMs(n)), 0) / sizes.length;
  const receiveMs = Math.ceil(
    (input.receiveCpuMicros / 1000) * (a.fullVcpuMb / input.receiveMemoryMb) + a.sqsSendMs,
  );
  const gbSeconds = (ms: number, mb: number, n: number) => (ms / 1000) * (mb / 1024) * n;
  const parts = {
    apiGateway: (deliveries / million) * price('apiGatewayHttpPerMillionRequests'),
    lambdaReceive:
      (deliveries / million) * price('lambdaPerMillionRequests') +
      gbSeconds(receiveMs, input.receiveMemoryMb, deliveries) * price('lambdaArmPerGbSecond'),
    sqs:
      ((deliveries * sendsPerDelivery + batches * sqsPerBatch) / million) *
      price('sqsStandardPerMillionRequests'),
    lambdaProcess:
      (batches / million) * price('lambdaPerMillionRequests') +
      gbSeconds(billedMsPerBatch, input.processMemoryMb, batches) * price('lambdaArmPerGbSecond'),
    dynamodbWrites: input.writeUnitsPerStored * price('dynamodbOnDemandPerMillionWriteUnits'),
    dynamodbReads: (input.readUnitsPerStored ?? 0) * price('dynamodbOnDemandPerMillionReadUnits'),
    repairFunction:
      gbSeconds(input.repairBilledMsPerStored ?? 0, input.repairMemoryMb ?? 0, million) *
      price('lambdaArmPerGbSecond'),
    functionLogs:
      ((deliveries * input.logBytesPerEvent + batches * input.logBytesPerBatch) / 1024 ** 3) *
      price('cloudwatchLogsIngestPerGb'),
    apiAccessLogs:
      ((deliveries * input.accessLogBytesPerRequest) / 1024 ** 3) * price('cloudwatchLogsIngestPerGb'),
  };
  return {
    ratePerSecond: input.ratePerSecond,
    deliveriesPerMillionStored: deliveries,
    meanBatch: perBatch,
    invocationsPerMillionStored: batches,
    sqsRequestsPerBatch: sqsPerBatch,
    processBilledMsPerBatch: billedMsPerBatch,
    receiveBilledMs: receiveMs,
    parts,
    total: Object.values(parts).reduce((sum, value) => sum + value, 0),
  };
}

/**
 * The cost floor per million stored events at one rate: what the fixed shape pays before counters and markers
 * (API Gateway, the receive function, SQS's send, receives and deletes, access logs) from the same parts as
 * `costPerMillionAtRate`, plus one record write per stored event, nothing else.
 */
export function costFloorPerMillion(cost: ReturnType<typeof costPerMillionAtRate>, recordWriteUnits: number) {
  const { apiGateway, lambdaReceive, sqs, apiAccessLogs } = cost.parts;
  const parts = {
    apiGateway,
    lambdaReceive,
    sqs,
    apiAccessLogs,
    recordWrites: recordWriteUnits * price('dynamodbOnDemandPerMillionWriteUnits'),
  };
  return { parts, total: Object.values(parts).reduce((sum, value) => sum + value, 0) };
}

/** What the stack runs whatever the traffic: counted from the synthesized template and the measured repair. */
export interface FixedCostInput {
  secrets: number;
  /** GetSecretValue calls a month (one warm receive container refreshing every `secretTtlMinutes`). */
  secretReadsPerMonth: number;
  customMetrics: number;
  /** Metrics the alarms watch (a metric-math alarm pays for each metric it reads). */
  alarmMetrics: number;
  dashboards: number;
  kmsKeys: number;
  /**
   * Scheduled repair runs a month, and what an idle one costs (nothing to fold): billed ms, write and read units.
   * Folding traffic costs more, paid per stored event (`costPerMillionAtRate`).
   */
  repairRunsPerMonth: number;
  repairMemoryMb: number;
  repairBilledMs: number;
  repairWriteUnitsPerRun: number;
  repairReadUnitsPerRun: number;
  /** Idle long polls of the event source's pollers a month (each waits 20 s and comes back empty). */
  emptyPollsPerMonth: number;
}

/** Fixed costs per month, by part (USD). */
export function fixedCostPerMonth(input: FixedCostInput) {
  const parts = {
    secret:
      input.secrets * price('secretsManagerPerSecretMonth') +
      (input.secretReadsPerMonth / 10_000) * price('secretsManagerPer10kApiCalls'),
    customMetrics: input.customMetrics * price('cloudwatchMetricPerMonth'),
    alarms: input.alarmMetrics * price('cloudwatchAlarmMetricPerMonth'),
    dashboard: input.dashboards * price('cloudwatchDashboardPerMonth'),
    kmsKeys: input.kmsKeys * price('kmsKeyPerMonth'),
    repairFunction:
      (input.repairRunsPerMonth / 1_000_000) * price('lambdaPerMillionRequests') +
      (input.repairBilledMs / 1000) *
        (input.repairMemoryMb / 1024) *
        input.repairRunsPerMonth *
        price('lambdaArmPerGbSecond'),
    repairTableWrites:
      ((input.repairRunsPerMonth * input.repairWriteUnitsPerRun) / 1_000_000) *
      price('dynamodbOnDemandPerMillionWriteUnits'),
    repairTableReads:
      ((input.repairRunsPerMonth * input.repairReadUnitsPerRun) / 1_000_000) *
      price('dynamodbOnDemandPerMillionReadUnits'),
    emptyLongPolls: (input.emptyPollsPerMonth / 1_000_000) * price('sqsStandardPerMillionRequests'),
  };
  return { parts, total: Object.values(parts).reduce((sum, value) => sum + value, 0) };
}

/** What a million stored events keep in the table for their life. */
export interface StorageInput {
  /** An event record's item, bytes (DynamoDB's 100 bytes of item overhead apart). */
  recordBytes: number;
  /** Its entries in each index, overhead included. */
  indexEntryBytes: readonly number[];
  /** Device markers left per stored event (one per device, campaign and day), and a marker's bytes. */
  markersPerStored: number;
  markerBytes: number;
  /** Days records and markers are kept (TTL); `null` for ever (then a year is counted). */
  retentionDays: number | null;
}

/**
 * Storage of a million stored events over their life (USD): table storage and point-in-time recovery on the
 * table's items (PITR is billed on the table's size, indexes apart), index storage on the entries, for as many
 * months as the retention keeps them.
 */
export function storagePerMillionLifetime(input: StorageInput) {
  const million = 1_000_000;
  const overhead = ASSUMPTIONS.itemOverheadBytes;
  const tableBytes =
    million * (input.recordBytes + overhead + input.markersPerStored * (input.markerBytes + overhead));
  const indexBytes = million * input.indexEntryBytes.reduce((sum, bytes) => sum + bytes, 0);
  const months = (input.retentionDays ?? 365) / (365.25 / 12);
  const gb = (bytes: number) => bytes / 1024 ** 3;
  const perMonth =
    gb(tableBytes) * (price('dynamodbStoragePerGbMonth') + price('dynamodbPitrPerGbMonth')) +
    gb(indexBytes) * price('dynamodbStoragePerGbMonth');
  return {
    tableGb: gb(tableBytes),
    indexGb: gb(indexBytes),
    months,
    perMonth,
    lifetime: perMonth * months,
  };
}
