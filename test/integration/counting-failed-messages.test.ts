import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import type { QueueMessage } from '../../lib/events/event-record';
import { CampaignCounters } from '../../lib/ingest/campaign-counters';
import { EventWriter } from '../../lib/ingest/event-writer';
import { storeBatch } from '../../lib/ingest/store-batch';
import { CampaignStats } from '../../lib/queries/campaign-stats';
import { RecordsRepository } from '../../lib/queries/records-repository';
import type { TableLayout } from '../../lib/table/records-table';
import { localClientConfig } from '../../local/local-stack';
import { campaignDayImpressions } from '../support/deliveries';
import { type Fault, type ProxiedCall, startDynamoDbProxy } from '../support/dynamodb-proxy';
import { createTestTable, localClients } from '../support/local-aws';

const { dynamodb } = localClients();
const LAYOUT: TableLayout = { shards: 2, retentionDays: 365 };
const proxies: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

const impressions = campaignDayImpressions;

const mentions = (call: ProxiedCall, text: string) => JSON.stringify(call.input).includes(text);

/** Stores the batch, then redelivers its failed messages until none fails (as SQS does), then repairs. */
async function deliverAndRepair(
  tableName: string,
  client: DynamoDBClient,
  messages: QueueMessage[],
  firstOver: () => void,
) {
  const writer = new EventWriter(client, tableName, LAYOUT);
  const counters = new CampaignCounters(client, tableName, LAYOUT);
  let queue = messages;
  const first = await storeBatch(writer, counters, queue);
  const failedFirst = first.filter((outcome) => !outcome.ok).length;
  firstOver();
  for (let round = 0; queue.length > 0 && round < 10; round++) {
    const outcomes = round === 0 ? first : await storeBatch(writer, counters, queue);
    queue = queue.filter((_, i) => !outcomes[i]?.ok);
  }
  expect(queue).toEqual([]);
  const repair = new CampaignCounters(dynamodb, tableName, LAYOUT);
  for (let pass = 0; pass < 3; pass++) await repair.repair(Date.now() + 120_000);
  const [row] = await new CampaignStats(dynamodb, tableName).campaignStats('sori', 'cmp_0');
  const records = await new RecordsRepository(dynamodb, tableName, LAYOUT).queryEvents({
    provider: 'sori',
    campaign: 'cmp_0',
    since: '2025-10-14T00:00:00.000Z',
    until: '2025-10-14T23:59:59.999Z',
    limit: 100,
  });
  return {
    failedFirst,
    impressions: row?.impressions,
    unique_devices: row?.unique_devices,
    records: records.length,
  };
}

/**
 * Five impressions delivered through a proxy that answers each of the third one's `action` calls of the first
 * delivery (those naming `victim` of its record) with `fault(attempt)`; then redelivered and repaired.
 * @returns how many of those calls the proxy answered so, and what the table then holds.
 */
async function victimDelivery(
  action: 'PutItem' | 'UpdateItem',
  victim: (record: { id: string; device_id?: string | null }) => string,
  fault: (attempt: number) => Fault,
) {
  const { tableName } = await createTestTable(dynamodb, LAYOUT);
  const messages = impressions(5);
  const third = messages[2];
  if (third?.kind !== 'event') throw new Error('no event');
  const text = victim(third.record);
  let attempts = 0;
  let firstDelivery = true;
  const proxy = await startDynamoDbProxy({
    fault: (call): Fault | undefined => {
      if (!firstDelivery || call.action !== action || !mentions(call, text)) return undefined;
      attempts++;
      return fault(attempts);
    },
  });
  proxies.push(proxy);
  const client = new DynamoDBClient(localClientConfig(proxy.endpoint));
  const result = await deliverAndRepair(tableName, client, messages, () => {
    firstDelivery = false;
  });
  return { attempts, result };
}

describe('a message whose record was applied but which failed later', () => {
  it('is counted once when its device marker write is throttled on every attempt (a 400, answered) after its record was stored', async () => {
    // Every attempt of the victim's marker write in the first delivery is throttled (the SDK makes 4 here).
    const { attempts, result } = await victimDelivery(
      'UpdateItem',
      (record) => record.device_id ?? '?',
      () => 'throttle',
    );
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(result).toEqual({ failedFirst: 1, impressions: 5, unique_devices: 5, records: 5 });
  });

  it('is counted once when its record put is applied but every attempt is answered 500 (the first after applying it)', async () => {
    // The victim's record put in the first delivery: applied with its answer lost, every retry answered 500.
    const { attempts, result } = await victimDelivery(
      'PutItem',
      (record) => record.id,
      (attempt) => (attempt === 1 ? 'lose-answer' : 'fail-before'),
    );
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(result).toEqual({ failedFirst: 1, impressions: 5, unique_devices: 5, records: 5 });
  });

  it("is counted once, its device too, when its device's counted flag is applied but every attempt is answered 500 (the first after applying it)", async () => {
    const { attempts, result } = await victimDelivery(
      'UpdateItem',
      (record) => record.device_id ?? '?',
      (attempt) => (attempt === 1 ? 'lose-answer' : 'fail-before'),
    );
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(result).toEqual({ failedFirst: 1, impressions: 5, unique_devices: 5, records: 5 });
  });
});
