import { type AttributeValue, type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { EventRecord, QueueMessage } from '../events/event-record';
import type { StateUpdate } from '../providers/provider';
import {
  COUNTED_ATTRIBUTE,
  DEFAULT_LAYOUT,
  deviceMarkerItem,
  RECORD_SORT_KEY,
  RECORDS_TABLE,
  statePartitionKey,
  type TableLayout,
  toItem,
} from '../table/records-table';
import { putItemIfAbsent, type StoreOutcome, updateIf } from '../table/table-io';

export type { StoreOutcome };

/**
 * What a device marker write did: `first` when this is the first counted event of the device in its
 * campaign-day (unique devices move), `seen` otherwise, `none` when the event has no marker.
 */
export type MarkerOutcome = 'first' | 'seen' | 'none';

/** Markers a container remembers as written; far more than the devices a busy day brings to one container. */
const MARKER_CACHE_SIZE = 50_000;

/**
 * The consumer's writes: event records, device markers, current-state items. Knows DynamoDB, nothing of Lambda.
 *
 * Device markers are written only when they can be new: a marker this container has seen written (or found
 * present) exists in the table, so writing it again would change nothing and count nothing. The cache is
 * exact, never a guess: it holds only markers the table confirmed.
 */
export class EventWriter {
  private readonly markers = new Set<string>();
  private readonly pending = new Map<string, Promise<boolean>>();

  constructor(
    private readonly client: DynamoDBClient,
    readonly tableName: string,
    readonly layout: TableLayout = DEFAULT_LAYOUT,
  ) {}

  /**
   * Stores the record a queue message carries, unless an item with its key is already there.
   * @returns `stored` on first insert, `duplicate` when the key existed.
   * @throws the SDK's error for anything else (throttling, unavailability): the caller retries the message.
   */
  store(message: QueueMessage): Promise<StoreOutcome> {
    return putItemIfAbsent(this.client, this.tableName, toItem(message, this.layout));
  }

  /**
   * Writes the marker that the record's device was seen in its partition family on its day, unless this
   * container knows it is there. For a counted event (`counted`), the marker is also flagged `counted`, once:
   * the write that sets the flag is the device's first counted event of that campaign-day.
   * @throws the SDK's error when the write fails.
   */
  async markDevice(record: EventRecord, counted: boolean): Promise<MarkerOutcome> {
    const marker = deviceMarkerItem(record, this.layout);
    if (!marker) return 'none';
    const key = `${marker.pk?.S}\u0000${marker.sk?.S}`;
    const cacheKey = counted ? `${key}\u0000${COUNTED_ATTRIBUTE}` : key;
    if (this.markers.has(cacheKey)) return 'seen';
    // Events of one device in one batch share the write: only one of them can be the first.
    const pending = this.pending.get(cacheKey);
    if (pending) {
      await pending;
      return 'seen';
    }
    const write = counted
      ? setCountedFlag(this.client, this.tableName, marker, true)
      : putItemIfAbsent(this.client, this.tableName, marker).then(() => false);
    this.pending.set(cacheKey, write);
    try {
      const first = await write;
      if (this.markers.size >= MARKER_CACHE_SIZE) this.markers.clear();
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
 * @param onlyIfUnflagged `true`: write only if the flag is not set yet.
 * @returns `false` when `onlyIfUnflagged` and the flag was already set (nothing written).
 */
export async function setCountedFlag(
  client: DynamoDBClient,
  tableName: string,
  marker: Record<string, AttributeValue>,
  onlyIfUnflagged: boolean,
): Promise<boolean> {
  const { pk, sk, ...rest } = marker;
  const names: Record<string, string> = { '#counted': COUNTED_ATTRIBUTE };
  const values: Record<string, AttributeValue> = { ':true': { BOOL: true } };
  const sets = ['#counted = :true'];
  Object.entries(rest).forEach(([name, value], i) => {
    names[`#a${i}`] = name;
    values[`:a${i}`] = value;
    sets.push(`#a${i} = :a${i}`);
  });
  const update = {
    TableName: tableName,
    Key: {
      [RECORDS_TABLE.partitionKey]: pk as AttributeValue,
      [RECORDS_TABLE.sortKey]: sk as AttributeValue,
    },
    UpdateExpression: `SET ${sets.join(', ')}`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
  if (onlyIfUnflagged)
    return updateIf(client, { ...update, ConditionExpression: 'attribute_not_exists(#counted)' });
  await client.send(new UpdateItemCommand(update));
  return true;
}
