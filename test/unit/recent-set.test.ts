import { describe, expect, it } from 'vitest';
import { RecentSet } from '../../lib/ingest/event-writer';

describe('the marker cache (RecentSet)', () => {
  it('never holds more than its capacity', () => {
    const set = new RecentSet(100);
    for (let i = 0; i < 10_000; i++) set.add(`k${i}`);
    expect(set.size).toBeLessThanOrEqual(100);
    expect(set.has('k9999')).toBe(true);
    expect(set.has('k0')).toBe(false);
  });

  it('keeps an entry in use through any number of new ones, and forgets one no longer used', () => {
    const set = new RecentSet(100);
    set.add('hot');
    set.add('cold');
    for (let i = 0; i < 10_000; i++) {
      set.add(`new${i}`);
      if (i % 40 === 0) expect(set.has('hot')).toBe(true);
    }
    expect(set.has('hot')).toBe(true);
    expect(set.has('cold')).toBe(false);
  });

  it('keeps the entries used most recently when the newest generation turns over', () => {
    const set = new RecentSet(10);
    for (const key of ['a', 'b', 'c', 'd', 'e']) set.add(key);
    // The five are now the older generation; using two of them keeps them when it is dropped.
    expect(set.has('a')).toBe(true);
    expect(set.has('c')).toBe(true);
    for (const key of ['f', 'g', 'h']) set.add(key);
    expect(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].filter((key) => set.has(key))).toEqual([
      'a',
      'c',
      'f',
      'g',
      'h',
    ]);
  });
});
