import { hash } from 'node:crypto';
import { type AttributeValue, type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { EventRecord, QueueMessage } from '../events/event-record';
import { callOptions, trackUnansweredAttempts } from '../table/deadline';
import { countedFlagSet, countedFlagUpdate } from '../table/marker-items';
import {
  COUNTED_ATTRIBUTE,
  countedAsAttribute,
  DEFAULT_LAYOUT,
  deviceMarkerItem,
  type TableLayout,
  toItem,
  WRITER_ATTRIBUTE,
} from '../table/records-table';
import type { StateChange } from '../table/state-items';
import { stateUpdate } from '../table/state-items';
import { putItemIfAbsent, type StoreOutcome, updateIf } from '../table/table-io';

export type { StoreOutcome };

/**
 * What a device marker write did: `first` when this is the first counted event of the device in its
 * campaign-day (unique devices move), `seen` otherwise, `none` when the event has no marker.
 */
export type MarkerOutcome = 'first' | 'seen' | 'none';

/**
 * Bytes a cached marker takes: its digest (16), its two neighbours in recency order (4 each), its counted flag
 * (1) and two positions of the index (4 each), which stays at most half full. All of it lives in typed arrays
 * sized once, outside the garbage-collected heap: `bench/marker-cache-memory.ts` measures 33.0 bytes per entry
 * (heap and array buffers) over 300,000 entries, as the arithmetic says.
 */
export const MARKER_CACHE_ENTRY_BYTES = 33;

/**
 * The share of the function's memory the marker cache takes; the other three quarters stay the runtime's and the
 * batches' (96 MB at Lambda's smallest size, 128 MB). Its arrays are reserved at once: the index (8 of the 33
 * bytes) is in memory within some tens of thousands of markers, the slots only as markers fill them.
 */
const MARKER_CACHE_MEMORY_SHARE = 1 / 4;

/** Markers cached outside Lambda (tests, local runs), where no function memory is set: about 3.3 MB. */
const LOCAL_MARKER_CACHE_SIZE = 100_000;

/**
 * The markers a cache may hold in a function of `memoryMb` MB: {@link MARKER_CACHE_MEMORY_SHARE} of it at
 * {@link MARKER_CACHE_ENTRY_BYTES} each (about 2.03 million at 256 MB).
 */
export function markerCacheSizeFor(memoryMb: number): number {
  return Math.max(
    1,
    Math.floor((memoryMb * 1024 * 1024 * MARKER_CACHE_MEMORY_SHARE) / MARKER_CACHE_ENTRY_BYTES),
  );
}

/**
 * The marker cache's size for this process: from the memory Lambda gives the function
 * (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, in MB), or {@link LOCAL_MARKER_CACHE_SIZE} where it is not set.
 */
export function defaultMarkerCacheSize(env: Record<string, string | undefined> = process.env): number {
  const memoryMb = Number(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
  return Number.isFinite(memoryMb) && memoryMb > 0 ? markerCacheSizeFor(memoryMb) : LOCAL_MARKER_CACHE_SIZE;
}

/**
 * Device markers the table confirmed, at most `capacity`, the least recently used forgotten first; each knows
 * whether its counted flag is set. A marker is held as the first 128 bits of its key's SHA-256: two markers
 * share a digest with odds of about n² / 2^129 among n markers, so even a container that looked up 10^12
 * markers against a full cache of 2^23 would meet one with odds below 10^-19, and only some 2^64 markers
 * would make one likely. A sender choosing device ids cannot aim at a collision either: finding any pair
 * takes some 2^64 hashes.
 *
 * Every operation is O(1): the digests sit in slots of one typed array, found through an open-addressing
 * index (linear probing, at most half full, a removal shifting its cluster back so no tombstones
 * accumulate), and the slots are chained in recency order, so the oldest is known without a search. A `Map`
 * would not do: evicting its first key walks every slot that earlier deletes emptied (45 µs an eviction at
 * 100,000 entries, measured on Node 20), and millions of key strings in the heap would be marked by every full
 * garbage collection.
 */
export class MarkerCache {
  readonly capacity: number;
  /** Slot s's digest in words 4s to 4s + 3. */
  private readonly words: Int32Array;
  /** The next slot toward the least recently used, -1 at the oldest. */
  private readonly older: Int32Array;
  /** The next slot toward the most recently used, -1 at the newest. */
  private readonly newer: Int32Array;
  /** 1 when the slot's marker is known to carry its counted flag. */
  private readonly flagged: Uint8Array;
  /** Slot + 1 at each position, 0 where empty. */
  private readonly index: Int32Array;
  private newest = -1;
  private oldest = -1;
  private used = 0;
  /** Where {@link find} stopped when the digest is absent: the position it would take. */
  private free = 0;

  constructor(capacity: number) {
    this.capacity = Math.max(1, Math.floor(capacity));
    this.words = new Int32Array(this.capacity * 4);
    this.older = new Int32Array(this.capacity);
    this.newer = new Int32Array(this.capacity);
    this.flagged = new Uint8Array(this.capacity);
    this.index = new Int32Array(this.capacity * 2);
  }

  /** Markers held. */
  get size(): number {
    return this.used;
  }

  /**
   * @returns `true` when the marker is held and, for a `counted` lookup, known to carry its counted flag; it
   *   becomes the most recently used.
   */
  has(key: string, counted: boolean): boolean {
    const digest = hash('sha256', key, 'binary');
    const at = this.find(digest);
    if (at < 0) return false;
    const slot = (this.index[at] as number) - 1;
    if (counted && this.flagged[slot] === 0) return false;
    this.touch(slot);
    return true;
  }

  /**
   * Holds the marker as the most recently used, its counted flag known set when `counted` (a flag once known
   * stays known), forgetting the least recently used when full.
   */
  add(key: string, counted: boolean): void {
    const digest = hash('sha256', key, 'binary');
    let at = this.find(digest);
    if (at >= 0) {
      const slot = (this.index[at] as number) - 1;
      if (counted) this.flagged[slot] = 1;
      this.touch(slot);
      return;
    }
    let slot: number;
    if (this.used < this.capacity) {
      slot = this.used++;
    } else {
      slot = this.oldest;
      this.unindex(this.positionOf(slot));
      this.unlink(slot);
      // The removal may have moved the cluster the new digest belongs to: find its place again.
      this.find(digest);
    }
    at = this.free;
    const w = slot * 4;
    this.words[w] = wordOf(digest, 0);
    this.words[w + 1] = wordOf(digest, 4);
    this.words[w + 2] = wordOf(digest, 8);
    this.words[w + 3] = wordOf(digest, 12);
    this.flagged[slot] = counted ? 1 : 0;
    this.index[at] = slot + 1;
    this.pushNewest(slot);
  }

  /** The index position holding `digest`, or -1 (then {@link free} is where it would go). */
  private find(digest: string): number {
    const a = wordOf(digest, 0);
    const b = wordOf(digest, 4);
    const c = wordOf(digest, 8);
    const d = wordOf(digest, 12);
    const { index, words } = this;
    const positions = index.length;
    let at = (a >>> 0) % positions;
    for (;;) {
      const entry = index[at] as number;
      if (entry === 0) {
        this.free = at;
        return -1;
      }
      const w = (entry - 1) * 4;
      if (words[w] === a && words[w + 1] === b && words[w + 2] === c && words[w + 3] === d) return at;
      at = at + 1 === positions ? 0 : at + 1;
    }
  }

  /** The index position of a held slot. */
  private positionOf(slot: number): number {
    const positions = this.index.length;
    let at = ((this.words[slot * 4] as number) >>> 0) % positions;
    while (this.index[at] !== slot + 1) at = at + 1 === positions ? 0 : at + 1;
    return at;
  }

  /** Empties an index position, moving back the entries after it that probing would no longer reach. */
  private unindex(at: number): void {
    const { index, words } = this;
    const positions = index.length;
    let hole = at;
    let next = at;
    for (;;) {
      next = next + 1 === positions ? 0 : next + 1;
      const entry = index[next] as number;
      if (entry === 0) break;
      const home = ((words[(entry - 1) * 4] as number) >>> 0) % positions;
      // The entry may fill the hole when its home is not after the hole (cyclically, up to the entry).
      if ((next - home + positions) % positions >= (next - hole + positions) % positions) {
        index[hole] = entry;
        hole = next;
      }
    }
    index[hole] = 0;
  }

  private touch(slot: number): void {
    if (slot === this.newest) return;
    this.unlink(slot);
    this.pushNewest(slot);
  }

  private unlink(slot: number): void {
    const older = this.older[slot] as number;
    const newer = this.newer[slot] as number;
    if (older >= 0) this.newer[older] = newer;
    else this.oldest = newer;
    if (newer >= 0) this.older[newer] = older;
    else this.newest = older;
  }

  private pushNewest(slot: number): void {
    this.older[slot] = this.newest;
    this.newer[slot] = -1;
    if (this.newest >= 0) this.newer[this.newest] = slot;
    else this.oldest = slot;
    this.newest = slot;
  }
}

/** Bytes `from` to `from + 3` of a digest in the `binary` encoding (one character a byte), as a 32-bit word. */
const wordOf = (digest: string, from: number) =>
  digest.charCodeAt(from) |
  (digest.charCodeAt(from + 1) << 8) |
  (digest.charCodeAt(from + 2) << 16) |
  (digest.charCodeAt(from + 3) << 24);

/**
 * The consumer's writes: event records, device markers, current-state items. Knows DynamoDB, nothing of Lambda.
 *
 * Device markers are written only when they can be new: a marker this container has seen written (or found
 * present) exists in the table, so writing it again would change nothing and count nothing. The cache is
 * exact, never a guess: it holds only markers the table confirmed.
 */
export class EventWriter {
  private readonly markers: MarkerCache;
  private readonly pending = new Map<string, Promise<boolean>>();

  constructor(
    private readonly client: DynamoDBClient,
    readonly tableName: string,
    readonly layout: TableLayout = DEFAULT_LAYOUT,
    markerCacheSize = defaultMarkerCacheSize(),
  ) {
    this.markers = new MarkerCache(markerCacheSize);
    trackUnansweredAttempts(client);
  }

  /** Markers this container remembers as written (for the cache's measurements). */
  get cachedMarkers(): number {
    return this.markers.size;
  }

  /** The most markers this container remembers. */
  get markerCacheCapacity(): number {
    return this.markers.capacity;
  }

  /**
   * Stores the record a queue message carries, unless an item with its key is already there.
   * @param writer names the batch that writes (see `newClaimToken`): an attempt of this write that was applied
   *   but whose answer was lost is then known for a first insert, not taken for a duplicate.
   * @returns `stored` on first insert, `duplicate` when the key existed before.
   * @throws the SDK's error for anything else (throttling, unavailability): the caller retries the message.
   */
  store(message: QueueMessage, writer?: string): Promise<StoreOutcome> {
    const ours = writer
      ? (found?: Record<string, AttributeValue>) => found?.[WRITER_ATTRIBUTE]?.S === writer
      : undefined;
    return putItemIfAbsent(this.client, this.tableName, eventItem(message, this.layout, writer), ours);
  }

  /**
   * Writes the marker that the record's device was seen in its partition family on its day, unless this
   * container knows it is there. For a counted event (`counted`), the marker is also flagged `counted`, once:
   * the write that sets the flag is the device's first counted event of that campaign-day. The flag's value is
   * `writer`, so a flag set by an attempt whose answer was lost is known for this batch's.
   * @param keyedById the event's policy: an event keyed by id alone has no marker (its index entry is one).
   * @throws the SDK's error when the write fails.
   */
  async markDevice(
    record: EventRecord,
    counted: boolean,
    writer = 'true',
    keyedById = false,
  ): Promise<MarkerOutcome> {
    const marker = deviceMarkerItem(record, this.layout, keyedById);
    if (!marker) return 'none';
    // Ids come from senders and may hold any character: the key is their JSON, which no two markers share (a
    // lone surrogate is written as an escape, so the UTF-8 the cache digests is as distinct as the key).
    const key = JSON.stringify([marker.pk?.S, marker.sk?.S]);
    if (this.markers.has(key, counted)) return 'seen';
    // Events of one device in one batch share the write: only one of them can be the first.
    const pendingKey = counted ? JSON.stringify([marker.pk?.S, marker.sk?.S, COUNTED_ATTRIBUTE]) : key;
    const pending = this.pending.get(pendingKey);
    if (pending) {
      await pending;
      return 'seen';
    }
    const write = counted
      ? setCountedFlag(this.client, this.tableName, marker, writer)
      : putItemIfAbsent(this.client, this.tableName, marker).then(() => false);
    this.pending.set(pendingKey, write);
    try {
      const first = await write;
      this.markers.add(key, counted);
      return first ? 'first' : 'seen';
    } finally {
      this.pending.delete(pendingKey);
    }
  }

  /**
   * Moves a provider's current-state item forward, never back: it changes only when the update's rank is
   * higher, or equal with a later `updated_at`.
   * @returns `false` when the stored state was newer and stays as it is.
   */
  applyState(provider: string, update: StateChange): Promise<boolean> {
    return updateIf(this.client, stateUpdate(this.tableName, provider, update));
  }
}

/**
 * The table item of a queue message, an event's with what it counts as by its policy (see
 * `COUNTED_AS_ATTRIBUTE`): the lake, a replay and a recount read that, never the provider's code of their day.
 * An event whose policy counts it without saying as what (its provider is no longer served) says nothing.
 */
export function eventItem(
  message: QueueMessage,
  layout: TableLayout,
  writer?: string,
): Record<string, AttributeValue> {
  const item = toItem(message, layout, writer);
  if (message.kind !== 'event') return item;
  const policy = message.policy;
  if (policy?.counted && !policy.counted_as) return item;
  return { ...item, ...countedAsAttribute(policy?.counted_as) };
}

/**
 * Creates a device marker if needed and flags it `counted`.
 * @param writer the flag's value when it is set only if unset (the batch that sets it); `undefined` sets it
 *   whatever it was (a recount making a marker match the records).
 * @returns `false` when `writer` is given and the flag was already set by another writer (nothing written).
 */
export async function setCountedFlag(
  client: DynamoDBClient,
  tableName: string,
  marker: Record<string, AttributeValue>,
  writer: string | undefined,
): Promise<boolean> {
  if (writer) {
    const update = countedFlagUpdate(tableName, marker, writer);
    return updateIf(client, update, (found) => found?.[COUNTED_ATTRIBUTE]?.S === writer);
  }
  await client.send(new UpdateItemCommand(countedFlagSet(tableName, marker)), callOptions());
  return true;
}
