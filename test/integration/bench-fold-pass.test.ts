import { describe, expect, inject, it } from 'vitest';
import { SMALL } from '../../bench/workload';
import { CONTAINER_STARTS_PER_DAY, replayWorkload } from '../../bench/writes';
import { uniqueName } from '../support/local-aws';

describe("bench replay and the repair's fold", () => {
  it('prices a pass over a minute of batches at the rate: the journal read from the watermark, each campaign-day written once, the units above an idle pass spread over the events stored that minute', async () => {
    const figures = await replayWorkload({
      endpoint: inject('dynamodbEndpoint'),
      workload: SMALL,
      ratePerSecond: 10,
      sizes: [10],
      deliveries: 200,
      label: 'test',
      table: uniqueName('replay'),
      seed: 7,
    });
    const repair = figures.repair;
    // 10 deliveries a second in batches of 10: 60 batches a minute, and the 20 s before it read again.
    expect(repair.batchesPerMinute).toBe(60);
    expect(repair.journalEntries).toBe(80);
    expect(repair.listed).toBe(SMALL.campaigns);
    expect(repair.replayTouched).toBe(SMALL.campaigns);
    expect(repair.storedPerMinute).toBe(600);
    expect(repair.writeUnits).toBe(
      repair.counterItemUnits +
        repair.foldStateUnits +
        repair.deviceReachUnits +
        repair.providerDayUnits +
        repair.noticeUnits,
    );
    // Devices counted on a new day have their days written once each; the minute's one provider-day once.
    expect(repair.deviceReachUnits).toBeGreaterThan(0);
    expect(repair.providerDayUnits).toBe(1);
    // The state is written ahead of the fold, after it, and as the watermark moves on.
    expect(repair.foldStateUnits).toBeGreaterThanOrEqual(3);
    expect(repair.writeUnitsPerStored).toBeCloseTo((repair.writeUnits - repair.idle.writeUnits) / 600, 9);
    expect(repair.readUnitsPerStored).toBeCloseTo((repair.readUnits - repair.idle.readUnits) / 600, 9);
    // An idle pass: the state read, two empty queries, the state written.
    expect(repair.idle).toEqual({ writeUnits: 1, readUnits: 2.5, calls: 4 });
  }, 120_000);

  it("counts the consumer's journal entries (an open and a close per batch) and a container's registrations as counter writes, the registrations paid once per container start", async () => {
    const figures = await replayWorkload({
      endpoint: inject('dynamodbEndpoint'),
      workload: SMALL,
      ratePerSecond: 10,
      sizes: [10],
      deliveries: 200,
      label: 'test',
      table: uniqueName('replay'),
      seed: 8,
      containers: 2,
    });
    expect(figures.batches).toBe(20);
    expect(figures.journalRequests * figures.stored).toBe(2 * figures.batches);
    expect(figures.journalUnits).toBeGreaterThanOrEqual((2 * figures.batches) / figures.stored);
    // Each campaign-day listed by its first batch, once per event type at most.
    expect(figures.register.requests).toBeGreaterThanOrEqual(SMALL.campaigns);
    expect(figures.register.requests).toBeLessThanOrEqual(2 * SMALL.campaigns);
    expect(figures.counterRequests * figures.stored).toBe(2 * figures.batches + figures.register.requests);
    // 2 containers, each started afresh CONTAINER_STARTS_PER_DAY times, over a day at 7 stored events a second.
    expect(figures.registerUnitsPerStored).toBeCloseTo(
      (figures.register.units * 2 * CONTAINER_STARTS_PER_DAY) / (600 * 60 * 24),
      12,
    );
    expect(figures.counterUnits).toBeCloseTo(
      figures.journalUnits + figures.registerUnitsPerStored + figures.repair.writeUnitsPerStored,
      9,
    );
  }, 120_000);
});
