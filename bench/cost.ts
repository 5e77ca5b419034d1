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
}

/**
 * Cost of a million SORI impressions with the stack's default settings: per-event costs (requests, compute,
 * writes, logs) and, apart, storage per month for a million events kept (table and point-in-time recovery).
 */
export function costPerMillion(input: CostInput) {
  const raw = JSON.stringify(
    JSON.parse(readFileSync(join(import.meta.dirname, '../test/fixtures/sori/impression.json'), 'utf8')),
  );
  const message = buildQueueMessage(sori, Buffer.from(raw), new Date().toISOString());
  const recordBytes = itemBytes(toItem(message));
  const markerBytes =
    message.kind === 'event'
      ? itemBytes(deviceMarkerItem(message.record, { shards: 1, retentionDays: 365 }) ?? {})
      : 0;
  const a = ASSUMPTIONS;
  const million = 1_000_000;

  const receiveMs = Math.ceil(
    (input.receiveCpuMicros / 1000) * (a.fullVcpuMb / a.receiveMemoryMb) + a.sqsSendMs,
  );
  const processInvocations = million / input.batchSize;
  // Per batch: claim, puts and markers, increment: three rounds of writes one after another.
  const processMs = 3 * a.dynamodbWriteMs + 2;
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
