/**
 * A campaign-day folded before reach histograms were kept, then touched by a fold after the upgrade: its devices
 * must still count as new to any range (the documented over-count), never disappear. Against the local
 * DynamoDB-API server; the day's counter item as the earlier version left it (devices, no histogram) is written
 * with the fold's own item builder, since this version's code can no longer produce one.
 */
import { randomUUID } from 'node:crypto';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { sori } from '../../lib/providers/sori';
import { DashboardReader, dayQuery } from '../../lib/queries/dashboard';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { counterItem } from '../../lib/table/counter-items';
import type { TableLayout } from '../../lib/table/records-table';
import { soriPayload } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';
import { storeAndFold } from '../support/store-and-fold';

const { dynamodb } = localClients();
const LAYOUT: TableLayout = { shards: 1, retentionDays: null };
const DAY = '2026-04-10';
const CAMPAIGN = 'cmp_upgraded';
/** Devices the earlier version counted on the day, before the upgrade. */
const BEFORE_UPGRADE = 5;

describe('a day folded before the upgrade, then folded again after it', () => {
  it('keeps the devices counted before the upgrade in the day unique devices, per campaign and in total', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb, LAYOUT);
    // The earlier version's counter item: the day's unique devices, no reach histogram.
    await dynamodb.send(
      new PutItemCommand({
        TableName: tableName,
        Item: counterItem(
          { provider: 'sori', campaignId: CAMPAIGN, day: DAY },
          {
            counts: {},
            devices: BEFORE_UPGRADE,
            name: null,
            version: 1,
            fold: 'before-upgrade',
            legacyClaims: new Map(),
            types: ['campaign.impression'],
          },
        ),
      }),
    );
    // After the upgrade, one late impression of a device not seen before on that day.
    const payload = {
      ...soriPayload('impression'),
      activity_id: `act_${randomUUID()}`,
      device_id: `dev_new_${randomUUID().slice(0, 8)}`,
      created_at: `${DAY}T12:00:00.000Z`,
      campaign: { ...(soriPayload('impression').campaign as object), id: CAMPAIGN },
    };
    await storeAndFold(writer, counters, [
      buildQueueMessage(sori, Buffer.from(JSON.stringify(payload)), `${DAY}T12:00:01.000Z`),
    ]);

    const dashboard = await new DashboardReader(dynamodb, tableName, LAYOUT).read(dayQuery(DAY));
    // Five devices before the upgrade and one new one: six (the earlier devices may be over-counted over a
    // range, never dropped).
    expect(dashboard.campaigns).toEqual([
      expect.objectContaining({ campaign_id: CAMPAIGN, unique_devices: BEFORE_UPGRADE + 1 }),
    ]);
    expect(dashboard.daily).toEqual([
      expect.objectContaining({ day: DAY, unique_devices: BEFORE_UPGRADE + 1 }),
    ]);
    expect(dashboard.totals.unique_devices).toBe(BEFORE_UPGRADE + 1);
  });
});
