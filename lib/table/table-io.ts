import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  type PutItemCommandInput,
  QueryCommand,
  type QueryCommandInput,
  ScanCommand,
  type ScanCommandInput,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { callOptions } from './deadline';
import { RECORDS_TABLE } from './records-table';

/** A table item as the low-level SDK sees it. */
export type Item = Record<string, AttributeValue>;

/** What a conditional put did. A duplicate is a success: the item is already there. */
export type StoreOutcome = 'stored' | 'duplicate';

/**
 * Tells whether the item found where a conditional write failed was written by that very write: an attempt
 * applied whose answer was lost, then retried by the SDK, fails its own condition. The item says which writer
 * wrote it (`WRITER_ATTRIBUTE` for records, the flag's value for device markers).
 */
export type Ownership = (found: Item | undefined) => boolean;

/**
 * Writes an item unless one with its key exists: the one write that both stores and deduplicates.
 * @param ours tells an attempt of this very write from an earlier write of the same key (see {@link Ownership}).
 * @returns `stored` on first insert (also when its answer was lost and a retry found it), `duplicate` when the
 *   key existed before.
 * @throws the SDK's error for anything else (throttling, unavailability).
 */
export async function putItemIfAbsent(
  client: DynamoDBClient,
  tableName: string,
  item: Item,
  ours?: Ownership,
): Promise<StoreOutcome> {
  const written = await writeIf(
    client,
    new PutItemCommand({
      TableName: tableName,
      Item: item,
      ConditionExpression: 'attribute_not_exists(#pk)',
      ExpressionAttributeNames: { '#pk': RECORDS_TABLE.partitionKey },
      ReturnValuesOnConditionCheckFailure: ours ? 'ALL_OLD' : undefined,
    }),
    { TableName: tableName, Key: keyOf(item) },
    ours,
  );
  return written ? 'stored' : 'duplicate';
}

/**
 * Runs a conditional update.
 * @param ours tells an attempt of this very update from another write (see {@link Ownership}).
 * @returns `false` when its condition did not hold (nothing was written), `true` when it was applied.
 * @throws the SDK's error for anything else.
 */
export function updateIf(
  client: DynamoDBClient,
  input: UpdateItemCommandInput & { ConditionExpression: string },
  ours?: Ownership,
): Promise<boolean> {
  return writeIf(
    client,
    new UpdateItemCommand({ ...input, ReturnValuesOnConditionCheckFailure: ours ? 'ALL_OLD' : undefined }),
    { TableName: input.TableName ?? '', Key: input.Key ?? {} },
    ours,
  );
}

/**
 * Runs a conditional put.
 * @param ours tells an attempt of this very put from another write (see {@link Ownership}).
 * @returns `false` when its condition did not hold (nothing was written), `true` when it was applied.
 * @throws the SDK's error for anything else.
 */
export function putIf(
  client: DynamoDBClient,
  input: PutItemCommandInput & { ConditionExpression: string },
  ours?: Ownership,
): Promise<boolean> {
  return writeIf(
    client,
    new PutItemCommand({ ...input, ReturnValuesOnConditionCheckFailure: ours ? 'ALL_OLD' : undefined }),
    { TableName: input.TableName ?? '', Key: keyOf(input.Item ?? {}) },
    ours,
  );
}

/** The primary key of an item. */
export const keyOf = (item: Item): Item => ({
  [RECORDS_TABLE.partitionKey]: item[RECORDS_TABLE.partitionKey] as AttributeValue,
  [RECORDS_TABLE.sortKey]: item[RECORDS_TABLE.sortKey] as AttributeValue,
});

async function writeIf(
  client: DynamoDBClient,
  command: PutItemCommand | UpdateItemCommand,
  target: { TableName: string; Key: Item },
  ours: Ownership | undefined,
): Promise<boolean> {
  try {
    await (command instanceof PutItemCommand
      ? client.send(command, callOptions())
      : client.send(command, callOptions()));
    return true;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    // Only a retried write can have failed its own condition: one attempt is a plain answer.
    if (!ours || (error.$metadata.attempts ?? 1) <= 1) return false;
    // Some DynamoDB-API servers leave out the old item; a consistent read tells the same.
    const found =
      error.Item ??
      (await client.send(new GetItemCommand({ ...target, ConsistentRead: true }), callOptions())).Item;
    return ours(found);
  }
}

/**
 * Runs a query page by page until it is exhausted or `limit` items are in hand.
 * @returns at most `limit` items, in the order DynamoDB returned them.
 * @throws the SDK's error when a page cannot be read.
 */
export function queryItems(
  client: DynamoDBClient,
  input: QueryCommandInput,
  limit = Number.POSITIVE_INFINITY,
) {
  return collectPages(
    (start) => client.send(new QueryCommand({ ...input, ExclusiveStartKey: start }), callOptions()),
    limit,
  );
}

/**
 * Runs a query page by page, yielding each page's items as it comes (for exports of any size).
 * @throws the SDK's error when a page cannot be read.
 */
export async function* queryPages(client: DynamoDBClient, input: QueryCommandInput): AsyncGenerator<Item[]> {
  let start: Item | undefined;
  do {
    const page = await client.send(new QueryCommand({ ...input, ExclusiveStartKey: start }), callOptions());
    yield page.Items ?? [];
    start = page.LastEvaluatedKey;
  } while (start);
}

/** Scans page by page, yielding each page's items as it comes. */
export async function* scanPages(client: DynamoDBClient, input: ScanCommandInput): AsyncGenerator<Item[]> {
  let start: Item | undefined;
  do {
    const page = await client.send(new ScanCommand({ ...input, ExclusiveStartKey: start }));
    yield page.Items ?? [];
    start = page.LastEvaluatedKey;
  } while (start);
}

async function collectPages(
  read: (start: Item | undefined) => Promise<{ Items?: Item[]; LastEvaluatedKey?: Item }>,
  limit: number,
): Promise<Item[]> {
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const page = await read(start);
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start && items.length < limit);
  return items.length > limit ? items.slice(0, limit) : items;
}

/**
 * Reads items by key, 100 keys per request, retrying what DynamoDB leaves unprocessed.
 * @param consistent consistent reads (the default; a read model's view may take eventually consistent ones, at
 *   half the read units).
 * @returns the items found, in no particular order (missing keys are left out).
 */
export async function getItems(
  client: DynamoDBClient,
  tableName: string,
  keys: Item[],
  consistent = true,
): Promise<Item[]> {
  const items: Item[] = [];
  for (let start = 0; start < keys.length; start += 100) {
    let pending: Item[] | undefined = keys.slice(start, start + 100);
    while (pending && pending.length > 0) {
      const page: BatchGetItemCommandOutput = await client.send(
        new BatchGetItemCommand({
          RequestItems: { [tableName]: { Keys: pending, ConsistentRead: consistent } },
        }),
        callOptions(),
      );
      items.push(...(page.Responses?.[tableName] ?? []));
      pending = page.UnprocessedKeys?.[tableName]?.Keys;
    }
  }
  return items;
}

/**
 * Takes the SDK's logger step out of a client that logs nothing (no `logger` given, as ours are built). With no
 * logger the step still copies every answer to hide its sensitive fields from a log line it then drops: for a
 * page of counter items that costs more CPU than reading the answer. A client given a logger keeps the step.
 * @returns the same client
 */
export function withoutUnusedSdkLogging<T extends DynamoDBClient>(client: T): T {
  const logger = (client.config as { logger?: object }).logger;
  if (!logger || logger.constructor.name === 'NoOpLogger') client.middlewareStack.remove('loggerMiddleware');
  return client;
}
