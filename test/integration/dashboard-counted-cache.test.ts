/**
 * A page asking every few seconds reads the counted items again once per fold, not once per load: while the fold
 * state's version is the one they were read at, the dashboard reuses them, and a fold's new counts show at the
 * next load. Against the local DynamoDB-API server; the client counts the calls it sends.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { sori } from '../../lib/providers/sori';
import { DashboardReader } from '../../lib/queries/dashboard';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import type { TableLayout } from '../../lib/table/records-table';
import { localClientConfig } from '../../local/local-stack';
import { soriPayload } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';
import { storeAndFold } from '../support/store-and-fold';

const { dynamodb } = localClients();
const LAYOUT: TableLayout = { shards: 1, retentionDays: null };
const DAY = '2026-05-04';

const impressions = (count: number) => {
  const prefix = randomUUID().slice(0, 6);
  return Array.from({ length: count }, (_, i) =>
    buildQueueMessage(
      sori,
      Buffer.from(
        JSON.stringify({
          ...soriPayload('impression'),
          activity_id: `act_${prefix}_${i}`,
          device_id: `dev_${prefix}_${i}`,
          created_at: `${DAY}T10:00:00.000Z`,
        }),
      ),
      `${DAY}T10:00:01.000Z`,
    ),
  );
};

/** A client of the local server that counts the commands it sends, by name. */
function countingClient() {
  const client = new DynamoDBClient(localClientConfig(inject('dynamodbEndpoint')));
  const calls: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      calls.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize' },
  );
  return { client, calls };
}

describe('the dashboard between folds', () => {
  it('reads the counted items once per fold: a load at the same fold state reads only the state and the latest events, and a fold shows at the next load', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb, LAYOUT);
    await storeAndFold(writer, counters, impressions(3));
    const { client, calls } = countingClient();
    const reader = new DashboardReader(client, tableName, LAYOUT);
    const query = {
      from: DAY,
      to: DAY,
      tz: 'UTC',
      provider: null,
      campaign: null,
      breakdown: null,
      value: null,
    };
    expect((await reader.read(query)).totals.impressions).toBe(3);
    const first = calls.splice(0).length;

    // Nothing folded since: the state is read, the counted items are not.
    expect((await reader.read(query)).totals.impressions).toBe(3);
    const again = calls.splice(0);
    expect(again.length).toBeLessThan(first);
    expect(again.filter((name) => name === 'GetItemCommand')).toHaveLength(1);

    // A fold moves the state's version: the next load reads the new counts.
    await storeAndFold(writer, counters, impressions(2));
    const after = await reader.read(query);
    expect(after.totals).toMatchObject({ impressions: 5, unique_devices: 5 });
    expect(after.daily).toEqual([expect.objectContaining({ day: DAY, impressions: 5, unique_devices: 5 })]);
  });
});
