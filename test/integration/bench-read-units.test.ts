import {
  BatchGetItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { countWriteUnits } from '../../bench/write-units';
import { ensureRecordsTable } from '../../local/create-records-table';
import { localClientConfig } from '../../local/local-stack';
import { localClients, uniqueName } from '../support/local-aws';

const { dynamodb } = localClients();

/** A fresh records table and a client whose calls are priced. */
async function counted() {
  const table = uniqueName('read-units');
  await ensureRecordsTable(dynamodb, table);
  const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: table }));
  const client = new DynamoDBClient(localClientConfig(inject('dynamodbEndpoint')));
  const tally = countWriteUnits(client, () => ({
    keys: (Table?.KeySchema ?? []).map((key) => key.AttributeName ?? ''),
    indexes: Table?.GlobalSecondaryIndexes ?? [],
  }));
  return { table, client, tally };
}

/** An item of about `bytes` bytes in partition `pk`. */
const item = (pk: string, sk: string, bytes: number) => ({
  pk: { S: pk },
  sk: { S: sk },
  pad: { S: 'x'.repeat(bytes - 'pkskpad'.length - pk.length - sk.length) },
});

describe('bench read units', () => {
  it('leaves out the reads that price a write: a put counts one write request and no read', async () => {
    const { table, client, tally } = await counted();
    await client.send(new PutItemCommand({ TableName: table, Item: item('P#1', 'a', 2000) }));
    expect(tally.requests).toBe(1);
    expect(tally.tableUnits).toBe(2);
    expect(tally.readRequests).toBe(0);
    expect(tally.readUnits).toBe(0);
  });

  it('prices a get by started 4 KB of the item, half for an eventually consistent one, and a missing item at the minimum', async () => {
    const { table, client, tally } = await counted();
    await dynamodb.send(new PutItemCommand({ TableName: table, Item: item('P#1', 'a', 5000) }));
    const key = { pk: { S: 'P#1' }, sk: { S: 'a' } };
    await client.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }));
    expect(tally.readUnits).toBe(2);
    await client.send(new GetItemCommand({ TableName: table, Key: key }));
    expect(tally.readUnits).toBe(3);
    await client.send(
      new GetItemCommand({ TableName: table, Key: { ...key, sk: { S: 'none' } }, ConsistentRead: true }),
    );
    expect(tally.readUnits).toBe(4);
    expect(tally.readRequests).toBe(3);
  });

  it('prices a query page by started 4 KB of its items together, at least one unit, and a batch get key by key', async () => {
    const { table, client, tally } = await counted();
    for (const sk of ['a', 'b', 'c']) {
      await dynamodb.send(new PutItemCommand({ TableName: table, Item: item('P#2', sk, 1500) }));
    }
    const query = (pk: string) =>
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: pk } },
        ConsistentRead: true,
      });
    // 4,500 bytes together: two units, where three gets would take three.
    await client.send(query('P#2'));
    expect(tally.readUnits).toBe(2);
    await client.send(query('P#none'));
    expect(tally.readUnits).toBe(3);
    await client.send(
      new BatchGetItemCommand({
        RequestItems: {
          [table]: {
            Keys: ['a', 'b', 'none'].map((sk) => ({ pk: { S: 'P#2' }, sk: { S: sk } })),
            ConsistentRead: true,
          },
        },
      }),
    );
    expect(tally.readUnits).toBe(6);
  });
});
