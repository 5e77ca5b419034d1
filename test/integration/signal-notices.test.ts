/**
 * Signal notices against the local DynamoDB-API server: each put once however often the fold puts it, and
 * published by the local destinations that ask for them (`signals`), at least once across a SIGKILL, from notice
 * items and fold records this test writes itself as a fold would (the fold's own calls are proven with it in
 * the end-to-end test of signals through the destinations).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { IDEMPOTENCY_HEADER } from '../../lib/destinations/http';
import { createLogger } from '../../lib/log';
import {
  campaignNotices,
  loginNotices,
  putNotices,
  type SignalNotice,
} from '../../lib/signals/signal-notices';
import { DEFAULT_SIGNAL_THRESHOLDS } from '../../lib/signals/thresholds';
import { foldChangesUpdate, foldStateItem } from '../../lib/table/counter-items';
import { noticeItem, noticePartitionKey } from '../../lib/table/notice-items';
import { DEFAULT_LAYOUT } from '../../lib/table/records-table';
import type { CampaignSignals } from '../../lib/table/signal-attributes';
import { keyOf } from '../../lib/table/table-io';
import {
  asConstructOption,
  DESTINATIONS_DIR,
  type DestinationsConfig,
  openDestinations,
  parseDestinations,
  SIGNAL_CURSOR_FILE,
} from '../../local/destinations';
import { REACTIONS_DIR, REACTIONS_FAILURES_FILE } from '../../local/reactions';
import { createTestTable, eventually, localClients, takeMessages, uniqueName } from '../support/local-aws';
import { exited, spawnScript } from '../support/stack-process';

const PUBLISH_SIGNALS = resolve('test/fixtures/destinations/publish-signals.ts');
const logger = createLogger('signal-notices-test', 'error');
const T = DEFAULT_SIGNAL_THRESHOLDS;
const DAY = '2026-02-10';
const dirs: string[] = [];
const servers: Server[] = [];

afterAll(async () => {
  for (const server of servers) server.close();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function dataDir() {
  const dir = await mkdtemp(join(tmpdir(), 'campaign-inbox-signals-'));
  dirs.push(dir);
  return dir;
}

const empty = (): CampaignSignals => ({
  orphans: new Set(),
  orphansOver: 0,
  bursts: new Set(),
  burstsFull: false,
});

/** A burst and a high CTR on a campaign-day of `provider`, and a shared device on its provider-day. */
function someNotices(provider: string, now = Date.now()): SignalNotice[] {
  return [
    ...campaignNotices(
      {
        key: { provider, campaignId: 'cmp_n', day: DAY },
        before: empty(),
        after: { ...empty(), bursts: new Set([`${DAY}T10:00 dev_b`]) },
        figuresBefore: { impressions: 100, clicks: 10 },
        figuresAfter: { impressions: 100, clicks: 40 },
      },
      T,
      now,
    ),
    ...loginNotices(
      {
        provider,
        day: DAY,
        before: { accounts: new Set(), countries: new Set(), full: false },
        after: { accounts: new Set(['dev_s']), countries: new Set(), full: false },
      },
      T,
      now,
    ),
  ];
}

/** What a fold that moved the fold state's `counted` to `counted` records: the days it wrote items on. */
async function fold(dynamodb: DynamoDBClient, tableName: string, counted: number, providers: string[]) {
  await dynamodb.send(
    new UpdateItemCommand(
      foldChangesUpdate(
        tableName,
        counted,
        {
          counters: providers.map((provider) => ({ provider, campaignId: 'cmp_n', day: DAY })),
          providerDays: providers.map((provider) => ({ provider, day: DAY })),
        },
        Date.now(),
      ),
    ),
  );
  await dynamodb.send(
    new PutItemCommand({
      TableName: tableName,
      Item: foldStateItem({
        watermark: '0',
        folded: [],
        pending: [],
        run: undefined,
        version: counted,
        counted,
      }),
    }),
  );
}

async function receiver(options: { hold?: boolean } = {}) {
  const received: { key: string | undefined; body: SignalNotice }[] = [];
  const held: (() => void)[] = [];
  let holding = options.hold ?? false;
  const server = createServer(async (request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const answer = () => {
      received.push({
        key: request.headers[IDEMPOTENCY_HEADER] as string | undefined,
        body: JSON.parse(Buffer.concat(chunks).toString()) as SignalNotice,
      });
      response.writeHead(200).end();
    };
    if (holding) held.push(answer);
    else answer();
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/signals`,
    received,
    held: () => held.length,
    release() {
      holding = false;
      for (const answer of held.splice(0)) answer();
    },
  };
}

const ids = (notices: readonly { notice_id: string }[]) => notices.map((n) => n.notice_id).sort();

describe('signal notices in the table', () => {
  it('are written once: the same signals put again by a fold taken over later write nothing, and the first notice stays as it was', async () => {
    const { dynamodb } = localClients();
    const { tableName } = await createTestTable(dynamodb);
    const first = someNotices('sori', Date.parse('2026-02-10T12:00:00Z'));
    expect(first).toHaveLength(3);
    expect(await putNotices(dynamodb, tableName, first)).toBe(3);
    const again = someNotices('sori', Date.parse('2026-02-10T12:05:00Z'));
    expect(ids(again)).toEqual(ids(first));
    expect(await putNotices(dynamodb, tableName, again)).toBe(0);
    const { Items } = await dynamodb.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: noticePartitionKey(DAY) } },
        ConsistentRead: true,
      }),
    );
    expect(Items?.map((item) => item.raised_at?.S)).toEqual(Array(3).fill('2026-02-10T12:00:00.000Z'));
    for (const notice of first) {
      const item = noticeItem(notice);
      const { Item } = await dynamodb.send(
        new GetItemCommand({ TableName: tableName, Key: keyOf(item), ConsistentRead: true }),
      );
      expect(Item).toEqual(item);
    }
  });
});

describe('signal notices through the local destinations', () => {
  it('reach each destination with signals once, only the signals and providers it takes, none to a destination without signals, none raised before it was opened', async () => {
    const { dynamodb, sqs } = localClients();
    const { tableName } = await createTestTable(dynamodb);
    const before = someNotices('early', Date.now() - 60_000);
    await putNotices(dynamodb, tableName, before);
    const http = await receiver();
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('signals') }));
    const queueUrl = QueueUrl as string;
    const dir = await dataDir();
    const options = {
      dynamodb,
      sqs,
      tableName,
      layout: DEFAULT_LAYOUT,
      logger,
      dataDir: dir,
      signalIntervalMs: 60_000,
    };
    const destinations = await openDestinations(
      {
        http: { url: http.url, providers: ['sori'], signals: ['click_bursts', 'shared_devices'] },
        sqs: { queueUrl, signals: true },
      },
      options,
    );
    const records = await receiver();
    const withoutSignals = await openDestinations(
      { http: { url: records.url } },
      { ...options, dataDir: await dataDir() },
    );

    const sori = someNotices('sori');
    const other = someNotices('adreform');
    await putNotices(dynamodb, tableName, [...sori, ...other]);
    await fold(dynamodb, tableName, 1, ['sori', 'adreform', 'early']);
    expect(await destinations.publishSignals()).toBe(2 + 6);
    expect(await withoutSignals.publishSignals()).toBe(0);

    const wanted = sori.filter((n) => n.signal !== 'high_ctr');
    expect(ids(http.received.map((r) => r.body))).toEqual(ids(wanted));
    for (const request of http.received) {
      expect(request.key).toBe(request.body.notice_id);
      expect(request.body).toEqual(sori.find((n) => n.notice_id === request.body.notice_id));
    }
    const queued: SignalNotice[] = [];
    await eventually(
      async () => {
        for (const text of await takeMessages(sqs, queueUrl)) queued.push(JSON.parse(text) as SignalNotice);
        return queued.length >= 6 ? true : undefined;
      },
      30_000,
      'six notices queued',
    );
    expect(ids(queued)).toEqual(ids([...sori, ...other]));
    for (const early of before) expect(queued.map((n) => n.notice_id)).not.toContain(early.notice_id);

    // The same signals raised again by a later fold, and a fold naming the same day: nothing new to send.
    await putNotices(dynamodb, tableName, someNotices('sori'));
    await fold(dynamodb, tableName, 2, ['sori']);
    expect(await destinations.publishSignals()).toBe(0);
    expect(http.received).toHaveLength(wanted.length);
    expect(await takeMessages(sqs, queueUrl)).toEqual([]);
    expect(records.received).toEqual([]);
    await destinations.close(Date.now() + 5_000);
    await withoutSignals.close(Date.now() + 5_000);
  });

  it('still publishes every notice after the process is SIGKILLed with its publication cut off, and restarted', async () => {
    const { dynamodb } = localClients();
    const { tableName } = await createTestTable(dynamodb);
    const endpoint = await receiver({ hold: true });
    const dir = await dataDir();
    const env = {
      DYNAMODB_ENDPOINT: inject('dynamodbEndpoint'),
      SQS_ENDPOINT: inject('sqsEndpoint'),
      TABLE_NAME: tableName,
      DATA_DIR: dir,
      DESTINATIONS: JSON.stringify({ http: { url: endpoint.url, signals: true } }),
    };
    const run = (mode: 'serve' | 'once') => {
      const child = spawnScript(PUBLISH_SIGNALS, { ...env, SIGNAL_RUN: mode });
      let stdout = '';
      let stderr = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      return { child, stdout: () => stdout, stderr: () => stderr };
    };

    const first = run('serve');
    await eventually(
      async () => {
        if (first.child.exitCode !== null) throw new Error(`exited early: ${first.stderr()}`);
        return first.stdout().includes('opened\n') ? true : undefined;
      },
      60_000,
      'the destinations opened',
    );
    const notices = someNotices('sori');
    await putNotices(dynamodb, tableName, notices);
    await fold(dynamodb, tableName, 1, ['sori']);
    await eventually(
      async () => (endpoint.held() > 0 ? true : undefined),
      30_000,
      'a notice being published',
    );
    const ended = exited(first.child);
    process.kill(-(first.child.pid as number), 'SIGKILL');
    expect((await ended).signal).toBe('SIGKILL');
    expect(endpoint.received).toEqual([]);

    // The requests the dead process made are answered now; none of them counts as published.
    endpoint.release();
    endpoint.received.length = 0;
    const second = run('once');
    expect((await exited(second.child)).code, second.stderr()).toBe(0);
    expect([...new Set(ids(endpoint.received.map((r) => r.body)))]).toEqual(ids(notices));
    // Its cursor kept: a third start sends nothing again.
    endpoint.received.length = 0;
    const third = run('once');
    expect((await exited(third.child)).code, third.stderr()).toBe(0);
    expect(third.stdout()).toContain('published 0\n');
    expect(endpoint.received).toEqual([]);
    const cursor = await readFile(join(dir, DESTINATIONS_DIR, 'http', SIGNAL_CURSOR_FILE), 'utf8');
    expect(JSON.parse(cursor)).toMatchObject({ counted: 1 });
  }, 120_000);
});

describe('a notice a local destination keeps refusing', () => {
  it("is written to the destination's failures.jsonl, beside its records given up, and not sent again at the next pass", async () => {
    const { dynamodb } = localClients();
    const { tableName } = await createTestTable(dynamodb);
    let requests = 0;
    const server = createServer((request, response) => {
      requests++;
      request.resume();
      response.writeHead(503).end();
    });
    servers.push(server);
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/signals`;
    const dir = await dataDir();
    const destinations = await openDestinations(
      { http: { url, signals: ['shared_devices'] } },
      {
        dynamodb,
        tableName,
        layout: DEFAULT_LAYOUT,
        // The give-up is logged as an error: expected here.
        logger: createLogger('signal-notices-test', 'error', () => undefined),
        dataDir: dir,
        signalIntervalMs: 600_000,
      },
    );
    const [shared] = someNotices('sori').filter((n) => n.signal === 'shared_devices') as [SignalNotice];
    await putNotices(dynamodb, tableName, [shared]);
    await fold(dynamodb, tableName, 1, ['sori']);
    expect(await destinations.publishSignals()).toBe(1);
    const tries = requests;
    expect(tries).toBeGreaterThan(1);
    const failed = join(dir, DESTINATIONS_DIR, 'http', REACTIONS_DIR, REACTIONS_FAILURES_FILE);
    const failures = (await readFile(failed, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { notice_id: string; signal: string; error: string });
    expect(failures).toEqual([
      expect.objectContaining({
        notice_id: shared.notice_id,
        signal: 'shared_devices',
        error: expect.stringContaining('503'),
      }),
    ]);
    await fold(dynamodb, tableName, 2, ['sori']);
    expect(await destinations.publishSignals()).toBe(0);
    expect(requests).toBe(tries);
    await destinations.close(Date.now() + 5_000);
  }, 90_000);
});

describe('DESTINATIONS with signals', () => {
  it('takes true, false or a list of signals on each destination, refuses anything else naming the field, and hands signals to the construct', () => {
    const config = parseDestinations(
      JSON.stringify({
        eventBridge: { signals: true },
        sqs: { signals: ['high_ctr', 'country_hops'] },
        http: { url: 'http://127.0.0.1:1/x', signals: false },
      }),
    );
    expect(config?.sqs?.signals).toEqual(['high_ctr', 'country_hops']);
    expect(asConstructOption(config as DestinationsConfig)).toEqual({
      eventBridge: { signals: true },
      sqs: { signals: ['high_ctr', 'country_hops'] },
    });
    expect(() => parseDestinations('{"sqs":{"signals":["click_burst"]}}')).toThrow(
      /^DESTINATIONS\.sqs\.signals/,
    );
    expect(() => parseDestinations('{"sqs":{"signals":[]}}')).toThrow(/^DESTINATIONS\.sqs\.signals/);
    expect(() => parseDestinations('{"http":{"url":"http://127.0.0.1:1/x","signals":"yes"}}')).toThrow(
      /^DESTINATIONS\.http\.signals/,
    );
  });
});
