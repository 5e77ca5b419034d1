import { describe, expect, it } from 'vitest';
import {
  defaultMarkerCacheSize,
  MARKER_CACHE_ENTRY_BYTES,
  MarkerCache,
  markerCacheSizeFor,
} from '../../lib/ingest/event-writer';
import { mulberry32 } from '../../scripts/load';

/** What a least-recently-used cache answers, kept the plain way: a Map in recency order, scanned. */
class ReferenceCache {
  private readonly entries = new Map<string, boolean>();
  constructor(readonly capacity: number) {}
  has(key: string, counted: boolean): boolean {
    const flagged = this.entries.get(key);
    if (flagged === undefined || (counted && !flagged)) return false;
    this.entries.delete(key);
    this.entries.set(key, flagged);
    return true;
  }
  add(key: string, counted: boolean): void {
    const flagged = (this.entries.get(key) ?? false) || counted;
    this.entries.delete(key);
    this.entries.set(key, flagged);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
  }
  get size(): number {
    return this.entries.size;
  }
}

describe('the marker cache', () => {
  it('forgets the least recently used marker first', () => {
    const cache = new MarkerCache(3);
    for (const key of ['a', 'b', 'c', 'd']) cache.add(key, false);
    expect(['a', 'b', 'c', 'd'].map((key) => cache.has(key, false))).toEqual([false, true, true, true]);
  });

  it('makes a marker it finds the most recently used, so the next one goes instead', () => {
    const cache = new MarkerCache(3);
    for (const key of ['a', 'b', 'c']) cache.add(key, false);
    expect(cache.has('a', false)).toBe(true);
    cache.add('d', false);
    expect(cache.has('b', false)).toBe(false);
    expect(['a', 'c', 'd'].map((key) => cache.has(key, false))).toEqual([true, true, true]);
  });

  it('makes a marker added again the most recently used', () => {
    const cache = new MarkerCache(2);
    cache.add('a', false);
    cache.add('b', false);
    cache.add('a', true);
    cache.add('c', false);
    expect(cache.has('a', true)).toBe(true);
    expect(cache.has('b', false)).toBe(false);
  });

  it('never holds more markers than its capacity, and fills it', () => {
    const cache = new MarkerCache(100);
    for (let i = 0; i < 10_000; i++) {
      cache.add(`k${i}`, i % 2 === 0);
      expect(cache.size).toBe(Math.min(i + 1, 100));
    }
    expect(cache.capacity).toBe(100);
    expect(cache.has('k9999', false)).toBe(true);
    expect(cache.has('k9900', true)).toBe(true);
    expect(cache.has('k9899', false)).toBe(false);
  });

  it('answers a counted lookup only for a marker whose counted flag it knows set', () => {
    const cache = new MarkerCache(10);
    cache.add('marker', false);
    expect(cache.has('marker', true)).toBe(false);
    expect(cache.has('marker', false)).toBe(true);
    cache.add('marker', true);
    expect(cache.has('marker', true)).toBe(true);
    expect(cache.size).toBe(1);
  });

  it('keeps a counted flag it knows when the marker is added again without it', () => {
    const cache = new MarkerCache(10);
    cache.add('marker', true);
    cache.add('marker', false);
    expect(cache.has('marker', true)).toBe(true);
  });

  it('does not refresh a marker a counted lookup missed for want of its flag', () => {
    const cache = new MarkerCache(2);
    cache.add('a', false);
    cache.add('b', false);
    expect(cache.has('a', true)).toBe(false);
    cache.add('c', false);
    expect(cache.has('a', false)).toBe(false);
  });

  it('tells apart keys that differ in one character, whatever the characters', () => {
    const cache = new MarkerCache(1000);
    const keys = [
      '["a","b"]',
      '["a","c"]',
      '["a\\u0000","b"]',
      '["\ud800","b"]',
      '["\udc00","b"]',
      '["é","b"]',
    ];
    for (const key of keys.slice(0, 1)) cache.add(key, true);
    expect(keys.map((key) => cache.has(key, false))).toEqual([true, false, false, false, false, false]);
  });

  // Small capacities over a few keys make long probe clusters and constant eviction, where a slip in the index
  // or the recency chain would show as an answer the plain cache does not give.
  for (const [capacity, keys] of [
    [1, 3],
    [2, 5],
    [7, 20],
    [64, 200],
    [1000, 1500],
  ] as const) {
    it(`answers every lookup as a plain least-recently-used cache does (capacity ${capacity}, ${keys} markers)`, () => {
      const next = mulberry32(capacity * 7919 + keys);
      const cache = new MarkerCache(capacity);
      const reference = new ReferenceCache(capacity);
      const disagreements: string[] = [];
      for (let step = 0; step < 40_000 && disagreements.length === 0; step++) {
        const key = `["DEVICE#sori#device_${Math.floor(next() * keys)}","2025-10-14#CAMPAIGN"]`;
        const counted = next() < 0.5;
        const found = cache.has(key, counted);
        if (found !== reference.has(key, counted)) disagreements.push(`step ${step}: ${key} found ${found}`);
        if (!found) {
          cache.add(key, counted);
          reference.add(key, counted);
        }
        if (cache.size !== reference.size) disagreements.push(`step ${step}: size ${cache.size}`);
      }
      expect(disagreements).toEqual([]);
    });
  }
});

describe("the marker cache's size", () => {
  it("takes a quarter of the function's memory at the bytes an entry takes", () => {
    expect(MARKER_CACHE_ENTRY_BYTES).toBe(33);
    expect(markerCacheSizeFor(256)).toBe(Math.floor((256 * 1024 * 1024) / 4 / 33));
    expect(defaultMarkerCacheSize({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024' })).toBe(
      markerCacheSizeFor(1024),
    );
    expect(markerCacheSizeFor(1024)).toBeGreaterThan(8_000_000);
  });

  it('holds 100,000 markers where no function memory is set, or a value that is not one', () => {
    expect(defaultMarkerCacheSize({})).toBe(100_000);
    expect(defaultMarkerCacheSize({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: 'lots' })).toBe(100_000);
    expect(defaultMarkerCacheSize({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '0' })).toBe(100_000);
  });
});
