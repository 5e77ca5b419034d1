// DynamoDB write and read units, as AWS bills them, for the calls a client sends to a local DynamoDB-API server.
//
// The local server does not report index writes, so each write is priced from the item before and after it
// (read around the write, consistently) by the documented rules:
// - a table write costs one unit per started KB of the larger of the old and the new item, at least one, and a
//   conditional write whose condition fails costs the same;
// - an index costs nothing when the write leaves its entry as it was; putting or deleting an entry costs one
//   unit per started KB of the entry (its keys, the table's keys, the projected attributes, plus 100 bytes);
//   an entry whose index key changes costs a delete and a put; one whose projected attributes change, a put.
// Reads are priced from what they return: a get, one unit per started 4 KB of the item (a missing item costs
// the minimum, one unit); a query page, one unit per started 4 KB of all its items together (at least one);
// a batch get, each key as a get of its own; an eventually consistent read costs half. No call priced here
// filters or projects, so what comes back is what DynamoDB reads.
import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  type GlobalSecondaryIndexDescription,
} from '@aws-sdk/client-dynamodb';
import { BATCH_PARTITION, foldStateKey } from '../lib/table/counter-items';
import { itemBytes } from '../lib/table/item-size';
import { NOTICE_PARTITION_PREFIX } from '../lib/table/notice-items';
import { RECORDS_TABLE, statsPartitionKey } from '../lib/table/records-table';

type Item = Record<string, AttributeValue>;

/**
 * Counter items' partition keys begin so (`statsPartitionKey`), and so do the counters' other items: the
 * consumer's journal entries (`STATS#BATCH`) and the fold's state (`STATS#FOLD`), all of them counter units.
 */
const COUNTER_PREFIX = statsPartitionKey('', '').slice(0, statsPartitionKey('', '').indexOf('#') + 1);
const FOLD_STATE_PARTITION = foldStateKey()[RECORDS_TABLE.partitionKey]?.S;

const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand']);
const READS = new Set(['GetItemCommand', 'QueryCommand', 'ScanCommand', 'BatchGetItemCommand']);

const units = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));

/** Read units of a read of `bytes` (one item, or a query page's items together). */
export const readUnits = (bytes: number, consistent: boolean) =>
  Math.max(1, Math.ceil(bytes / 4096)) * (consistent ? 1 : 0.5);

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

/** What a client spent, in requests and in write units, and in read requests and read units. */
export interface WriteTally {
  /** Write requests. */
  requests: number;
  tableUnits: number;
  indexUnits: number;
  /** Requests and units of device-marker writes, included in the totals. */
  markerRequests: number;
  markerUnits: number;
  /**
   * Requests and units of the counters' writes, included in the totals: the consumer's journal entries, the
   * fold's state and the counter items the fold writes.
   */
  counterRequests: number;
  counterUnits: number;
  /** Of the counters' writes, the journal entries' (`STATS#BATCH`). */
  journalRequests: number;
  journalUnits: number;
  /** Of the counters' writes, the fold state's (`STATS#FOLD`). */
  foldStateRequests: number;
  foldStateUnits: number;
  /**
   * Requests and units of the fold's writes for unique devices over ranges, included in the totals: a device's
   * days per campaign (`REACH#`) and the provider-day items (`PROVIDERDAY#`, with the delivery figures).
   */
  reachRequests: number;
  reachUnits: number;
  providerDayRequests: number;
  providerDayUnits: number;
  /** Requests and units of the fold's signal notices (`SIGNAL#`, one put per signal raised), in the totals. */
  noticeRequests: number;
  noticeUnits: number;
  /** The largest fold state item written (bytes; DynamoDB takes items of up to 400 KB). */
  foldStateMaxBytes: number;
  /** Read requests (each page of a query one) and their read units; the pricing's own reads are left out. */
  readRequests: number;
  readUnits: number;
}

type Output = { Item?: Item; Items?: Item[]; Responses?: Record<string, Item[]> };
type ReadInput = {
  ConsistentRead?: boolean;
  RequestItems?: Record<string, { Keys?: Item[]; ConsistentRead?: boolean }>;
};

/** Read units a read spent, from what it asked and what it returned (see the rules above). */
export function readUnitsOf(command: string, input: ReadInput, output: Output): number {
  const consistent = input.ConsistentRead === true;
  if (command === 'GetItemCommand') return readUnits(output.Item ? itemBytes(output.Item) : 0, consistent);
  if (command === 'BatchGetItemCommand') {
    let spent = 0;
    for (const [table, request] of Object.entries(input.RequestItems ?? {})) {
      const found = output.Responses?.[table] ?? [];
      const each = (item: Item) => readUnits(itemBytes(item), request.ConsistentRead === true);
      spent += found.reduce((sum, item) => sum + each(item), 0);
      // A key not found costs what a get of nothing costs.
      spent +=
        Math.max(0, (request.Keys?.length ?? 0) - found.length) *
        readUnits(0, request.ConsistentRead === true);
    }
    return spent;
  }
  const bytes = (output.Items ?? []).reduce((sum, item) => sum + itemBytes(item), 0);
  return readUnits(bytes, consistent);
}

/**
 * Adds middleware to `client` that prices every write it sends (see the rules above).
 * @param describe the tables' key attributes and indexes, by table name
 */
export function countWriteUnits(
  client: DynamoDBClient,
  describe: (table: string) => { keys: string[]; indexes: GlobalSecondaryIndexDescription[] },
): WriteTally {
  const tally = newWriteTally();
  // The reads that price a write go through this same client: they are the bench's, not the client's.
  const own = new WeakSet<object>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = String(context.commandName);
      if (READS.has(command)) {
        if (own.has(args.input as object)) return next(args);
        const result = await next(args);
        tally.readRequests++;
        tally.readUnits += readUnitsOf(command, args.input as ReadInput, result.output as Output);
        return result;
      }
      if (!WRITES.has(command)) return next(args);
      const input = args.input as { TableName: string; Item?: Item; Key?: Item };
      const shape = describe(input.TableName);
      const key =
        input.Key ??
        Object.fromEntries(shape.keys.map((name) => [name, input.Item?.[name] as AttributeValue]));
      const read = async () => {
        const get = { TableName: input.TableName, Key: key, ConsistentRead: true };
        own.add(get);
        return (await client.send(new GetItemCommand(get))).Item;
      };
      const before = await read();
      let failed = false;
      try {
        return await next(args);
      } catch (error) {
        failed = true;
        throw error;
      } finally {
        const after = failed ? before : await read();
        const spent = writeUnits(before, after, indexShapes(shape.indexes), shape.keys);
        tallyWrite(tally, { item: input.Item, key, after, units: spent });
      }
    },
    { step: 'initialize', name: 'countWriteUnits' },
  );
  return tally;
}

/** A tally with nothing counted yet. */
function newWriteTally(): WriteTally {
  return {
    requests: 0,
    tableUnits: 0,
    indexUnits: 0,
    markerRequests: 0,
    markerUnits: 0,
    counterRequests: 0,
    counterUnits: 0,
    journalRequests: 0,
    journalUnits: 0,
    foldStateRequests: 0,
    foldStateUnits: 0,
    reachRequests: 0,
    reachUnits: 0,
    providerDayRequests: 0,
    providerDayUnits: 0,
    noticeRequests: 0,
    noticeUnits: 0,
    foldStateMaxBytes: 0,
    readRequests: 0,
    readUnits: 0,
  };
}

/** The keys and projected attributes of a table's indexes, as {@link writeUnits} takes them. */
const indexShapes = (indexes: GlobalSecondaryIndexDescription[]) =>
  indexes.map((index) => ({
    keys: (index.KeySchema ?? []).map((k) => k.AttributeName ?? ''),
    projected:
      index.Projection?.ProjectionType === 'ALL'
        ? ('ALL' as const)
        : (index.Projection?.NonKeyAttributes ?? []),
  }));

/** Counts one write, in the total and in the part its item belongs to (by its kind or its partition key). */
function tallyWrite(
  tally: WriteTally,
  write: {
    item: Item | undefined;
    key: Item;
    after: Item | undefined;
    units: { table: number; indexes: number };
  },
): void {
  const { item, key, after, units } = write;
  const total = units.table + units.indexes;
  const pk = key.pk?.S;
  tally.requests++;
  tally.tableUnits += units.table;
  tally.indexUnits += units.indexes;
  if (item?.kind?.S === 'device' || pk?.startsWith('DEVICE#')) {
    tally.markerRequests++;
    tally.markerUnits += total;
  }
  if (pk?.startsWith(COUNTER_PREFIX)) {
    tally.counterRequests++;
    tally.counterUnits += total;
  }
  if (pk?.startsWith('REACH#')) {
    tally.reachRequests++;
    tally.reachUnits += total;
  }
  if (pk?.startsWith('PROVIDERDAY#')) {
    tally.providerDayRequests++;
    tally.providerDayUnits += total;
  }
  if (pk?.startsWith(NOTICE_PARTITION_PREFIX)) {
    tally.noticeRequests++;
    tally.noticeUnits += total;
  }
  if (pk === BATCH_PARTITION) {
    tally.journalRequests++;
    tally.journalUnits += total;
  }
  if (pk === FOLD_STATE_PARTITION) {
    tally.foldStateRequests++;
    tally.foldStateUnits += total;
    tally.foldStateMaxBytes = Math.max(tally.foldStateMaxBytes, after ? itemBytes(after) : 0);
  }
}
