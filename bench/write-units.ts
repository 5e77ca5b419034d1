// DynamoDB write units, as AWS bills them, for the writes a client sends to a local DynamoDB-API server.
//
// The local server does not report index writes, so each write is priced from the item before and after it
// (read around the write, consistently) by the documented rules:
// - a table write costs one unit per started KB of the larger of the old and the new item, at least one, and a
//   conditional write whose condition fails costs the same;
// - an index costs nothing when the write leaves its entry as it was; putting or deleting an entry costs one
//   unit per started KB of the entry (its keys, the table's keys, the projected attributes, plus 100 bytes);
//   an entry whose index key changes costs a delete and a put; one whose projected attributes change, a put.
import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  type GlobalSecondaryIndexDescription,
} from '@aws-sdk/client-dynamodb';
import { itemBytes } from '../lib/table/item-size';
import { statsPartitionKey } from '../lib/table/records-table';

type Item = Record<string, AttributeValue>;

/** Counter items' partition keys begin so (`statsPartitionKey`). */
const COUNTER_PREFIX = statsPartitionKey('', '').slice(0, statsPartitionKey('', '').indexOf('#') + 1);

const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand']);

const units = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));

export interface IndexShape {
  keys: string[];
  projected: string[] | 'ALL';
}

function entryOf(item: Item | undefined, index: IndexShape, tableKeys: string[]): Item | undefined {
  if (!item || index.keys.some((key) => item[key] === undefined)) return undefined;
  const names =
    index.projected === 'ALL' ? Object.keys(item) : [...tableKeys, ...index.keys, ...index.projected];
  const entry: Item = {};
  for (const name of names) if (item[name] !== undefined) entry[name] = item[name] as AttributeValue;
  return entry;
}

/**
 * Bytes an item's entries take in each index, the 100 bytes of overhead DynamoDB counts per entry included
 * (what its indexes store, and bill, for it).
 */
export function indexEntryBytes(item: Item, indexes: IndexShape[], tableKeys: string[]): number[] {
  return indexes.map((shape) => {
    const entry = entryOf(item, shape, tableKeys);
    return entry ? itemBytes(entry) + 100 : 0;
  });
}

const same = (a: Item, b: Item) =>
  JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

/** Write units one write spent, table and indexes, from the item before and after it. */
export function writeUnits(
  before: Item | undefined,
  after: Item | undefined,
  indexes: IndexShape[],
  tableKeys: string[],
): { table: number; indexes: number } {
  const table = units(Math.max(before ? itemBytes(before) : 0, after ? itemBytes(after) : 0));
  let index = 0;
  for (const shape of indexes) {
    const old = entryOf(before, shape, tableKeys);
    const neu = entryOf(after, shape, tableKeys);
    const cost = (entry: Item) => units(itemBytes(entry) + 100);
    if (!old && neu) index += cost(neu);
    else if (old && !neu) index += cost(old);
    else if (old && neu) {
      const keyChanged = shape.keys.some((key) => JSON.stringify(old[key]) !== JSON.stringify(neu[key]));
      if (keyChanged) index += cost(old) + cost(neu);
      else if (!same(old, neu)) index += cost(neu);
    }
  }
  return { table, indexes: index };
}

/** What a client spent, in requests and in write units. */
export interface WriteTally {
  requests: number;
  tableUnits: number;
  indexUnits: number;
  /** Requests and units of device-marker writes, included in the totals. */
  markerRequests: number;
  markerUnits: number;
  /** Requests and units of counter-item writes (claims, applies, recounts, the repair's), included in the totals. */
  counterRequests: number;
  counterUnits: number;
}

/**
 * Adds middleware to `client` that prices every write it sends (see the rules above).
 * @param describe the tables' key attributes and indexes, by table name
 */
export function countWriteUnits(
  client: DynamoDBClient,
  describe: (table: string) => { keys: string[]; indexes: GlobalSecondaryIndexDescription[] },
): WriteTally {
  const tally: WriteTally = {
    requests: 0,
    tableUnits: 0,
    indexUnits: 0,
    markerRequests: 0,
    markerUnits: 0,
    counterRequests: 0,
    counterUnits: 0,
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (!WRITES.has(String(context.commandName))) return next(args);
      const input = args.input as { TableName: string; Item?: Item; Key?: Item };
      const shape = describe(input.TableName);
      const key =
        input.Key ??
        Object.fromEntries(shape.keys.map((name) => [name, input.Item?.[name] as AttributeValue]));
      const read = async () =>
        (
          await client.send(
            new GetItemCommand({ TableName: input.TableName, Key: key, ConsistentRead: true }),
          )
        ).Item;
      const before = await read();
      let failed = false;
      try {
        return await next(args);
      } catch (error) {
        failed = true;
        throw error;
      } finally {
        const after = failed ? before : await read();
        const indexes = shape.indexes.map((index) => ({
          keys: (index.KeySchema ?? []).map((k) => k.AttributeName ?? ''),
          projected:
            index.Projection?.ProjectionType === 'ALL'
              ? ('ALL' as const)
              : (index.Projection?.NonKeyAttributes ?? []),
        }));
        const spent = writeUnits(before, after, indexes, shape.keys);
        tally.requests++;
        tally.tableUnits += spent.table;
        tally.indexUnits += spent.indexes;
        if (input.Item?.kind?.S === 'device' || key.pk?.S?.startsWith('DEVICE#')) {
          tally.markerRequests++;
          tally.markerUnits += spent.table + spent.indexes;
        }
        if (key.pk?.S?.startsWith(COUNTER_PREFIX)) {
          tally.counterRequests++;
          tally.counterUnits += spent.table + spent.indexes;
        }
      }
    },
    { step: 'initialize', name: 'countWriteUnits' },
  );
  return tally;
}
