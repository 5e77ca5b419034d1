import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  costPerMillionAtRate,
  fixedCostPerMonth,
  type RateCostInput,
  storagePerMillionLifetime,
} from '../../bench/cost';

const PRICES = JSON.parse(
  readFileSync(join(import.meta.dirname, '../../bench/prices.json'), 'utf8'),
) as Record<string, number>;
const price = (name: string) => PRICES[name] as number;

const input = (overrides: Partial<RateCostInput> = {}): RateCostInput => ({
  ratePerSecond: 10,
  duplicateShare: 0,
  receiveCpuMicros: 0,
  writeUnitsPerStored: 2,
  batchSizes: [10],
  processMs: () => 100,
  messageBytes: 1000,
  logBytesPerEvent: 0,
  logBytesPerBatch: 0,
  accessLogBytesPerRequest: 0,
  receiveMemoryMb: 256,
  processMemoryMb: 256,
  ...overrides,
});

describe('bench cost per million stored events', () => {
  it('pays every delivery of an event: 30 % duplicate deliveries are 1 / 0.7 requests per stored event', () => {
    const cost = costPerMillionAtRate(input({ duplicateShare: 0.3 }));
    expect(cost.deliveriesPerMillionStored).toBeCloseTo(1_000_000 / 0.7, 3);
    expect(cost.parts.apiGateway).toBeCloseTo(price('apiGatewayHttpPerMillionRequests') / 0.7, 9);
    // One send per delivery; per batch of 10, one receive and one delete.
    expect(cost.parts.sqs).toBeCloseTo(((1 + 2 / 10) / 0.7) * price('sqsStandardPerMillionRequests'), 9);
    expect(cost.invocationsPerMillionStored).toBeCloseTo(1_000_000 / 0.7 / 10, 3);
  });

  it('prices the batch sizes measured, not full batches: a batch of 1 costs a receive, a delete and an invocation', () => {
    const ones = costPerMillionAtRate(input({ batchSizes: [1] }));
    expect(ones.parts.sqs).toBeCloseTo(3 * price('sqsStandardPerMillionRequests'), 9);
    expect(ones.invocationsPerMillionStored).toBe(1_000_000);
    const mixed = costPerMillionAtRate(input({ batchSizes: [1, 3] }));
    expect(mixed.meanBatch).toBe(2);
    expect(mixed.invocationsPerMillionStored).toBe(500_000);
  });

  it('counts a receive and a delete per 10 messages of a batch, and per started 64 KB of its bodies', () => {
    expect(costPerMillionAtRate(input({ batchSizes: [25] })).sqsRequestsPerBatch).toBe(6);
    // 10 bodies of 10,000 bytes are 100,000 bytes: two 64 KB requests each way.
    expect(costPerMillionAtRate(input({ batchSizes: [10], messageBytes: 10_000 })).sqsRequestsPerBatch).toBe(
      4,
    );
  });

  it('bills the process function by the batch: invocations and GB-seconds of each batch billed whole milliseconds', () => {
    const cost = costPerMillionAtRate(input({ batchSizes: [10], processMs: () => 99.2 }));
    const batches = 100_000;
    const gbSeconds = batches * (100 / 1000) * (256 / 1024);
    expect(cost.parts.lambdaProcess).toBeCloseTo(
      (batches / 1_000_000) * price('lambdaPerMillionRequests') + gbSeconds * price('lambdaArmPerGbSecond'),
      9,
    );
  });

  it('prices write units per stored event and access log bytes per delivery', () => {
    const cost = costPerMillionAtRate(input({ writeUnitsPerStored: 2.5, accessLogBytesPerRequest: 220 }));
    expect(cost.parts.dynamodbWrites).toBeCloseTo(2.5 * price('dynamodbOnDemandPerMillionWriteUnits'), 9);
    expect(cost.parts.apiAccessLogs).toBeCloseTo(
      ((1_000_000 * 220) / 1024 ** 3) * price('cloudwatchLogsIngestPerGb'),
      9,
    );
    expect(cost.total).toBeCloseTo(
      Object.values(cost.parts).reduce((sum, part) => sum + part, 0),
      9,
    );
  });
});

describe('bench fixed costs and storage', () => {
  it('adds up the fixed monthly parts from their counts', () => {
    const fixed = fixedCostPerMonth({
      secrets: 1,
      secretReadsPerMonth: 10_000,
      customMetrics: 7,
      alarmMetrics: 11,
      dashboards: 1,
      kmsKeys: 0,
      repairRunsPerMonth: 1_000_000,
      repairMemoryMb: 1024,
      repairBilledMs: 1000,
      repairWriteUnitsPerRun: 2,
      repairReadUnitsPerRun: 4,
      emptyPollsPerMonth: 1_000_000,
    });
    expect(fixed.parts.secret).toBeCloseTo(
      price('secretsManagerPerSecretMonth') + price('secretsManagerPer10kApiCalls'),
      9,
    );
    expect(fixed.parts.customMetrics).toBeCloseTo(7 * price('cloudwatchMetricPerMonth'), 9);
    expect(fixed.parts.alarms).toBeCloseTo(11 * price('cloudwatchAlarmMetricPerMonth'), 9);
    expect(fixed.parts.dashboard).toBeCloseTo(price('cloudwatchDashboardPerMonth'), 9);
    expect(fixed.parts.repairFunction).toBeCloseTo(
      price('lambdaPerMillionRequests') + 1_000_000 * price('lambdaArmPerGbSecond'),
      9,
    );
    expect(fixed.parts.repairTableWrites).toBeCloseTo(2 * price('dynamodbOnDemandPerMillionWriteUnits'), 9);
    expect(fixed.parts.repairTableReads).toBeCloseTo(4 * price('dynamodbOnDemandPerMillionReadUnits'), 9);
    expect(fixed.parts.emptyLongPolls).toBeCloseTo(price('sqsStandardPerMillionRequests'), 9);
  });

  it('keeps a million events for the retention: table and PITR on items, storage alone on index entries', () => {
    const storage = storagePerMillionLifetime({
      recordBytes: 924,
      indexEntryBytes: [1024],
      markersPerStored: 0.5,
      markerBytes: 100,
      retentionDays: 365.25,
    });
    const gib = 1024 ** 3;
    expect(storage.months).toBeCloseTo(12, 9);
    expect(storage.tableGb).toBeCloseTo((1_000_000 * (1024 + 0.5 * 200)) / gib, 9);
    expect(storage.indexGb).toBeCloseTo((1_000_000 * 1024) / gib, 9);
    expect(storage.lifetime).toBeCloseTo(
      12 *
        (storage.tableGb * (price('dynamodbStoragePerGbMonth') + price('dynamodbPitrPerGbMonth')) +
          storage.indexGb * price('dynamodbStoragePerGbMonth')),
      9,
    );
  });
});
