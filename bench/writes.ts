// Writes per stored event: DynamoDB write requests, counted by SDK middleware against a local DynamoDB-API
// server, for our consumer and for the same consumer built with Powertools idempotency (the ecosystem's
// standard way to make a consumer idempotent).

import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import {
  CreateTableCommand,
  DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { QueueMessage } from '../lib/events/event-record';
import { CampaignCounters } from '../lib/ingest/campaign-counters';
import { storeBatch } from '../lib/ingest/store-batch';
import { sori } from '../lib/providers/sori';
import { ensureRecordsTable, RecordsRepository } from '../lib/queries/records-repository';
import { buildQueueMessage } from '../lib/receive/build-queue-message';
import { DEFAULT_LAYOUT, deviceMarkerItem, toItem } from '../lib/table/records-table';
import { startDynamoDb } from '../local/aws-servers';
import { localClientConfig } from '../local/local-stack';

const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'BatchWriteItemCommand']);

function countingClient(endpoint: string) {
  const client = new DynamoDBClient(localClientConfig(endpoint));
  const counts = { writes: 0, markers: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (WRITES.has(String(context.commandName))) {
        const item = (args.input as { Item?: Record<string, { S?: string }> }).Item;
        if (item?.kind?.S === 'device') counts.markers++;
        else counts.writes++;
      }
      return next(args);
    },
    { step: 'initialize', name: 'countWrites' },
  );
  return { client, counts };
}

/** Campaign impressions and clicks of a few campaigns and days, each distinct, plus `duplicates` repeats. */
function deliveries(distinct: number, duplicates: number, seed: string): QueueMessage[] {
  const events = Array.from({ length: distinct }, (_, i) => {
    const payload = {
      event: i % 4 === 3 ? 'campaign.click' : 'campaign.impression',
      account_id: 'acc_123456',
      created_at: `2025-10-1${i % 2}T05:${String(i % 60).padStart(2, '0')}:12.421Z`,
      activity_id: `act_${seed}_${i}`,
      device_id: `device_${i % 50}`,
      platform: 'Android',
      metadata: { session: 'abcd-1234' },
      campaign: { id: `cmp_${seed}_${i % 3}`, name: 'Fall Promotion' },
    };
    return buildQueueMessage(sori, Buffer.from(JSON.stringify(payload)), '2026-01-01T00:00:00.000Z');
  });
  const all = [...events];
  for (let i = 0; i < duplicates; i++) all.push(events[(i * 7919) % events.length] as QueueMessage);
  return all.sort((a, b) => (a.record.id + all.indexOf(a) < b.record.id + all.indexOf(b) ? -1 : 1));
}

export interface WritesFigures {
  batchSize: number;
  duplicateShare: number;
  ours: { writesPerStored: number; markersPerStored: number };
  typical: { writesPerStored: number; markersPerStored: number };
  ratio: number;
}

async function ours(endpoint: string, messages: QueueMessage[], batchSize: number, table: string) {
  const { client, counts } = countingClient(endpoint);
  await ensureRecordsTable(client, table);
  counts.writes = 0;
  const records = new RecordsRepository(client, table, DEFAULT_LAYOUT);
  const counters = new CampaignCounters(client, table, DEFAULT_LAYOUT);
  for (let i = 0; i < messages.length; i += batchSize) {
    const outcomes = await storeBatch(records, counters, messages.slice(i, i + batchSize));
    if (outcomes.some((o) => !o.ok)) throw new Error('a benchmark write failed');
  }
  client.destroy();
  return counts;
}

/**
 * The baseline consumer: each record goes through `makeIdempotent` (DynamoDB persistence: an in-progress put,
 * then a completed update), then the record is written and its campaign-day counter incremented, a device
 * marker kept for unique devices, as such consumers are usually written.
 */
async function typical(endpoint: string, messages: QueueMessage[], batchSize: number, table: string) {
  const { client, counts } = countingClient(endpoint);
  await ensureRecordsTable(client, table);
  await client.send(
    new CreateTableCommand({
      TableName: `${table}-idempotency`,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    }),
  );
  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName: `${table}-idempotency`,
    awsSdkV3Client: client,
  });
  const config = new IdempotencyConfig({ eventKeyJmesPath: 'record.id' });
  config.registerLambdaContext({ getRemainingTimeInMillis: () => 30_000 } as never);
  const storeOne = makeIdempotent(
    async (message: QueueMessage) => {
      await client.send(new PutItemCommand({ TableName: table, Item: toItem(message) }));
      if (message.kind !== 'event' || !message.record.campaign_id) return 'stored';
      const day = message.record.created_at.slice(0, 10);
      await client.send(
        new UpdateItemCommand({
          TableName: table,
          Key: { pk: { S: `STATS#sori#${message.record.campaign_id}` }, sk: { S: day } },
          UpdateExpression: 'ADD #counter :one',
          ExpressionAttributeNames: {
            '#counter': message.record.event === 'campaign.click' ? 'clicks' : 'impressions',
          },
          ExpressionAttributeValues: { ':one': { N: '1' } },
        }),
      );
      if (message.record.device_id) {
        const marker = deviceMarkerItem(
          { ...message.record, campaign_id: message.record.campaign_id, device_id: message.record.device_id },
          DEFAULT_LAYOUT,
        );
        try {
          await client.send(
            new PutItemCommand({
              TableName: table,
              Item: marker,
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          );
          await client.send(
            new UpdateItemCommand({
              TableName: table,
              Key: { pk: { S: `STATS#sori#${message.record.campaign_id}` }, sk: { S: day } },
              UpdateExpression: 'ADD unique_devices :one',
              ExpressionAttributeValues: { ':one': { N: '1' } },
            }),
          );
        } catch {}
      }
      return 'stored';
    },
    { persistenceStore, config },
  );
  counts.writes = 0;
  // Two copies of one event in flight at once: the second fails as "in progress" and SQS redelivers it later.
  let pending = [...messages];
  while (pending.length > 0) {
    const retry: QueueMessage[] = [];
    for (let i = 0; i < pending.length; i += batchSize) {
      const batch = pending.slice(i, i + batchSize);
      const results = await Promise.allSettled(batch.map((message) => storeOne(message)));
      results.forEach((result, j) => {
        if (result.status === 'rejected') retry.push(batch[j] as QueueMessage);
      });
    }
    pending = retry;
  }
  client.destroy();
  return counts;
}

export async function measureWrites(): Promise<WritesFigures[]> {
  const server = await startDynamoDb();
  const results: WritesFigures[] = [];
  try {
    let run = 0;
    for (const batchSize of [10, 100]) {
      for (const duplicateShare of [0, 0.3]) {
        const total = 1000;
        const duplicates = Math.round(total * duplicateShare);
        const distinct = total - duplicates;
        const messages = deliveries(distinct, duplicates, `w${run}`);
        const a = await ours(server.endpoint, messages, batchSize, `ours-${run}`);
        const b = await typical(server.endpoint, messages, batchSize, `typical-${run}`);
        run++;
        const per = (counts: { writes: number; markers: number }) => ({
          writesPerStored: counts.writes / distinct,
          markersPerStored: counts.markers / distinct,
        });
        results.push({
          batchSize,
          duplicateShare,
          ours: per(a),
          typical: per(b),
          ratio: a.writes / b.writes,
        });
      }
    }
  } finally {
    await server.stop();
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await measureWrites(), null, 2));
}
