/**
 * Two repair passes at once (the schedule's and `doctor`'s, or a scheduled pass still running when the next one
 * starts): one finishing a fold another pass has already finished, and followed by a newer fold on the same
 * counter item. The slow pass is a client whose one read of the counter item waits until the other pass is
 * done: a stand-in for a pass paused mid-way (throttled retries, a slow link), which the local server cannot be
 * made to do on demand; everything else is the real local server.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { CampaignCounters } from '../../lib/ingest/campaign-counters';
import { storeBatch } from '../../lib/ingest/store-batch';
import { sori } from '../../lib/providers/sori';
import { CampaignStats } from '../../lib/queries/campaign-stats';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import type { TableLayout } from '../../lib/table/records-table';
import { localClientConfig } from '../../local/local-stack';
import { soriPayload } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';

const { dynamodb } = localClients();
const LAYOUT: TableLayout = { shards: 2, retentionDays: 365 };

function impressions(count: number) {
  const seed = randomUUID().slice(0, 6);
  const base = soriPayload('impression');
  return Array.from({ length: count }, (_, i) => {
    const payload = {
      ...base,
      event: 'campaign.impression',
      activity_id: `act_${seed}_${i}`,
      device_id: `device_${seed}_${i}`,
      created_at: '2025-10-14T05:00:00.000Z',
      campaign: { ...(base.campaign as object), id: 'cmp_0' },
    };
    return buildQueueMessage(sori, Buffer.from(JSON.stringify(payload)), '2026-01-01T00:00:00.000Z');
  });
}

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
