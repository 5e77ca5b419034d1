import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  PutItemCommand,
  QueryCommand,
  type QueryCommandInput,
  ScanCommand,
  type ScanCommandInput,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { RECORDS_TABLE } from './records-table';

/** A table item as the low-level SDK sees it. */
export type Item = Record<string, AttributeValue>;

/** What a conditional put did. A duplicate is a success: the item is already there. */
export type StoreOutcome = 'stored' | 'duplicate';

/**
 * Writes an item unless one with its key exists: the one write that both stores and deduplicates.
 * @returns `stored` on first insert, `duplicate` when the key existed.
 * @throws the SDK's error for anything else (throttling, unavailability).
 */
export async function putItemIfAbsent(
  client: DynamoDBClient,
  tableName: string,
  item: Item,
): Promise<StoreOutcome> {
  const written = await writeIf(
    client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: item,
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': RECORDS_TABLE.partitionKey },
      }),
    ),
  );
  return written ? 'stored' : 'duplicate';
}

/**
 * Runs a conditional update.
 * @returns `false` when its condition did not hold (nothing was written), `true` when it was applied.
 * @throws the SDK's error for anything else.
 */
export function updateIf(
  client: DynamoDBClient,
  input: UpdateItemCommandInput & { ConditionExpression: string },
): Promise<boolean> {
  return writeIf(client.send(new UpdateItemCommand(input)));
}

async function writeIf(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
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
    (start) => client.send(new QueryCommand({ ...input, ExclusiveStartKey: start })),
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
    const page = await client.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
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
 * Reads items by key with consistent reads, 100 keys per request, retrying what DynamoDB leaves unprocessed.
 * @returns the items found, in no particular order (missing keys are left out).
 */
export async function getItems(client: DynamoDBClient, tableName: string, keys: Item[]): Promise<Item[]> {
  const items: Item[] = [];
  for (let start = 0; start < keys.length; start += 100) {
    let pending: Item[] | undefined = keys.slice(start, start + 100);
    while (pending && pending.length > 0) {
      const page: BatchGetItemCommandOutput = await client.send(
        new BatchGetItemCommand({ RequestItems: { [tableName]: { Keys: pending, ConsistentRead: true } } }),
      );
      items.push(...(page.Responses?.[tableName] ?? []));
      pending = page.UnprocessedKeys?.[tableName]?.Keys;
    }
  }
  return items;
}
