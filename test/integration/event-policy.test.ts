/**
 * Each event carries its provider's policy from receipt (placement, whether it counts, the state it moves), so
 * the table and the consumer never ask the provider registry: an upgrade that changes a provider's mapping
 * changes nothing about events already received, and a message of the earlier layout still in the queue is
 * completed from the current code. Against the local DynamoDB-API server.
 */
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import type { QueueMessage } from '../../lib/events/event-record';
import { CampaignCounters, newClaimToken } from '../../lib/ingest/campaign-counters';
import { storeBatch } from '../../lib/ingest/store-batch';
import { sori } from '../../lib/providers/sori';
import { CampaignStats } from '../../lib/queries/campaign-stats';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { openBatchItem } from '../../lib/table/counter-items';
import { eventPartitionKey, RECORD_SORT_KEY, type TableLayout } from '../../lib/table/records-table';
import { soriPayload } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';

const { dynamodb } = localClients();
const LAYOUT: TableLayout = { shards: 1, retentionDays: null };
const DAY = '2026-04-02';

function impression(activity: string, device: string): QueueMessage & { kind: 'event' } {
  const payload = {
    ...soriPayload('impression'),
    activity_id: activity,
    device_id: device,
    created_at: `${DAY}T08:00:00.000Z`,
  };
  const message = buildQueueMessage(sori, Buffer.from(JSON.stringify(payload)), `${DAY}T08:00:01.000Z`);
  if (message.kind !== 'event') throw new Error('expected an event');
  return message;
}

const campaignOf = (message: QueueMessage & { kind: 'event' }) => message.record.campaign_id ?? '';

async function dayCount(tableName: string, campaign: string) {
  const [item] = await new CampaignStats(dynamodb, tableName).counterItems('sori', campaign);
  return { impressions: item?.counts['campaign.impression'] ?? 0, devices: item?.unique_devices ?? 0 };
}

describe('the policy an event was received with', () => {
  it('is written into every message the receive side builds (version 2)', () => {
    const message = impression('act_policy_0', 'dev_0');
    expect(message).toMatchObject({ v: 2, policy: { keyed_by_id: false, counted: true, state: null } });
  });

  it('completes a message of the earlier layout (version 1, no policy) from the current code: stored and counted as before', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb, LAYOUT);
    const { policy, ...rest } = impression('act_policy_1', 'dev_1');
    const earlier = { ...rest, v: 1 as const };
    expect(policy).toBeDefined();
    expect(await storeBatch(writer, counters, [earlier])).toEqual([{ ok: true, outcome: 'stored' }]);
    await counters.repair();
    expect(await dayCount(tableName, campaignOf(impression('x', 'y')))).toEqual({
      impressions: 1,
      devices: 1,
    });
  });

  it('decides whether an event moves unique devices, not the current code: one received as not counted stays so, in the batch and in the recount of a killed batch', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb, LAYOUT);
    const uncounted = (activity: string, device: string) => {
      const message = impression(activity, device);
      return { ...message, policy: { ...message.policy, counted: false } } as QueueMessage;
    };
    await storeBatch(writer, counters, [uncounted('act_policy_2', 'dev_2')]);
    // A batch killed after its writes, its entry open two minutes ago: the repair recounts it from its writes.
    const killed = uncounted('act_policy_3', 'dev_3');
    const token = newClaimToken(Date.now() - 120_000);
    if (killed.kind !== 'event') throw new Error('expected an event');
    const key = { provider: 'sori', campaignId: killed.record.campaign_id ?? '', day: DAY };
    await dynamodb.send(
      new PutItemCommand({
        TableName: tableName,
        Item: openBatchItem(token, [{ key, name: null, counted: [] }]),
      }),
    );
    await writer.store(killed, `${token}.0`);
    await writer.markDevice(killed.record, false, `${token}.0`);
    expect(await counters.repair()).toMatchObject({ recounted: 1, failed: 0 });
    // Both events are stored and listed, and neither moved unique devices.
    expect(await dayCount(tableName, key.campaignId)).toEqual({ impressions: 2, devices: 0 });
  });

  it('places an event keyed by id alone under its id, whatever its provider is', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb, LAYOUT);
    const message = impression('act_policy_4', 'dev_4');
    const keyed = {
      ...message,
      policy: { ...message.policy, keyed_by_id: true, counted: false },
    } as QueueMessage;
    await storeBatch(writer, new CampaignCounters(dynamodb, tableName, LAYOUT), [keyed]);
    await counters.repair();
    const { Item } = await dynamodb.send(
      new GetItemCommand({
        TableName: tableName,
        Key: { pk: { S: eventPartitionKey(message.record.id) }, sk: { S: RECORD_SORT_KEY } },
      }),
    );
    expect(Item?.id?.S).toBe(message.record.id);
  });
});
