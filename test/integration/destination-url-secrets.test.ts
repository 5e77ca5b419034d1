/**
 * An HTTP destination's URL may carry a secret: a user and password (`https://user:pass@…`, sent as basic
 * authentication) or a token in its query (`?token=…`, `?sig=…`). Neither appears in a log line, a failures
 * file or a command's output: those show the URL with its userinfo and query values as `***`. The endpoints are
 * real HTTP servers on loopback that refuse the first tries (or every try) with a 503, as a receiver that is
 * down answers; the events are stored in the run's local DynamoDB-API server.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HttpDestination } from '../../lib/destinations/http';
import type { QueueMessage } from '../../lib/events/event-record';
import { createIngest } from '../../lib/ingest/ingest';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { DEFAULT_LAYOUT } from '../../lib/table/records-table';
import { DESTINATIONS_DIR, openDestinations } from '../../local/destinations';
import { REACTIONS_DIR, REACTIONS_FAILURES_FILE } from '../../local/reactions';
import { memoryLogger, soriPayload } from '../support/deliveries';
import { eventsOn } from '../support/events-cli';
import { createTestTable, eventually, localClients } from '../support/local-aws';
import { DAY_END, DAY_START, storeReplayDay } from '../support/replay-events';

const { dynamodb } = localClients();
const USER = 'hook-user-5521';
const PASSWORD = 'pa55-Secret-7781';
const TOKEN = 'tok-Secret-9931';
const SIGNATURE = 'sig-Secret-4410';
const SECRETS = [USER, PASSWORD, TOKEN, SIGNATURE];
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

const dirs: string[] = [];
const servers: Server[] = [];
afterAll(async () => {
  for (const server of servers) await new Promise((done) => server.close(done));
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/**
 * An endpoint on loopback answering each request with `answer(n)` (n counts from 1), keeping what each request
 * asked for and with which authorization; its URL with the secrets, and as it is to be shown.
 */
async function endpoint(answer: (count: number) => number) {
  const requests: { path: string | undefined; authorization: string | undefined; status: number }[] = [];
  const server = createServer((request: IncomingMessage, response) => {
    request.resume();
    request.on('end', () => {
      const status = answer(requests.length + 1);
      requests.push({ path: request.url, authorization: request.headers.authorization, status });
      response.writeHead(status).end();
    });
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `http://${USER}:${PASSWORD}@${host}/hooks/secret?token=${TOKEN}&sig=${SIGNATURE}`,
    shown: `http://***@${host}/hooks/secret?token=***&sig=***`,
    requests,
  };
}

/** `text` holds none of the secrets. */
function expectNoSecret(text: string) {
  for (const secret of SECRETS) expect(text).not.toContain(secret);
}

/** Each request reached the path with its query's token, with the userinfo as basic authentication. */
function expectSecretsSentWhereTheyBelong(
  requests: { path: string | undefined; authorization: string | undefined }[],
) {
  expect(requests.length).toBeGreaterThan(0);
  for (const request of requests) {
    expect(request.path).toBe(`/hooks/secret?token=${TOKEN}&sig=${SIGNATURE}`);
    expect(request.authorization).toBe(BASIC);
  }
}

function clickMessage(activity: string): QueueMessage {
  const body = JSON.stringify({
    ...soriPayload('click'),
    activity_id: activity,
    created_at: new Date().toISOString(),
  });
  return buildQueueMessage(sori, Buffer.from(body), new Date().toISOString());
}

/** Local destinations with `http` at `url`, and an ingest storing through them, logging into `logger`. */
async function localHttpDestination(
  url: string,
  logger: ReturnType<typeof memoryLogger>['logger'],
  attempts: number,
) {
  const table = await createTestTable(dynamodb);
  const dataDir = await mkdtemp(join(tmpdir(), 'destination-url-secrets-'));
  dirs.push(dataDir);
  const destinations = await openDestinations(
    { http: { url } },
    {
      dynamodb,
      tableName: table.tableName,
      layout: DEFAULT_LAYOUT,
      logger,
      dataDir,
      attempts,
      backoffMs: 10,
      httpBackoffMs: 10,
    },
  );
  const ingest = createIngest({
    writer: table.writer,
    counters: table.counters,
    beforeWrite: destinations.beforeWrite,
    onStored: destinations.onStored,
    logger,
  });
  const failures = join(dataDir, DESTINATIONS_DIR, 'http', REACTIONS_DIR, REACTIONS_FAILURES_FILE);
  return { destinations, ingest, failures };
}

describe('a local HTTP destination whose URL carries secrets', () => {
  it('logs its retry with the URL’s userinfo and query values hidden, and posts with the secrets where they belong', async () => {
    // An HTTP destination tries a record 6 times before its call fails: the reaction then logs and retries.
    const target = await endpoint((count) => (count <= 6 ? 503 : 200));
    const { lines, logger } = memoryLogger();
    const { destinations, ingest } = await localHttpDestination(target.url, logger, 3);
    await ingest.store([clickMessage('act_secret_retry')]);
    await eventually(
      async () => (target.requests.some((request) => request.status === 200) ? true : undefined),
      60_000,
      'the record taken',
    );
    await destinations.close(Date.now() + 10_000);
    const retries = lines.filter((line) => line.includes('onEvent failed; retrying'));
    expect(retries).toHaveLength(1);
    expect(retries[0]).toContain(target.shown);
    expectNoSecret(lines.join('\n'));
    expectSecretsSentWhereTheyBelong(target.requests);
  }, 90_000);

  it('writes a record it gives up on to its failures file, and logs it, with the URL’s secrets hidden', async () => {
    const target = await endpoint(() => 503);
    const { lines, logger } = memoryLogger();
    const { destinations, ingest, failures } = await localHttpDestination(target.url, logger, 1);
    await ingest.store([clickMessage('act_secret_given_up')]);
    await eventually(async () => (existsSync(failures) ? true : undefined), 60_000, 'the record given up');
    await destinations.close(Date.now() + 10_000);
    const written = readFileSync(failures, 'utf8');
    expect(written).toContain(target.shown);
    expect(lines.filter((line) => line.includes('onEvent failed; given up')).join('\n')).toContain(
      target.shown,
    );
    expectNoSecret(written);
    expectNoSecret(lines.join('\n'));
    expectSecretsSentWhereTheyBelong(target.requests);
  }, 90_000);
});

describe('an HTTP destination whose URL carries a user and password', () => {
  it('sends them as basic authentication, unless the headers it is given carry an authorization of their own', async () => {
    const target = await endpoint(() => 200);
    const message = clickMessage('act_secret_header');
    if (message.kind !== 'event') throw new Error('not an event');
    await new HttpDestination({ url: target.url }).send([message.record], 'replay');
    const headers = { Authorization: 'Bearer own-token' };
    await new HttpDestination({ url: target.url, headers }).send([message.record], 'replay');
    expect(target.requests.map((request) => request.authorization)).toEqual([BASIC, 'Bearer own-token']);
    expect(new HttpDestination({ url: target.url }).target).toBe(target.shown);
  });
});

describe('events replay to an HTTP endpoint whose URL carries secrets', () => {
  const DAY = ['--since', DAY_START, '--until', DAY_END];

  it('prints its outcome and progress with the URL’s userinfo and query values hidden, text and JSON alike', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb);
    const { inside } = await storeReplayDay(writer, counters, {
      campaignA: 3,
      campaignB: 0,
      authentications: 0,
      symphony: 0,
    });
    const target = await endpoint((count) => (count <= 2 ? 503 : 200));
    const text = await eventsOn(tableName, ['replay', ...DAY, '--to', 'http', '--target', target.url]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(target.shown);
    expect(text.stderr).toMatch(/events: replay: \d+ sent/);
    const json = await eventsOn(tableName, [
      'replay',
      ...DAY,
      '--to',
      'http',
      '--target',
      target.url,
      '--json',
    ]);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ to: 'http', target: target.shown, sent: inside.size });
    for (const run of [text, json]) {
      expectNoSecret(run.stdout);
      expectNoSecret(run.stderr);
    }
    expectSecretsSentWhereTheyBelong(target.requests);
  }, 90_000);

  it('says why it stopped with the URL’s userinfo and query values hidden', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb);
    await storeReplayDay(writer, counters, { campaignA: 1, campaignB: 0, authentications: 0, symphony: 0 });
    const target = await endpoint(() => 503);
    const run = await eventsOn(tableName, ['replay', ...DAY, '--to', 'http', '--target', target.url]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `replay stopped after 0 sent by this run: ${target.shown} did not take record`,
    );
    expectNoSecret(run.stdout);
    expectNoSecret(run.stderr);
    expectSecretsSentWhereTheyBelong(target.requests);
  }, 90_000);

  it('refuses a target that is no URL without echoing its secrets', async () => {
    const { tableName } = await createTestTable(dynamodb);
    const bad = `http://${USER}:${PASSWORD}@127.0.0.1:notaport/hook?token=${TOKEN}`;
    const run = await eventsOn(tableName, ['replay', ...DAY, '--to', 'http', '--target', bad]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      '--target must be an http(s) URL, got "http://***@127.0.0.1:notaport/hook?token=***"',
    );
    expectNoSecret(run.stdout);
    expectNoSecret(run.stderr);
  });
});
