/**
 * The dashboard keeps the counted items it read while the fold state's version stays the one it read them at.
 * A repair pass that folds nothing (the local stack runs one every 2 s, the deployed stack every minute) changes
 * no count: the page, asking every 2 s, should not read every counted item of its range again after it. Against
 * the local DynamoDB-API server; the client counts the calls it sends.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { sori } from '../../lib/providers/sori';
import { DashboardReader, dayQuery } from '../../lib/queries/dashboard';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import type { TableLayout } from '../../lib/table/records-table';
import { localClientConfig } from '../../local/local-stack';
import { soriPayload } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';
import { storeAndFold } from '../support/store-and-fold';

const { dynamodb } = localClients();
const LAYOUT: TableLayout = { shards: 1, retentionDays: null };
const DAY = '2026-05-04';

describe('the dashboard across a repair pass that folds nothing', () => {
  it('reads no counted item again: the load after an idle pass reads only the fold state and the latest events', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb, LAYOUT);
    const payload = {
      ...soriPayload('impression'),
      activity_id: `act_${randomUUID()}`,
      created_at: `${DAY}T10:00:00.000Z`,
    };
    await storeAndFold(writer, counters, [
      buildQueueMessage(sori, Buffer.from(JSON.stringify(payload)), `${DAY}T10:00:01.000Z`),
    ]);
    const client = new DynamoDBClient(localClientConfig(inject('dynamodbEndpoint')));
    const calls: string[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { IndexName?: string };
        calls.push(`${String(context.commandName)}${input.IndexName ? ` ${input.IndexName}` : ''}`);
        return next(args);
      },
      { step: 'initialize' },
    );
    const reader = new DashboardReader(client, tableName, LAYOUT);
    await reader.read(dayQuery(DAY));
    // The load after a first (eventually consistent) read reads the latest fold's items again by key, once.
    await reader.read(dayQuery(DAY));
    calls.splice(0);

    // A scheduled pass with nothing to fold.
    expect(await counters.repair()).toMatchObject({ folded: 0, written: 0 });

    expect((await reader.read(dayQuery(DAY))).totals.impressions).toBe(1);
    // The counter items are listed through the index and read by key; neither again.
    expect(calls.filter((call) => call.includes(' ') || call === 'BatchGetItemCommand')).toEqual([]);
  });
});
