import { describe, expect, it } from 'vitest';
import {
  addInto,
  changed,
  dayNumber,
  dayOfNumber,
  decodeDays,
  devicesOf,
  encodeDays,
  MAX_RANGE_DAYS,
  type ReachHistogram,
  reachChanges,
  uniqueOver,
} from '../../lib/table/reach';

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

const START = dayNumber('2026-01-01');

/**
 * Builds the histograms the way the fold does: days arrive in any order, a few at a time, and each arrival
 * applies `reachChanges` from the days known before to the days known after.
 */
function histogramsOf(devices: number[][], batch: number, next: () => number) {
  const byDay = new Map<string, Map<number, number>>();
  for (const days of devices) {
    const order = [...days].sort(() => next() - 0.5);
    const known: number[] = [];
    for (let i = 0; i < order.length; i += batch) {
      const before = [...known];
      known.push(...order.slice(i, i + batch));
      for (const [day, change] of reachChanges(before, known)) {
        const key = dayOfNumber(day);
        byDay.set(key, changed(byDay.get(key) ?? new Map(), change));
      }
    }
  }
  return byDay;
}

describe('reach histograms', () => {
  it('give the exact unique devices of every range up to 92 days, however late days arrive', () => {
    const next = random(7);
    const devices = Array.from({ length: 300 }, () => [
      ...new Set(Array.from({ length: 1 + Math.floor(next() * 12) }, () => START + Math.floor(next() * 200))),
    ]);
    const byDay = histogramsOf(devices, 1 + Math.floor(next() * 3), next);
    for (let trial = 0; trial < 400; trial++) {
      const from = START + Math.floor(next() * 200);
      const to = Math.min(from + Math.floor(next() * MAX_RANGE_DAYS), START + 220);
      const expected = devices.filter((days) => days.some((d) => d >= from && d <= to)).length;
      expect(uniqueOver(byDay, dayOfNumber(from), dayOfNumber(to))).toBe(expected);
    }
  });

  it("give each day's unique devices as the sum of its histogram", () => {
    const next = random(11);
    const devices = Array.from({ length: 100 }, () => [START + Math.floor(next() * 10), START + 3]);
    const byDay = histogramsOf(devices, 2, next);
    for (let day = START; day < START + 10; day++) {
      const expected = devices.filter((days) => days.includes(day)).length;
      expect(devicesOf(byDay.get(dayOfNumber(day)) ?? new Map())).toBe(expected);
    }
  });

  it('refuse a range longer than 92 days rather than answer a wrong count', () => {
    expect(() => uniqueOver(new Map(), '2026-01-01', dayOfNumber(START + MAX_RANGE_DAYS))).toThrow(
      RangeError,
    );
    expect(uniqueOver(new Map(), '2026-01-01', dayOfNumber(START + MAX_RANGE_DAYS - 1))).toBe(0);
  });

  it('add days already held without changing anything', () => {
    expect(reachChanges([START, START + 5], [START + 5, START])).toEqual(new Map());
  });

  it('keep a set of days in a few bytes and read it back', () => {
    const days = [START, START + 1, START + 9, START + 364];
    expect(decodeDays(encodeDays(days))).toEqual(days);
    expect(encodeDays(Array.from({ length: 365 }, (_, i) => START + i)).length).toBeLessThan(80);
    expect(decodeDays('')).toEqual([]);
  });

  it('sum histograms of several scopes', () => {
    const total = new Map<number, number>();
    addInto(total, new Map([[0, 2]]) as ReachHistogram);
    addInto(
      total,
      new Map([
        [0, 1],
        [3, 4],
      ]) as ReachHistogram,
    );
    expect(total).toEqual(
      new Map([
        [0, 3],
        [3, 4],
      ]),
    );
  });
});
