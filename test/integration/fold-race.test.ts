import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { CampaignCounters } from '../../lib/ingest/campaign-counters';
import { storeBatch } from '../../lib/ingest/store-batch';
import { CampaignStats } from '../../lib/queries/campaign-stats';
import type { TableLayout } from '../../lib/table/records-table';
import { localClientConfig } from '../../local/local-stack';
import { campaignDayImpressions } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';

const { dynamodb } = localClients();
const LAYOUT: TableLayout = { shards: 2, retentionDays: 365 };

const impressions = campaignDayImpressions;

/** A client whose first GetItem of cmp_0's counter item waits for `release`; `reached` resolves when it does. */
function pausedClient() {
  const client = new DynamoDBClient(localClientConfig(inject('dynamodbEndpoint')));
  let open!: () => void;
  let arrived!: () => void;
  const release = new Promise<void>((resolve) => {
    open = resolve;
  });
  const reached = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  let paused = false;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { Key?: { pk?: { S?: string } } };
      if (!paused && context.commandName === 'GetItemCommand' && input.Key?.pk?.S === 'STATS#sori#cmp_0') {
        paused = true;
        arrived();
        await release;
      }
      return next(args);
    },
    { step: 'initialize', name: 'pauseOneRead' },
  );
  return { client, reached, release: () => open() };
}

describe('two repair passes at once', () => {
  it("add a batch once: a pass that finds another pass's fold under way gives way to it, and the batch stored meanwhile is folded next", async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb, LAYOUT);
    const first = impressions(3);
    const second = impressions(2);
    await storeBatch(writer, counters, first);

    // Pass A writes its fold down (the first batch) and pauses before it reads the counter item.
    const slow = pausedClient();
    const passA = new CampaignCounters(slow.client, tableName, LAYOUT).repair();
    await slow.reached;

    // Meanwhile a second batch is stored, and pass B finds A's fold under its lease: it gives way.
    await storeBatch(writer, counters, second);
    const passB = await new CampaignCounters(dynamodb, tableName, LAYOUT).repair();
    expect(passB).toMatchObject({ failed: 0, folded: 0, written: 0, gaveWay: true });

    slow.release();
    const a = await passA;
    expect(await new CampaignCounters(dynamodb, tableName, LAYOUT).repair()).toMatchObject({ folded: 1 });
    const [row] = await new CampaignStats(dynamodb, tableName).campaignStats('sori', 'cmp_0');
    expect({ passA: a, impressions: row?.impressions, unique_devices: row?.unique_devices }).toEqual({
      passA: expect.objectContaining({ failed: 0 }),
      impressions: 5,
      unique_devices: 5,
    });
  });
});
