// Bytes a device marker takes in the consumer's marker cache: the heap and the array buffers grown by a cache of
// 300,000 entries, filled with markers of the realistic workload's shape, then after three times as many more
// lookups and additions (evictions all along), each read after a full garbage collection. Run alone:
// `npx tsx bench/marker-cache-memory.ts`.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MARKER_CACHE_ENTRY_BYTES, MarkerCache } from '../lib/ingest/event-writer';
import { random } from './workload';

export interface MarkerCacheMemoryFigures {
  entries: number;
  /** Heap and array buffers per entry, the cache full. */
  bytesPerEntryFilled: number;
  /** The same after the churn. */
  bytesPerEntryChurned: number;
  /** What the consumer sizes its cache by. */
  bytesPerEntryAssumed: number;
}

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

function used(): number {
  collect();
  collect();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

/** A marker key as the consumer builds it (the JSON of the marker's partition and sort keys). */
const keyOf = (n: number) =>
  JSON.stringify([
    `DEVICE#sori#device_${String(n % 1_000_000).padStart(7, '0')}`,
    `2025-10-14#CAMPAIGN#sori#cmp_${String(Math.floor(n / 1_000_000)).padStart(4, '0')}#2025-10-14`,
  ]);

export function measureMarkerCacheMemory(entries = 300_000): MarkerCacheMemoryFigures {
  const before = used();
  const cache = new MarkerCache(entries);
  for (let n = 0; n < entries; n++) cache.add(keyOf(n), n % 2 === 0);
  const filled = used() - before;
  const next = random(11);
  let fresh = entries;
  for (let i = 0; i < 3 * entries; i++) {
    const n = next() < 0.5 ? fresh - 1 - Math.floor(next() * entries) : fresh++;
    const key = keyOf(n);
    if (!cache.has(key, true)) cache.add(key, true);
  }
  const churned = used() - before;
  if (cache.size !== entries) throw new Error(`the cache holds ${cache.size} markers, not ${entries}`);
  return {
    entries,
    bytesPerEntryFilled: filled / entries,
    bytesPerEntryChurned: churned / entries,
    bytesPerEntryAssumed: MARKER_CACHE_ENTRY_BYTES,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(measureMarkerCacheMemory(), null, 2));
}
