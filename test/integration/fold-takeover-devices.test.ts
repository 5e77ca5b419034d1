/**
 * A fold that stops after writing its devices' days (its counter item could not be written) is taken over by the
 * next pass. The takeover must keep that work: a device whose item already holds this fold's days needs no second
 * write. Otherwise a fold too slow for its deadline (5,000 devices, a query and a put each, on a table answering
 * in 70 ms) starts from nothing at every takeover and never ends, and no batch after it is ever folded. Against
 * the local DynamoDB-API server; a proxy (test/support/dynamodb-proxy.ts) fails the counter item's writes, which
 * a real server cannot be made to do on demand, and counts the takeover's writes.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { CampaignCounters } from '../../lib/ingest/campaign-counters';
import { storeBatch } from '../../lib/ingest/store-batch';
import type { TableLayout } from '../../lib/table/records-table';
import { localClientConfig } from '../../local/local-stack';
import { campaignDayImpressions } from '../support/deliveries';
import { type ProxiedCall, startDynamoDbProxy } from '../support/dynamodb-proxy';
import { createTestTable, localClients } from '../support/local-aws';

const { dynamodb } = localClients();
const LAYOUT: TableLayout = { shards: 1, retentionDays: null };
const DEVICES = 20;

const proxies: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

const putKey = (call: ProxiedCall) =>
  call.action === 'PutItem' ? String((call.input.Item as { pk?: { S?: string } })?.pk?.S) : '';

describe('a fold taken over after its devices were written', () => {
  it("writes no device's days again: the takeover keeps what the fold it takes over wrote", async () => {
    const { tableName, writer, counters, stats } = await createTestTable(dynamodb, LAYOUT);
    await storeBatch(writer, counters, campaignDayImpressions(DEVICES));

    // The first pass writes every device's days, then cannot write the counter item.
    const failing = await startDynamoDbProxy({
      fault: (call) => (putKey(call).startsWith('STATS#sori#') ? 'fail-before' : undefined),
    });
    proxies.push(failing);
    const first = await new CampaignCounters(
      new DynamoDBClient(localClientConfig(failing.endpoint)),
      tableName,
      LAYOUT,
    ).repair();
    expect(first).toMatchObject({ folded: 0 });
    expect(failing.calls.filter((call) => putKey(call).startsWith('REACH#'))).toHaveLength(DEVICES);

    // The next pass takes the fold over (released when it failed) and finishes it.
    const counting = await startDynamoDbProxy();
    proxies.push(counting);
    const takeover = await new CampaignCounters(
      new DynamoDBClient(localClientConfig(counting.endpoint)),
      tableName,
      LAYOUT,
    ).repair();
    expect(takeover).toMatchObject({ failed: 0, folded: 1 });
    expect(await stats.campaignStats('sori', 'cmp_0')).toEqual([
      expect.objectContaining({ impressions: DEVICES, unique_devices: DEVICES }),
    ]);
    expect(counting.calls.filter((call) => putKey(call).startsWith('REACH#'))).toHaveLength(0);
  });
});
