/**
 * Fraud and quality signals through the destinations, end to end: batches stored through `storeBatch`, folded
 * by the repair (which puts a notice before each item write that raises a signal), published by the local
 * destinations that ask for signals. A burst crafted with each pattern reaches the destination as exactly its
 * signals, a clean burst as none; a click's impression stored later publishes the click's clearing; a fold
 * killed between its notices and its items publishes each notice once.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { IDEMPOTENCY_HEADER } from '../../lib/destinations/http';
import type { QueueMessage } from '../../lib/events/event-record';
import { EventWriter } from '../../lib/ingest/event-writer';
import { createLogger } from '../../lib/log';
import type { SignalNotice } from '../../lib/signals/signal-notices';
import type { TableLayout } from '../../lib/table/records-table';
import { type LocalDestinations, openDestinations } from '../../local/destinations';
import { localClientConfig } from '../../local/local-stack';
import { startDynamoDbProxy } from '../support/dynamodb-proxy';
import { createTestTable, localClients } from '../support/local-aws';
import {
  cleanBurst,
  fraudPatterns,
  JournalingCounters,
  SIGNAL_DAY,
  signalEvent,
  storeJournaled,
  viewed,
} from '../support/signal-journal';

const { dynamodb } = localClients();
const LAYOUT: TableLayout = { shards: 2, retentionDays: null };
const DAY = SIGNAL_DAY;
const event = signalEvent;
const logger = createLogger('signal-notices-e2e', 'error');
const servers: Server[] = [];
const proxies: { close(): Promise<void> }[] = [];
const opened: LocalDestinations[] = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((destinations) => destinations.close(Date.now() + 5_000)));
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});
afterAll(() => {
  for (const server of servers) server.close();
});

/** An HTTP endpoint that keeps every notice POSTed to it. */
async function receiver() {
  const received: { key: string | undefined; body: SignalNotice }[] = [];
  const server = createServer(async (request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    received.push({
      key: request.headers[IDEMPOTENCY_HEADER] as string | undefined,
      body: JSON.parse(Buffer.concat(chunks).toString()) as SignalNotice,
    });
    response.writeHead(200).end();
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/signals`, received };
}

const store = storeJournaled;

/** A table, and destinations with every signal opened on it before any fold (as `npm start` opens them). */
async function setUp() {
  const { tableName } = await createTestTable(dynamodb, LAYOUT);
  const endpoint = await receiver();
  const destinations = await openDestinations(
    { http: { url: endpoint.url, signals: true } },
    { dynamodb, tableName, layout: LAYOUT, logger, signalIntervalMs: 600_000 },
  );
  opened.push(destinations);
  return {
    tableName,
    endpoint,
    destinations,
    writer: new EventWriter(dynamodb, tableName, LAYOUT),
    counters: new JournalingCounters(dynamodb, tableName, LAYOUT),
  };
}

/** What a notice says, without its id and times: compact enough to compare whole. */
const said = (notice: SignalNotice) =>
  [notice.signal, notice.state, notice.campaign_id, notice.device_id || notice.activity_id].join(' ');

/** Every notice received, each once (the same notice twice fails the test). */
function received(endpoint: Awaited<ReturnType<typeof receiver>>): string[] {
  const ids = endpoint.received.map((request) => request.body.notice_id);
  expect(new Set(ids).size, 'a notice published twice').toBe(ids.length);
  for (const request of endpoint.received) expect(request.key).toBe(request.body.notice_id);
  return endpoint.received.map((request) => said(request.body)).sort();
}

describe('fraud and quality signals through the destinations', () => {
  it('a clean burst reaches the destination as no notice', async () => {
    const { endpoint, destinations, writer, counters } = await setUp();
    const clean = cleanBurst('c');
    await store(counters, writer, [clean.slice(0, 20), clean.slice(20)]);
    await counters.repair();
    await destinations.publishSignals();
    expect(received(endpoint)).toEqual([]);
  });

  it('a burst crafted with each fraud pattern reaches the destination as exactly its signals, each once, with the threshold it crossed', async () => {
    const { endpoint, destinations, writer, counters } = await setUp();
    const { clean, orphan, burst, ctr, shared, hops } = fraudPatterns();
    await store(counters, writer, [
      clean,
      orphan,
      burst,
      ctr,
      shared.slice(0, 2),
      shared.slice(2),
      hops.slice(0, 1),
    ]);
    await counters.repair();
    await store(counters, writer, [hops.slice(1)]);
    await counters.repair();
    // A pass with nothing new, and the feed again: nothing more.
    await counters.repair();
    await destinations.publishSignals();
    await destinations.publishSignals();
    expect(received(endpoint)).toEqual(
      [
        'clicks_without_impression raised cmp_a o_act',
        'click_bursts raised cmp_b b_dev',
        'high_ctr raised cmp_h ',
        'shared_devices raised  s_dev',
        'country_hops raised  x_dev',
      ].sort(),
    );
    const bySignal = new Map(endpoint.received.map(({ body }) => [body.signal, body]));
    expect(bySignal.get('click_bursts')).toMatchObject({
      origin: 'signal',
      provider: 'sori',
      day: DAY,
      at: `${DAY}T12:00`,
      threshold_name: 'SIGNAL_CLICKS_PER_MINUTE',
      threshold: '3',
    });
    expect(bySignal.get('high_ctr')).toMatchObject({ impressions: '10', clicks: '6', threshold: '0.5' });
    expect(bySignal.get('clicks_without_impression')).toMatchObject({ at: `${DAY}T11:00:00.000Z` });
  });

  it('a click whose impression is stored later reaches the destination as raised, then cleared', async () => {
    const { endpoint, destinations, writer, counters } = await setUp();
    const [impression, click] = viewed('late_act', 'l_dev', '09:00') as [QueueMessage, QueueMessage];
    await store(counters, writer, [[click]]);
    await counters.repair();
    await destinations.publishSignals();
    expect(received(endpoint)).toEqual(['clicks_without_impression raised cmp_a late_act']);
    await store(counters, writer, [[impression]]);
    await counters.repair();
    await destinations.publishSignals();
    expect(received(endpoint)).toEqual([
      'clicks_without_impression cleared cmp_a late_act',
      'clicks_without_impression raised cmp_a late_act',
    ]);
  });

  it('a fold killed after its notices, before its items, and taken over publishes each notice once', async () => {
    const { endpoint, destinations, tableName, writer, counters } = await setUp();
    const burst = Array.from({ length: 4 }, (_, i) =>
      event('click', { at: `12:00:1${i}.000`, device: 'b_dev', activity: `k_act_${i}` }),
    );
    const shared = ['k_acc_1', 'k_acc_2', 'k_acc_3'].map((account, i) =>
      event('authentication', { at: `14:0${i}:00.000`, device: 'k_dev', account }),
    );
    await store(counters, writer, [burst, shared]);
    // Every item write fails once its notices are put: the notices are there, the items are not.
    let failures = 0;
    const proxy = await startDynamoDbProxy({
      fault: (call) => {
        const pk = String((call.input.Item as { pk?: { S?: string } })?.pk?.S);
        return call.action === 'PutItem' &&
          (pk.startsWith('PROVIDERDAY#') || pk.startsWith('STATS#sori#')) &&
          ++failures > 0
          ? 'fail-before'
          : undefined;
      },
    });
    proxies.push(proxy);
    const crashing = new JournalingCounters(
      new DynamoDBClient(localClientConfig(proxy.endpoint)),
      tableName,
      LAYOUT,
      dynamodb,
    );
    const first = await crashing.repair(Date.now() + 120_000);
    expect(failures).toBeGreaterThan(0);
    expect(first.failed).toBeGreaterThan(0);
    // Its notices are out already: put before the items the fold could not write.
    expect(await destinations.publishSignals()).toBe(6);
    await counters.repair(Date.now() + 120_000);
    expect(await counters.repair()).toMatchObject({ failed: 0 });
    await destinations.publishSignals();
    expect(received(endpoint)).toEqual(
      [
        ...['k_act_0', 'k_act_1', 'k_act_2', 'k_act_3'].map(
          (a) => `clicks_without_impression raised cmp_a ${a}`,
        ),
        'click_bursts raised cmp_a b_dev',
        'shared_devices raised  k_dev',
      ].sort(),
    );
  });
});
