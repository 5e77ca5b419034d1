import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, expectTypeOf, inject, it } from 'vitest';
import type { EventDestinationsOptions } from '../../infra/constructs/event-destinations';
import type { DeliveredEvent } from '../../lib/destinations/destination';
import { IDEMPOTENCY_HEADER } from '../../lib/destinations/http';
import { ConfigError } from '../../lib/errors';
import type { QueueMessage } from '../../lib/events/event-record';
import { createIngest } from '../../lib/ingest/ingest';
import { createLogger } from '../../lib/log';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { DEFAULT_LAYOUT } from '../../lib/table/records-table';
import {
  asConstructOption,
  DESTINATIONS_DIR,
  type DestinationsConfig,
  openDestinations,
  parseDestinations,
} from '../../local/destinations';
import { REACTIONS_DIR, REACTIONS_JOURNAL_FILE } from '../../local/reactions';
import { mulberry32 } from '../../scripts/load';
import { soriPayload } from '../support/deliveries';
import { createTestTable, eventually, localClients, takeMessages, uniqueName } from '../support/local-aws';
import { exited, spawnScript } from '../support/stack-process';

const STORE_MESSAGES = resolve('test/fixtures/destinations/store-messages.ts');
const logger = createLogger('destinations-test', 'error');
const dirs: string[] = [];
const servers: Server[] = [];

afterAll(async () => {
  for (const server of servers) server.close();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function dataDir() {
  const dir = await mkdtemp(join(tmpdir(), 'campaign-inbox-destinations-'));
  dirs.push(dir);
  return dir;
}

/**
 * `count` distinct SORI events (clicks and impressions in turn); every third made another provider's (`adreform`)
 * by its provider and id, so that a provider filter has something to leave out.
 */
function makeMessages(prefix: string, count: number): QueueMessage[] {
  return Array.from({ length: count }, (_, i) => {
    const body = JSON.stringify({
      ...soriPayload('impression'),
      event: i % 2 === 0 ? 'campaign.click' : 'campaign.impression',
      activity_id: `act_${prefix}_${i}`,
      device_id: `device_${i % 5}`,
      created_at: new Date().toISOString(),
    });
    const message = buildQueueMessage(sori, Buffer.from(body), new Date().toISOString());
    if (message.kind !== 'event') throw new Error('not an event');
    if (i % 3 !== 2) return message;
    return { ...message, record: { ...message.record, provider: 'adreform', id: `${message.record.id}-ad` } };
  });
}

/** The messages, about 30 % of them twice (the same delivery again, as SQS redelivers), shuffled. */
function withDuplicates(messages: QueueMessage[], random: () => number): QueueMessage[] {
  const deliveries = [...messages, ...messages.filter(() => random() < 0.3)].map(
    (message) => structuredClone(message) as QueueMessage,
  );
  for (let i = deliveries.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [deliveries[i], deliveries[j]] = [deliveries[j] as QueueMessage, deliveries[i] as QueueMessage];
  }
  return deliveries;
}

const idsOf = (messages: QueueMessage[], keep: (message: QueueMessage) => boolean) =>
  messages
    .filter(keep)
    .map((message) => message.record.id)
    .sort();

/** An HTTP endpoint on loopback keeping what it is sent; `hold` keeps requests unanswered until released. */
async function receiver(options: { hold?: boolean } = {}) {
  const received: { key: string | undefined; body: DeliveredEvent }[] = [];
  const held: (() => void)[] = [];
  let holding = options.hold ?? false;
  const server = createServer(async (request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const answer = () => {
      received.push({
        key: request.headers[IDEMPOTENCY_HEADER] as string | undefined,
        body: JSON.parse(Buffer.concat(chunks).toString()) as DeliveredEvent,
      });
      response.writeHead(200).end();
    };
    if (holding) held.push(answer);
    else answer();
  });
  server.keepAliveTimeout = 60_000;
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`,
    received,
    held: () => held.length,
    release() {
      holding = false;
      for (const answer of held.splice(0)) answer();
    },
  };
}

async function testQueue() {
  const { sqs } = localClients();
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('destination') }));
  return { sqs, queueUrl: QueueUrl as string };
}

/** Every message the queue holds now and until `count` have come, as what was published. */
async function publishedTo(queueUrl: string, count: number) {
  const { sqs } = localClients();
  const bodies: DeliveredEvent[] = [];
  await eventually(
    async () => {
      for (const text of await takeMessages(sqs, queueUrl)) bodies.push(JSON.parse(text) as DeliveredEvent);
      return bodies.length >= count ? true : undefined;
    },
    30_000,
    `${count} messages published`,
  );
  // A moment more, for any second message that would come late.
  await new Promise((r) => setTimeout(r, 500));
  for (const text of await takeMessages(sqs, queueUrl)) bodies.push(JSON.parse(text) as DeliveredEvent);
  return bodies;
}

describe('DESTINATIONS', () => {
  it('reads the construct option and the local-only fields, names the field at fault, and refuses a provider not served', () => {
    expect(parseDestinations(undefined)).toBeUndefined();
    expect(parseDestinations('  ')).toBeUndefined();
    const config = parseDestinations(
      JSON.stringify({
        eventBridge: { busName: 'analytics', types: ['campaign.click'] },
        sqs: { queueUrl: 'http://127.0.0.1:9324/000000000000/q', providers: ['sori'] },
        http: { url: 'https://example.com/hooks', headers: { authorization: 'Bearer x' } },
      }),
    );
    expect(config).toEqual({
      eventBridge: { busName: 'analytics', types: ['campaign.click'] },
      sqs: { queueUrl: 'http://127.0.0.1:9324/000000000000/q', providers: ['sori'] },
      http: { url: 'https://example.com/hooks', headers: { authorization: 'Bearer x' } },
    });
    expect(asConstructOption(config as DestinationsConfig)).toEqual({
      eventBridge: { busName: 'analytics', types: ['campaign.click'] },
      sqs: { providers: ['sori'] },
    });
    expectTypeOf(asConstructOption).returns.toEqualTypeOf<EventDestinationsOptions>();
    const refusal = (text: string) => {
      try {
        parseDestinations(text);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
      throw new Error(`${text} was taken`);
    };
    expect(refusal('{"sqs": ')).toBe('DESTINATIONS is not JSON');
    expect(refusal('{"sqs": {"types": ["campaign.click", " "]}}')).toMatch(/^DESTINATIONS\.sqs\.types\.1: /);
    expect(refusal('{"sqs": {"queueArn": "arn:aws:sns:us-east-1:123456789012:t"}}')).toMatch(
      /^DESTINATIONS\.sqs\.queueArn: must be an SQS queue ARN/,
    );
    expect(refusal('{"http": {"url": "ftp://example.com"}}')).toMatch(/^DESTINATIONS\.http\.url: /);
    expect(refusal('{"http": {}}')).toMatch(/^DESTINATIONS\.http\.url: /);
    expect(refusal('{"eventbridge": {}}')).toMatch(/^DESTINATIONS\.eventbridge: /);
    expect(refusal('{"sqs": {"provider": ["sori"]}}')).toMatch(/^DESTINATIONS\.sqs\.provider: /);
    expect(() =>
      parseDestinations('{"http": {"url": "http://127.0.0.1/x", "providers": ["sori", "sorry"]}}', {
        providers: ['sori', 'symphony'],
      }),
    ).toThrow('DESTINATIONS.http.providers.1: "sorry" is not a provider served (sori, symphony)');
    expect(parseDestinations('{"sqs": {"providers": ["sori"]}}', { providers: ['sori'] })).toEqual({
      sqs: { providers: ['sori'] },
    });
  });
});

describe('local destinations of first inserts (DESTINATIONS)', () => {
  it('publishes each first insert of a burst with 30 % duplicates exactly once per destination, with its record id, within each filter', async () => {
    const { dynamodb, sqs } = localClients();
    const table = await createTestTable(dynamodb);
    const { queueUrl } = await testQueue();
    const endpoint = await receiver();
    const destinations = await openDestinations(
      {
        sqs: { queueUrl, types: ['campaign.click'] },
        http: { url: endpoint.url, providers: ['sori'] },
      },
      {
        dynamodb,
        sqs,
        tableName: table.tableName,
        layout: DEFAULT_LAYOUT,
        logger,
        dataDir: await dataDir(),
      },
    );
    const ingest = createIngest({
      writer: table.writer,
      counters: table.counters,
      beforeWrite: destinations.beforeWrite,
      onStored: destinations.onStored,
      logger,
    });
    const messages = makeMessages('burst', 60);
    const deliveries = withDuplicates(messages, mulberry32(5));
    expect(deliveries.length).toBeGreaterThan(messages.length);
    // Concurrent batches of 10, as the poller's workers store them.
    const batches = Array.from({ length: Math.ceil(deliveries.length / 10) }, (_, i) =>
      deliveries.slice(i * 10, i * 10 + 10),
    );
    for (let i = 0; i < batches.length; i += 3)
      await Promise.all(batches.slice(i, i + 3).map((batch) => ingest.store(batch)));
    await destinations.close(Date.now() + 30_000);

    const clicks = idsOf(messages, (m) => m.kind === 'event' && m.record.event === 'campaign.click');
    const soriEvents = idsOf(messages, (m) => m.record.provider === 'sori');
    expect(clicks.length).toBeGreaterThan(0);
    expect(soriEvents.length).toBeLessThan(messages.length);

    const queued = await publishedTo(queueUrl, clicks.length);
    expect(queued.map((body) => body.record_id).sort()).toEqual(clicks);
    for (const body of queued) {
      expect(body.origin).toBe('insert');
      expect(body.record.id).toBe(body.record_id);
      expect(body.record.event).toBe('campaign.click');
    }

    await new Promise((r) => setTimeout(r, 500));
    expect(endpoint.received.map((request) => request.body.record_id).sort()).toEqual(soriEvents);
    for (const request of endpoint.received) {
      expect(request.key).toBe(request.body.record_id);
      expect(request.body.record.provider).toBe('sori');
    }
  }, 60_000);

  it('publishes nothing for a delivery that only finds its record already stored', async () => {
    const { dynamodb, sqs } = localClients();
    const table = await createTestTable(dynamodb);
    const { queueUrl } = await testQueue();
    const messages = makeMessages('again', 6);
    // Stored before the destinations listen: every delivery below is a duplicate.
    await createIngest({ writer: table.writer, counters: table.counters }).store(messages);
    const destinations = await openDestinations(
      { sqs: { queueUrl } },
      { dynamodb, sqs, tableName: table.tableName, layout: DEFAULT_LAYOUT, logger, dataDir: await dataDir() },
    );
    const ingest = createIngest({
      writer: table.writer,
      counters: table.counters,
      beforeWrite: destinations.beforeWrite,
      onStored: destinations.onStored,
    });
    const outcomes = await ingest.store(structuredClone(messages));
    expect(outcomes).toHaveLength(messages.length);
    await destinations.close(Date.now() + 10_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(await takeMessages(sqs, queueUrl)).toEqual([]);
  });

  it('publishes to a new queue of the local SQS server when sqs names none', async () => {
    const { dynamodb, sqs } = localClients();
    const table = await createTestTable(dynamodb);
    const destinations = await openDestinations(
      { sqs: { providers: [uniqueName('provider')] } },
      { dynamodb, sqs, tableName: table.tableName, layout: DEFAULT_LAYOUT, logger },
    );
    const [queue] = destinations.destinations;
    expect(queue?.kind).toBe('sqs');
    const attributes = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queue?.target, AttributeNames: ['QueueArn'] }),
    );
    expect(attributes.Attributes?.QueueArn).toMatch(/:campaign-inbox-destination$/);
    await destinations.close(Date.now());
  });

  it('still publishes every first insert, and nothing else, after the process is SIGKILLed with publications cut off and restarted', async () => {
    const { dynamodb } = localClients();
    const table = await createTestTable(dynamodb);
    const { queueUrl } = await testQueue();
    // Holds every request unanswered: the kill finds the first inserts stored and not yet published there.
    const endpoint = await receiver({ hold: true });
    const dir = await dataDir();
    const messages = makeMessages('crash', 40);
    const deliveries = withDuplicates(messages, mulberry32(9));
    const messagesFile = join(dir, 'messages.json');
    await writeFile(messagesFile, JSON.stringify(deliveries));
    const env = {
      DYNAMODB_ENDPOINT: inject('dynamodbEndpoint'),
      SQS_ENDPOINT: inject('sqsEndpoint'),
      TABLE_NAME: table.tableName,
      DATA_DIR: dir,
      MESSAGES_FILE: messagesFile,
      DESTINATIONS: JSON.stringify({ sqs: { queueUrl }, http: { url: endpoint.url } }),
    };
    const run = () => {
      const child = spawnScript(STORE_MESSAGES, env);
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

    const first = run();
    await eventually(
      async () => {
        if (first.child.exitCode !== null) throw new Error(`exited early: ${first.stderr()}`);
        return first.stdout().includes(`stored ${deliveries.length}\n`) && endpoint.held() > 0
          ? true
          : undefined;
      },
      30_000,
      'every delivery stored and publications under way',
    );
    const ended = exited(first.child);
    process.kill(-(first.child.pid as number), 'SIGKILL');
    expect((await ended).signal).toBe('SIGKILL');
    expect(endpoint.received).toEqual([]);
    const journal = join(dir, DESTINATIONS_DIR, 'http', REACTIONS_DIR, REACTIONS_JOURNAL_FILE);
    expect(existsSync(journal)).toBe(true);
    const lines = readFileSync(journal, 'utf8')
      .split('\n')
      .filter(Boolean)
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as { t: string; n: string }];
        } catch {
          return [];
        }
      });
    const settled = new Set(lines.filter((line) => line.t !== 'i').map((line) => line.n));
    expect(
      lines.filter((line) => line.t === 'i' && !settled.has(line.n)).length,
      'intents the kill left pending',
    ).toBeGreaterThan(0);

    // The requests the dead process made are answered now; nothing of them counts as published.
    endpoint.release();
    endpoint.received.length = 0;
    const second = run();
    expect((await exited(second.child)).code, second.stderr()).toBe(0);
    expect(second.stdout()).toMatch(/^opened [1-9]\d*\n/);

    const expected = idsOf(messages, () => true);
    const ids = endpoint.received.map((request) => request.body.record_id);
    expect([...new Set(ids)].sort()).toEqual(expected);
    const queued = await publishedTo(queueUrl, expected.length);
    expect([...new Set(queued.map((body) => body.record_id))].sort()).toEqual(expected);
  }, 90_000);
});
