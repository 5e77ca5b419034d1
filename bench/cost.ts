// Cost per million events from list prices (bench/prices.json) and the figures measured in the same run.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sori } from '../lib/providers/sori';
import { buildQueueMessage } from '../lib/receive/build-queue-message';
import { PROJECTED_ATTRIBUTES, toItem } from '../lib/table/records-table';

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
  /** Lambda's START/END/REPORT lines per invocation. */
  platformLogBytes: 350,
  /** One structured log line per invocation (receive: accepted; process: batch processed). */
  logLineBytes: 420,
};

export interface CostInput {
  receiveCpuMicros: number;
  writesPerStored: number;
  markersPerStored: number;
  batchSize: number;
}

function itemBytes(item: Record<string, { S?: string; N?: string }>, names?: string[]) {
  return Object.entries(item)
    .filter(([name]) => !names || names.includes(name))
    .reduce((sum, [name, value]) => sum + name.length + Buffer.byteLength(value.S ?? value.N ?? ''), 0);
}

export function costPerMillion(input: CostInput) {
  const raw = JSON.stringify(
    JSON.parse(readFileSync(join(import.meta.dirname, '../test/fixtures/sori/impression.json'), 'utf8')),
  );
  const item = toItem(buildQueueMessage(sori, Buffer.from(raw), new Date().toISOString()));
  const recordBytes = itemBytes(item);
  const indexBytes = itemBytes(item, [...PROJECTED_ATTRIBUTES, 'pk', 'sk', 'gsi1pk', 'gsi1sk']);
  const indexes = ['gsi1pk', 'gsi2pk', 'gsi3pk'].filter((key) => key in item).length;
  const a = ASSUMPTIONS;
  const million = 1_000_000;

  const receiveMs = Math.ceil(
    (input.receiveCpuMicros / 1000) * (a.fullVcpuMb / a.receiveMemoryMb) + a.sqsSendMs,
  );
  const processInvocations = million / input.batchSize;
  // Per batch: claim, puts, markers, increment: four rounds of writes one after another.
  const processMs = 4 * a.dynamodbWriteMs + 2;
  const gbSeconds = (ms: number, mb: number, n: number) => (ms / 1000) * (mb / 1024) * n;

  const writeUnitsPerEvent =
    Math.ceil(recordBytes / 1024) + indexes + input.markersPerStored + (input.writesPerStored - 1) * 2;
  const ours = {
    apiGateway: price('apiGatewayHttpPerMillionRequests'),
    lambdaReceive:
      price('lambdaPerMillionRequests') +
      gbSeconds(receiveMs, a.receiveMemoryMb, million) * price('lambdaArmPerGbSecond'),
    lambdaProcess:
      (processInvocations / million) * price('lambdaPerMillionRequests') +
      gbSeconds(processMs, a.processMemoryMb, processInvocations) * price('lambdaArmPerGbSecond'),
    sqs: (1 + 2 / input.batchSize) * price('sqsStandardPerMillionRequests'),
    dynamodbWrites: writeUnitsPerEvent * price('dynamodbOnDemandPerMillionWriteUnits'),
    dynamodbStoragePerMonth:
      (((recordBytes + a.itemOverheadBytes + indexes * (indexBytes + a.itemOverheadBytes)) * million) /
        1024 ** 3) *
      price('dynamodbStoragePerGbMonth'),
    cloudwatchLogs:
      ((million * (a.logLineBytes + a.platformLogBytes) +
        processInvocations * (a.logLineBytes + a.platformLogBytes)) /
        1024 ** 3) *
      price('cloudwatchLogsIngestPerGb'),
  };
  // The floor: one API request, a 1 ms receive, one SQS send, one conditional write of a 1 KB item, nothing else.
  const floor = {
    apiGateway: price('apiGatewayHttpPerMillionRequests'),
    lambdaReceive:
      price('lambdaPerMillionRequests') +
      gbSeconds(1 + a.sqsSendMs, 128, million) * price('lambdaArmPerGbSecond'),
    lambdaProcess: (processInvocations / million) * price('lambdaPerMillionRequests'),
    sqs: price('sqsStandardPerMillionRequests'),
    dynamodbWrites: price('dynamodbOnDemandPerMillionWriteUnits'),
    dynamodbStoragePerMonth:
      (((1024 + a.itemOverheadBytes) * million) / 1024 ** 3) * price('dynamodbStoragePerGbMonth'),
    cloudwatchLogs: 0,
  };
  const total = (parts: Record<string, number>) =>
    Object.values(parts).reduce((sum, value) => sum + value, 0);
  return {
    prices: { date: PRICES.date, region: PRICES.region },
    assumptions: a,
    measured: { ...input, recordBytes, indexBytes, indexes, receiveBilledMs: receiveMs, writeUnitsPerEvent },
    ours: { ...ours, total: total(ours) },
    floor: { ...floor, total: total(floor) },
    ratio: total(ours) / total(floor),
  };
}
