import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createProcessWebhook } from '../../functions/process-webhook/process-webhook';
import { createReceiveHandler } from '../../functions/receive-webhook/receive-webhook';
import { CampaignCounters } from '../../lib/ingest/campaign-counters';
import { EventWriter } from '../../lib/ingest/event-writer';
import { sori } from '../../lib/providers/sori';
import { CampaignStats } from '../../lib/queries/campaign-stats';
import { RecordsRepository } from '../../lib/queries/records-repository';
import { EventQueue } from '../../lib/queue/event-queue';
import { sdkSendMessage } from '../../lib/queue/sdk-send-message';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { rotateSecret } from '../../lib/signature/rotate-secret';
import { StaticSigningSecrets } from '../../lib/signature/signing-secrets';
import { DEFAULT_LAYOUT } from '../../lib/table/records-table';
import { startDynamoDb, startSqs } from '../../local/aws-servers';
import { ensureRecordsTable } from '../../local/create-records-table';
import { localClientConfig, queueDepth } from '../../local/local-stack';
import { SqsPoller } from '../../local/sqs-poller';
import {
  hexSignature,
  memoryLogger,
  SORI_FIXTURES,
  soriBody,
  soriPayload,
  webhookEvent,
} from '../support/deliveries';
import { generatedSecretDocument, loadDeployedReceive } from '../support/deployed-receive';
import { createTestQueues, createTestTable, eventually, localClients } from '../support/local-aws';

const SECRET = 'sk_faults';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const invoke = (handler: ReturnType<typeof createReceiveHandler>, event: APIGatewayProxyEventV2) =>
  handler(event, {} as never) as Promise<APIGatewayProxyStructuredResultV2>;
const signed = (body: string, secret = SECRET) =>
  webhookEvent({ body, headers: { 'x-sori-signature': hexSignature(body, secret) } });

describe('faults', () => {
  it('queue down: 503 and nothing stored; the retried delivery is stored once after the queue is back', async () => {
    // A real SQS-API server, stopped and started again on the same port.
    let sqsServer = await startSqs();
    const port = sqsServer.port;
    const sqs = new SQSClient({ ...localClientConfig(sqsServer.endpoint), maxAttempts: 2 });
    const createQueue = async () =>
      (await sqs.send(new CreateQueueCommand({ QueueName: 'events' }))).QueueUrl ?? '';
    const queueUrl = await createQueue();
    const { dynamodb } = localClients();
    const { repository, writer, counters } = await createTestTable(dynamodb);
    const receive = createReceiveHandler({
      queue: new EventQueue(sdkSendMessage(sqs), queueUrl),
      secrets: new StaticSigningSecrets({ sori: { current: SECRET } }),
      maxBodyBytes: 262_144,
      logger: memoryLogger().logger,
    });
    const body = soriBody('impression');

    await sqsServer.stop();
    expect((await invoke(receive, signed(body))).statusCode).toBe(503);

    sqsServer = await startSqs({ port });
    await createQueue();
    try {
      expect((await invoke(receive, signed(body))).statusCode).toBe(202);
      const process = createProcessWebhook({ writer, counters, logger: memoryLogger().logger });
      const poller = new SqsPoller({
        client: sqs,
        queueUrl,
        queueArn: 'arn:aws:sqs:us-east-1:000000000000:events',
        handler: process,
        logger: memoryLogger().logger,
      });
      await poller.pollOnce();
      expect(
        await repository.queryEvents({ provider: 'sori', campaign: 'cmp_1234', limit: 10 }),
      ).toHaveLength(1);
      expect(await queueDepth(sqs, queueUrl)).toBe(0);
    } finally {
      sqs.destroy();
      await sqsServer.stop();
    }
  });

  it('DynamoDB down in the consumer: every record retried, then each stored exactly once with exact counters', async () => {
    // A real DynamoDB-API server with its data on disk, stopped and started again on the same port.
    const dir = await mkdtemp(join(tmpdir(), 'inbox-ddb-'));
    let server = await startDynamoDb({ path: dir });
    const port = server.port;
    const dynamodb = new DynamoDBClient({ ...localClientConfig(server.endpoint), maxAttempts: 1 });
    await ensureRecordsTable(dynamodb, 'records');
    const records = new RecordsRepository(dynamodb, 'records', DEFAULT_LAYOUT);
    const writer = new EventWriter(dynamodb, 'records', DEFAULT_LAYOUT);
    const counters = new CampaignCounters(dynamodb, 'records', DEFAULT_LAYOUT, 1_000);
    const { sqs } = localClients();
    const { queueUrl, queueArn } = await createTestQueues(sqs, { visibilityTimeout: 1, maxReceiveCount: 10 });
    const process = createProcessWebhook({ writer, counters, logger: memoryLogger().logger });
    const poller = new SqsPoller({
      client: sqs,
      queueUrl,
      queueArn,
      handler: process,
      logger: memoryLogger().logger,
    });
    for (const name of SORI_FIXTURES) {
      const message = buildQueueMessage(sori, Buffer.from(soriBody(name)), new Date().toISOString());
      // Each event twice, as SORI's retries would arrive.
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(message) }));
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(message) }));
    }
    try {
      await server.stop();
      expect(await poller.pollOnce()).toBeGreaterThan(0);
      expect(await queueDepth(sqs, queueUrl)).toBe(SORI_FIXTURES.length * 2);

      server = await startDynamoDb({ path: dir, port });
      poller.start();
      await eventually(
        async () => ((await queueDepth(sqs, queueUrl)) === 0 ? true : undefined),
        20_000,
        'queue drained',
      );
      await poller.stop();
      // The scheduled repair's pass, which folds the batches' counts into the counter items.
      await counters.repair();
      const campaign = await records.queryEvents({ provider: 'sori', campaign: 'cmp_1234', limit: 10 });
      const legacy = await records.queryEvents({ provider: 'sori', campaign: 'string', limit: 10 });
      const device = await records.queryEvents({ provider: 'sori', device: 'device_abc', limit: 10 });
      expect(campaign.map((e) => e.event).sort()).toEqual(['campaign.click', 'campaign.impression']);
      expect(legacy).toHaveLength(2);
      expect(device).toHaveLength(3);
      expect(await new CampaignStats(dynamodb, 'records').campaignStats('sori', 'cmp_1234')).toEqual([
        expect.objectContaining({ impressions: 1, clicks: 1, unique_devices: 1 }),
      ]);
    } finally {
      await poller.stop();
      dynamodb.destroy();
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('secret rotated while signed deliveries are in flight with a warm cache: no authentic delivery is refused', async () => {
    // The deployed handler module with the construct's environment (test/support/deployed-receive.ts). Secrets
    // Manager has no local server: the harness's stand-in serves GetSecretValue and holds each answer back
    // 300 ms, so the refresh is in flight while deliveries run. Deliveries run concurrently in one container
    // here, more than Lambda ever gives one, so every one of them meets the cache refresh.
    const before = rotateSecret(generatedSecretDocument(), 'sori', 'sk_rotation_old');
    const receive = await loadDeployedReceive({
      document: before,
      env: { SIGNING_SECRET_TTL_SECONDS: '2' },
    });
    type Outcome = { key: 'old' | 'new'; status: number; start: number; end: number };
    const outcomes: Outcome[] = [];
    let sent = 0;
    const deliver = async (key: 'old' | 'new') => {
      const body = JSON.stringify({ ...soriPayload('impression'), activity_id: `act_rot_${sent++}` });
      const secret = key === 'old' ? 'sk_rotation_old' : 'sk_rotation_new';
      const start = Date.now();
      const { response } = await receive.invoke({
        path: '/webhooks/sori',
        headers: { 'content-type': 'application/json', 'x-sori-signature': hexSignature(body, secret) },
        body,
      });
      outcomes.push({ key, status: response.statusCode ?? 0, start, end: Date.now() });
    };
    try {
      await deliver('old');
      expect(receive.secretsManager.calls).toBe(1);
      receive.secretsManager.delayMs = 300;

      let newKeyLive = false;
      let stop = false;
      const streams = Array.from({ length: 6 }, async (_, stream) => {
        for (let i = 0; !stop; i++) await deliver(newKeyLive && (i + stream) % 2 === 0 ? 'new' : 'old');
      });
      await sleep(200);
      // Still the first read: the deliveries so far were verified from a warm cache.
      expect(receive.secretsManager.calls).toBe(1);
      const rotatedAt = Date.now();
      receive.secretsManager.document = rotateSecret(before, 'sori', 'sk_rotation_new');
      await eventually(
        async () => (receive.secretsManager.answered >= 2 ? true : undefined),
        10_000,
        'refresh',
      );
      const refreshedAt = Date.now();
      // SORI signs with the new key only after it is set here; from now on, half the deliveries use it.
      newKeyLive = true;
      await sleep(500);
      stop = true;
      await Promise.all(streams);

      const refused = outcomes.filter((outcome) => outcome.status !== 202);
      expect(refused).toEqual([]);
      const oldKey = outcomes.filter((outcome) => outcome.key === 'old');
      expect(oldKey.filter((outcome) => outcome.end < rotatedAt).length).toBeGreaterThan(0);
      // Sent after the rotation, answered only once the refresh was: they waited on it.
      const throughRefresh = oldKey.filter((o) => o.start > rotatedAt && o.end >= refreshedAt - 5);
      expect(throughRefresh.length).toBeGreaterThan(0);
      expect(oldKey.filter((outcome) => outcome.start > refreshedAt).length).toBeGreaterThan(0);
      expect(outcomes.filter((outcome) => outcome.key === 'new').length).toBeGreaterThan(0);
      expect(await receive.takeQueued()).toHaveLength(outcomes.length);

      const forged = JSON.stringify({ ...soriPayload('impression'), activity_id: 'act_rot_forged' });
      const { response } = await receive.invoke({
        path: '/webhooks/sori',
        headers: { 'x-sori-signature': hexSignature(forged, 'sk_rotation_unknown') },
        body: forged,
      });
      expect(response.statusCode).toBe(401);
    } finally {
      await receive.close();
    }
  });
});
