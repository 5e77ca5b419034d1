import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { costFloorPerMillion, costPerMillionAtRate, type RateCostInput } from '../../bench/cost';

const PRICES = JSON.parse(
  readFileSync(join(import.meta.dirname, '../../bench/prices.json'), 'utf8'),
) as Record<string, number>;
const price = (name: string) => PRICES[name] as number;

const input = (overrides: Partial<RateCostInput> = {}): RateCostInput => ({
  ratePerSecond: 10,
  duplicateShare: 0.3,
  receiveCpuMicros: 50,
  writeUnitsPerStored: 2,
  batchSizes: [10],
  processMs: () => 100,
  messageBytes: 1000,
  logBytesPerEvent: 300,
  logBytesPerBatch: 500,
  accessLogBytesPerRequest: 220,
  receiveMemoryMb: 256,
  processMemoryMb: 512,
  ...overrides,
});

describe('bench cost of the repair fold and the cost floor', () => {
  it("prices the fold's reads at the on-demand read price and its function time by GB-second, per stored event", () => {
    const cost = costPerMillionAtRate(
      input({ readUnitsPerStored: 0.1, repairBilledMsPerStored: 0.5, repairMemoryMb: 256 }),
    );
    expect(cost.parts.dynamodbReads).toBeCloseTo(0.1 * price('dynamodbOnDemandPerMillionReadUnits'), 9);
    expect(cost.parts.repairFunction).toBeCloseTo(
      1_000_000 * (0.5 / 1000) * (256 / 1024) * price('lambdaArmPerGbSecond'),
      9,
    );
    const without = costPerMillionAtRate(input());
    expect(cost.total - without.total).toBeCloseTo(cost.parts.dynamodbReads + cost.parts.repairFunction, 9);
  });

  it('floors the cost at API Gateway, the receive function, SQS, access logs and one record write, nothing else', () => {
    const cost = costPerMillionAtRate(input());
    const floor = costFloorPerMillion(cost, 1);
    expect(Object.keys(floor.parts).sort()).toEqual([
      'apiAccessLogs',
      'apiGateway',
      'lambdaReceive',
      'recordWrites',
      'sqs',
    ]);
    expect(floor.total).toBeCloseTo(
      cost.parts.apiGateway +
        cost.parts.lambdaReceive +
        cost.parts.sqs +
        cost.parts.apiAccessLogs +
        price('dynamodbOnDemandPerMillionWriteUnits'),
      9,
    );
    // The process function, the counters and markers, the function logs are above the floor.
    expect(floor.total).toBeLessThan(cost.total);
  });
});
