import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { Webhook } from 'standardwebhooks';
import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProcessWebhook } from '../../functions/process-webhook/process-webhook';
import { createReceiveHandler } from '../../functions/receive-webhook/receive-webhook';
import { QueueMessageSchema } from '../../lib/events/event-record';
import { CampaignCounters } from '../../lib/ingest/campaign-counters';
import { EventWriter } from '../../lib/ingest/event-writer';
import { reprocessQuarantine } from '../../lib/ingest/reprocess';
import { storeBatch } from '../../lib/ingest/store-batch';
import { CountingMetrics, METRIC } from '../../lib/metrics';
import { customProviderSecrets, registerCustomProviders } from '../../lib/providers/declarative';
import { RecordsRepository } from '../../lib/queries/records-repository';
import { EventQueue } from '../../lib/queue/event-queue';
import { redriveMessages } from '../../lib/queue/redrive';
import { sdkSendMessage } from '../../lib/queue/sdk-send-message';
import { type SigningSecretDocument, StaticSigningSecrets } from '../../lib/signature/signing-secrets';
import { DEFAULT_LAYOUT } from '../../lib/table/records-table';
import { ensureRecordsTable } from '../../local/create-records-table';
import { type LocalStack, queueDepth, startLocalStack } from '../../local/local-stack';
import { SqsPoller } from '../../local/sqs-poller';
import { memoryLogger, webhookEvent } from '../support/deliveries';
import { runEvents } from '../support/events-cli';
import {
  createTestQueues,
  createTestTable,
  eventually,
  localClients,
  takeMessages,
  uniqueName,
} from '../support/local-aws';

// Two providers added by configuration alone: the worked example of docs/custom-providers.md, read from the page
// itself, so that the page shows what runs. No provider code is written for them here or anywhere.
const DOCS = readFileSync(join(import.meta.dirname, '../../docs/custom-providers.md'), 'utf8');
function exampleConfiguration(): string {
  const after = DOCS.slice(DOCS.indexOf('<!-- example: CUSTOM_PROVIDERS -->'));
  const block = /```json\n([\s\S]*?)\n```/.exec(after)?.[1];
  if (!block) throw new Error('docs/custom-providers.md has no example configuration');
  return block;
}
const EXAMPLE = exampleConfiguration();

const ACME_SECRET = 'acme-signing-secret';
// The Standard Webhooks libraries' test key: a sender shows its secret in this form, prefix included.
const BEACON_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
/** The environment `npm start` reads the configured providers' secrets from. */
const SECRETS_ENV = { ACME_ADS_SECRET_KEY: ACME_SECRET, BEACON_SECRET_KEY: BEACON_SECRET };

const { dynamodb, sqs } = localClients();

/** Beacon's request: the body, and the headers the `standardwebhooks` package signs them with. */
function beaconRequest(body: string, msgId: string, signedAt: number, secret = BEACON_SECRET) {
  return {
    body,
    headers: {
      'webhook-id': msgId,
      'webhook-timestamp': String(Math.floor(signedAt / 1000)),
      'webhook-signature': new Webhook(secret).sign(msgId, new Date(signedAt), body),
    },
  };
}

/** Acme's request: `sha256=` + hex HMAC-SHA256 of `<timestamp>.<body>`, as its (fictional) document says. */
function acmeRequest(body: string, signedAt: number, secret = ACME_SECRET) {
  const timestamp = String(Math.floor(signedAt / 1000));
  const digest = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return { body, headers: { 'x-acme-timestamp': timestamp, 'x-acme-signature': `sha256=${digest}` } };
}

const beaconBody = (campaign: string, type: string, at: number, device = 'dev_beacon') =>
  JSON.stringify({
    type,
    timestamp: new Date(at).toISOString(),
    data: { campaign_id: campaign, device_id: device },
  });

const acmeBody = (campaign: string, eventId: string, type: string, at: number) =>
  JSON.stringify({
    event_id: eventId,
    type,
    occurred_at: new Date(at).toISOString(),
    data: { campaign: { id: campaign, name: 'Spring sale' }, viewer: { device_id: 'dev_acme' } },
  });

beforeAll(() => registerCustomProviders(EXAMPLE));
afterAll(() => registerCustomProviders(undefined));

describe('providers added by configuration, through the local stack', () => {
  let dataDir: string;
  let stack: LocalStack;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-custom-'));
    stack = await startLocalStack({
      port: 0,
      dataDir,
      secret: 'sk_sori',
      credentials: customProviderSecrets(SECRETS_ENV),
      logger: memoryLogger().logger,
    });
  });

  afterAll(async () => {
    await stack.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const post = async (provider: string, request: { body: string; headers: Record<string, string> }) => {
    const response = await fetch(`http://127.0.0.1:${stack.port}/webhooks/${provider}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...request.headers },
      body: request.body,
    });
    return { status: response.status, body: (await response.json()) as Record<string, string> };
  };
  /** Every delivery stored, and a counter repair pass run after it. */
  const drained = async () => {
    await eventually(async () => ((await queueDepth(stack.sqs, stack.queueUrl)) === 0 ? true : undefined));
    await stack.foldNow();
  };
  const day = (at: number) => new Date(at).toISOString().slice(0, 10);
  /** `npm run events -- query --provider <name> --since <day> --until <day> --json`, one campaign's lines. */
  const query = async (provider: string, campaign: string, at: number) => {
    const result = await runEvents(
      ['query', '--provider', provider, '--since', day(at), '--until', day(at), '--json'],
      { DATA_DIR: dataDir },
    );
    if (result.code !== 0) throw Object.assign(new Error(result.stderr), result);
    return result.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((record) => record.campaign_id === campaign);
  };
  /** `npm run events -- stats --provider <name> --campaign <id> --json`: that campaign's day. */
  const stats = async (provider: string, campaign: string, at: number) => {
    const result = await runEvents(
      [
        'stats',
        '--provider',
        provider,
        '--campaign',
        campaign,
        '--since',
        day(at),
        '--until',
        day(at),
        '--json',
      ],
      { DATA_DIR: dataDir },
    );
    if (result.code !== 0) throw Object.assign(new Error(result.stderr), result);
    return result.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  };

  it("verifies Beacon's Standard Webhooks deliveries signed by the standardwebhooks package, stores each webhook-id once, and queries and counts them", async () => {
    const campaign = uniqueName('cmp_beacon');
    const now = Date.now();
    const impression = beaconBody(campaign, 'impression.recorded', now);
    const first = await post('beacon', beaconRequest(impression, 'msg_impression_1', now));
    // The sender's retry: the same webhook-id, signed anew a minute later.
    const retry = await post('beacon', beaconRequest(impression, 'msg_impression_1', now + 60_000));
    const click = await post(
      'beacon',
      beaconRequest(beaconBody(campaign, 'click.recorded', now), 'msg_click_1', now),
    );
    expect([first.status, retry.status, click.status]).toEqual([202, 202, 202]);
    expect(first.body).toEqual({ status: 'accepted', id: expect.stringMatching(/^beacon_/) });
    expect(retry.body.id).toBe(first.body.id);
    expect(click.body.id).not.toBe(first.body.id);
    await drained();

    const records = await query('beacon', campaign, now);
    expect(records.map((record) => [record.event, record.activity_id]).sort()).toEqual([
      ['click.recorded', 'msg_click_1'],
      ['impression.recorded', 'msg_impression_1'],
    ]);
    expect(records[0]).toMatchObject({
      provider: 'beacon',
      device_id: 'dev_beacon',
      created_at: new Date(now).toISOString(),
    });
    expect(await stats('beacon', campaign, now)).toEqual([
      expect.objectContaining({ campaign_id: campaign, impressions: 1, clicks: 1, unique_devices: 1 }),
    ]);
  });

  it("verifies Acme's HMAC over <timestamp>.<body>, stores each event id once, and queries and counts it", async () => {
    const campaign = uniqueName('cmp_acme');
    const now = Date.now();
    const body = acmeBody(campaign, 'evt_1001', 'ad.clicked', now);
    const first = await post('acme-ads', acmeRequest(body, now));
    const retry = await post('acme-ads', acmeRequest(body, now + 30_000));
    const hidden = await post('acme-ads', acmeRequest(acmeBody(campaign, 'evt_1002', 'ad.hidden', now), now));
    expect([first.status, retry.status, hidden.status]).toEqual([202, 202, 202]);
    expect(retry.body.id).toBe(first.body.id);
    await drained();

    const records = await query('acme-ads', campaign, now);
    expect(records).toHaveLength(2);
    expect(records.find((record) => record.event === 'ad.clicked')).toMatchObject({
      provider: 'acme-ads',
      campaign_name: 'Spring sale',
      device_id: 'dev_acme',
      activity_id: 'evt_1001',
    });
    // ad.hidden is one of its events but not counted.
    expect(await stats('acme-ads', campaign, now)).toEqual([
      expect.objectContaining({ impressions: 0, clicks: 1 }),
    ]);
  });

  it('refuses at receipt a delivery whose signed timestamp is over 5 minutes old or ahead, and stores nothing of it', async () => {
    const campaign = uniqueName('cmp_stale');
    const now = Date.now();
    const body = beaconBody(campaign, 'impression.recorded', now);
    const stale = await post('beacon', beaconRequest(body, 'msg_stale', now - 6 * 60_000));
    const ahead = await post('beacon', beaconRequest(body, 'msg_ahead', now + 6 * 60_000));
    const acmeStale = await post(
      'acme-ads',
      acmeRequest(acmeBody(campaign, 'evt_stale', 'ad.viewed', now), now - 6 * 60_000),
    );
    expect([stale, ahead, acmeStale]).toEqual(
      Array(3).fill({ status: 401, body: { message: 'Unauthorized' } }),
    );
    await drained();
    expect(await query('beacon', campaign, now)).toEqual([]);
    expect(await query('acme-ads', campaign, now)).toEqual([]);
  });

  it('refuses a delivery signed with another secret, one whose id or timestamp is not what was signed, and one with no signature', async () => {
    const now = Date.now();
    const body = beaconBody(uniqueName('cmp_forged'), 'impression.recorded', now);
    const signed = beaconRequest(body, 'msg_forged', now);
    const answers = await Promise.all([
      post(
        'beacon',
        beaconRequest(body, 'msg_forged', now, 'whsec_b3RoZXItc2VjcmV0LW9mLTMyLWJ5dGVzLi4uLi4='),
      ),
      post('beacon', { body, headers: { ...signed.headers, 'webhook-id': 'msg_other' } }),
      post('beacon', {
        body,
        headers: { ...signed.headers, 'webhook-timestamp': String(Math.floor(now / 1000) + 1) },
      }),
      post('beacon', { body, headers: {} }),
      post('acme-ads', acmeRequest(acmeBody('cmp_x', 'evt_x', 'ad.viewed', now), now, 'wrong-secret')),
    ]);
    expect(answers.map((answer) => answer.status)).toEqual([401, 401, 401, 401, 401]);
  });

  it('quarantines an authentic delivery missing a configured field, with a reason naming the field', async () => {
    const now = Date.now();
    const body = JSON.stringify({
      type: 'impression.recorded',
      timestamp: new Date(now).toISOString(),
      data: {},
    });
    const answer = await post('beacon', beaconRequest(body, `msg_${randomUUID()}`, now));
    expect(answer).toEqual({
      status: 202,
      body: {
        status: 'quarantined',
        id: expect.stringMatching(/^beacon_q_/),
        reason: 'invalid beacon event: data.campaign_id: missing (the campaign id)',
      },
    });
  });
});

describe('a delivery accepted in time is never authenticated again', () => {
  const HOUR = 3_600_000;

  /** The receive function as deployed, its clock set to `receivedAt`, sending to a real queue. */
  const receiveAt = (receivedAt: number, queueUrl: string, metrics?: CountingMetrics) =>
    createReceiveHandler({
      queue: new EventQueue(sdkSendMessage(sqs), queueUrl),
      secrets: new StaticSigningSecrets(customProviderSecrets(SECRETS_ENV) as SigningSecretDocument),
      maxBodyBytes: 1024 * 1024,
      logger: memoryLogger().logger,
      ...(metrics ? { metrics } : {}),
      now: () => new Date(receivedAt),
    });
  const send = async (
    handler: ReturnType<typeof receiveAt>,
    provider: string,
    request: { body: string; headers: Record<string, string> },
  ) =>
    (await handler(webhookEvent({ provider, ...request }), {} as never)) as APIGatewayProxyStructuredResultV2;

  it('stores a Standard Webhooks delivery redriven from the dead-letter queue an hour past its tolerance; the same request is refused at receipt by then', async () => {
    const signedAt = Date.now() - HOUR;
    const campaign = uniqueName('cmp_redrive');
    const request = beaconRequest(
      beaconBody(campaign, 'impression.recorded', signedAt),
      'msg_redrive',
      signedAt,
    );
    const { queueUrl, queueArn, dlqUrl } = await createTestQueues(sqs, {
      visibilityTimeout: 1,
      maxReceiveCount: 2,
    });

    expect((await send(receiveAt(signedAt + 1_000, queueUrl), 'beacon', request)).statusCode).toBe(202);
    expect((await send(receiveAt(Date.now(), queueUrl), 'beacon', request)).statusCode).toBe(401);

    // A real fault: the table does not exist yet, so every put fails and the message goes to the DLQ.
    const tableName = uniqueName('records-later');
    const poller = new SqsPoller({
      client: sqs,
      queueUrl,
      queueArn,
      handler: createProcessWebhook({
        writer: new EventWriter(dynamodb, tableName),
        counters: new CampaignCounters(dynamodb, tableName, DEFAULT_LAYOUT),
        logger: memoryLogger().logger,
      }),
      logger: memoryLogger().logger,
      waitTimeSeconds: 1,
    });
    poller.start();
    try {
      await eventually(
        async () => ((await queueDepth(sqs, dlqUrl)) === 1 ? true : undefined),
        15_000,
        'the delivery in the DLQ',
      );
      await ensureRecordsTable(dynamodb, tableName);
      expect(await redriveMessages(sqs, dlqUrl, queueUrl)).toEqual({ moved: 1, failed: 0 });
      await eventually(
        async () => ((await queueDepth(sqs, queueUrl)) === 0 ? true : undefined),
        10_000,
        'queue drained',
      );
    } finally {
      await poller.stop();
    }
    const stored = await new RecordsRepository(dynamodb, tableName).queryEvents({
      provider: 'beacon',
      campaign,
      limit: 10,
    });
    expect(stored).toEqual([
      expect.objectContaining({
        activity_id: 'msg_redrive',
        received_at: new Date(signedAt + 1_000).toISOString(),
      }),
    ]);
  });

  it('stores by reprocess, an hour past its tolerance, a delivery accepted in time and quarantined until its configuration was fixed', async () => {
    const signedAt = Date.now() - HOUR;
    const campaign = uniqueName('cmp_reprocess');
    const request = acmeRequest(acmeBody(campaign, 'evt_reprocess', 'ad.viewed', signedAt), signedAt);
    const { queueUrl } = await createTestQueues(sqs);
    // The configuration as first deployed names the campaign's path wrongly.
    const wrong = (JSON.parse(EXAMPLE) as { fields: Record<string, string> }[]).map((provider, i) =>
      i === 0 ? { ...provider, fields: { ...provider.fields, campaign: 'data.campaign_id' } } : provider,
    );
    registerCustomProviders(JSON.stringify(wrong));
    try {
      const answer = await send(receiveAt(signedAt + 1_000, queueUrl), 'acme-ads', request);
      expect(JSON.parse(answer.body ?? '')).toMatchObject({
        status: 'quarantined',
        reason: expect.stringContaining('data.campaign_id: missing'),
      });
    } finally {
      registerCustomProviders(EXAMPLE);
    }
    expect((await send(receiveAt(Date.now(), queueUrl), 'acme-ads', request)).statusCode).toBe(401);

    const table = await createTestTable(dynamodb);
    const messages = (await takeMessages(sqs, queueUrl)).map((body) =>
      v.parse(QueueMessageSchema, JSON.parse(body)),
    );
    expect(messages.map((message) => message.kind)).toEqual(['quarantine']);
    await storeBatch(table.writer, table.counters, messages);

    const outcomes = await reprocessQuarantine({ client: dynamodb, ...table }, {});
    expect(outcomes).toEqual([expect.objectContaining({ provider: 'acme-ads', result: 'stored' })]);
    expect(await table.repository.queryEvents({ provider: 'acme-ads', campaign, limit: 10 })).toEqual([
      expect.objectContaining({
        event: 'ad.viewed',
        activity_id: 'evt_reprocess',
        campaign_name: 'Spring sale',
      }),
    ]);
  });

  it('counts accepted deliveries per event only for the event names a configured provider declares', async () => {
    const now = Date.now();
    const { queueUrl } = await createTestQueues(sqs);
    const metrics = new CountingMetrics();
    const handler = receiveAt(now, queueUrl, metrics);
    const campaign = uniqueName('cmp_metrics');
    for (const [type, id] of [
      ['impression.recorded', 'msg_m1'],
      ['page.scrolled', 'msg_m2'],
    ] as const)
      expect(
        (await send(handler, 'beacon', beaconRequest(beaconBody(campaign, type, now), id, now))).statusCode,
      ).toBe(202);
    expect(metrics.get(METRIC.accepted)).toBe(2);
    expect(metrics.get(METRIC.accepted, 'impression.recorded')).toBe(1);
    expect(metrics.get(METRIC.accepted, 'page.scrolled')).toBe(0);
    await takeMessages(sqs, queueUrl);
  });
});
