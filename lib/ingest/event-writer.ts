import { type AttributeValue, type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { EventRecord, QueueMessage } from '../events/event-record';
import type { StateUpdate } from '../providers/provider';
import { callOptions, trackUnansweredAttempts } from '../table/deadline';
import {
  COUNTED_ATTRIBUTE,
  DEFAULT_LAYOUT,
  deviceMarkerItem,
  RECORD_SORT_KEY,
  RECORDS_TABLE,
  statePartitionKey,
  type TableLayout,
  toItem,
  WRITER_ATTRIBUTE,
} from '../table/records-table';
import { keyOf, putItemIfAbsent, type StoreOutcome, updateIf } from '../table/table-io';

export type { StoreOutcome };

/**
 * What a device marker write did: `first` when this is the first counted event of the device in its
 * campaign-day (unique devices move), `seen` otherwise, `none` when the event has no marker.
 */
export type MarkerOutcome = 'first' | 'seen' | 'none';

/**
 * Markers a container remembers as written, the least recently used forgotten first (see {@link RecentSet}). An
 * entry (a key of about 100 characters and its slot) takes about 400 bytes, so 100,000 entries hold about 40 MB
 * of the function's memory.
 */
const MARKER_CACHE_SIZE = 100_000;

/**
 * A set that keeps at most `capacity` entries and forgets the ones not used for longest: entries live in two
 * generations of half the capacity each; a hit in the older one moves the entry to the newer, and when the newer
 * is full the older is dropped whole. Every operation is O(1) (a `Map` evicting one entry at a time walks the
 * slots its deletes left, some 15 µs an eviction at 100,000 entries).
 */
export class RecentSet {
  private current = new Set<string>();
  private previous = new Set<string>();

  constructor(readonly capacity: number) {}

  /** @returns `true` when `key` is held; it becomes recently used. */
  has(key: string): boolean {
    if (this.current.has(key)) return true;
    if (!this.previous.delete(key)) return false;
    this.add(key);
    return true;
  }

  add(key: string): void {
    this.current.add(key);
    if (this.current.size >= Math.max(1, this.capacity / 2)) {
      this.previous = this.current;
      this.current = new Set();
    }
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }
}

/**
 * The consumer's writes: event records, device markers, current-state items. Knows DynamoDB, nothing of Lambda.
 *
 * Device markers are written only when they can be new: a marker this container has seen written (or found
 * present) exists in the table, so writing it again would change nothing and count nothing. The cache is
 * exact, never a guess: it holds only markers the table confirmed.
 */
export class EventWriter {
  private readonly markers: RecentSet;
  private readonly pending = new Map<string, Promise<boolean>>();

  constructor(
    private readonly client: DynamoDBClient,
    readonly tableName: string,
    readonly layout: TableLayout = DEFAULT_LAYOUT,
    markerCacheSize = MARKER_CACHE_SIZE,
  ) {
    this.markers = new RecentSet(markerCacheSize);
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
    return putItemIfAbsent(this.client, this.tableName, toItem(message, this.layout, writer), ours);
  }

  /**
   * Writes the marker that the record's device was seen in its partition family on its day, unless this
   * container knows it is there. For a counted event (`counted`), the marker is also flagged `counted`, once:
   * the write that sets the flag is the device's first counted event of that campaign-day. The flag's value is
   * `writer`, so a flag set by an attempt whose answer was lost is known for this batch's.
   * @throws the SDK's error when the write fails.
   */
  async markDevice(record: EventRecord, counted: boolean, writer = 'true'): Promise<MarkerOutcome> {
    const marker = deviceMarkerItem(record, this.layout);
    if (!marker) return 'none';
    // Ids come from senders and may hold any character: the key is their JSON, which no two markers share.
    const key = JSON.stringify([marker.pk?.S, marker.sk?.S]);
    const cacheKey = counted ? JSON.stringify([marker.pk?.S, marker.sk?.S, COUNTED_ATTRIBUTE]) : key;
    if (this.markers.has(cacheKey)) return 'seen';
    // Events of one device in one batch share the write: only one of them can be the first.
    const pending = this.pending.get(cacheKey);
    if (pending) {
      await pending;
      return 'seen';
    }
    const write = counted
      ? setCountedFlag(this.client, this.tableName, marker, writer)
      : putItemIfAbsent(this.client, this.tableName, marker).then(() => false);
    this.pending.set(cacheKey, write);
    try {
      const first = await write;
      this.markers.add(cacheKey);
      this.markers.add(key);
      return first ? 'first' : 'seen';
    } finally {
      this.pending.delete(cacheKey);
    }
  }

  /**
   * Moves a provider's current-state item forward, never back: it changes only when the update's rank is
   * higher, or equal with a later `updated_at`.
   * @returns `false` when the stored state was newer and stays as it is.
   */
  applyState(provider: string, update: StateUpdate): Promise<boolean> {
    const names: Record<string, string> = {
      '#pk': RECORDS_TABLE.partitionKey,
      '#rank': 'rank',
      '#at': 'updated_at',
      '#kind': 'kind',
      '#provider': 'provider',
      '#key': 'state_key',
    };
    const values: Record<string, AttributeValue> = {
      ':rank': { N: String(update.rank) },
      ':at': { S: update.fields.updated_at ?? '' },
      ':kind': { S: 'state' },
      ':provider': { S: provider },
      ':key': { S: update.key },
    };
    const sets = ['#rank = :rank', '#kind = :kind', '#provider = :provider', '#key = :key'];
    Object.entries(update.fields).forEach(([field, value], i) => {
      names[`#f${i}`] = field;
      values[`:f${i}`] = value === null ? { NULL: true } : { S: value };
      sets.push(`#f${i} = :f${i}`);
    });
    return updateIf(this.client, {
      TableName: this.tableName,
      Key: { pk: { S: statePartitionKey(provider, update.key) }, sk: { S: RECORD_SORT_KEY } },
      UpdateExpression: `SET ${sets.join(', ')}`,
      ConditionExpression: 'attribute_not_exists(#pk) OR #rank < :rank OR (#rank = :rank AND #at <= :at)',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    });
  }
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
  const { pk, sk, ...rest } = marker;
  const names: Record<string, string> = { '#counted': COUNTED_ATTRIBUTE };
  const values: Record<string, AttributeValue> = { ':by': writer ? { S: writer } : { BOOL: true } };
  const sets = ['#counted = :by'];
  Object.entries(rest).forEach(([name, value], i) => {
    names[`#a${i}`] = name;
    values[`:a${i}`] = value;
    sets.push(`#a${i} = :a${i}`);
  });
  const update = {
    TableName: tableName,
    Key: keyOf(marker),
    UpdateExpression: `SET ${sets.join(', ')}`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
  if (writer) {
    return updateIf(
      client,
      { ...update, ConditionExpression: 'attribute_not_exists(#counted)' },
      (found) => found?.[COUNTED_ATTRIBUTE]?.S === writer,
    );
  }
  await client.send(new UpdateItemCommand(update), callOptions());
  return true;
}
