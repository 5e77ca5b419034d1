import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { ReplayCheckpoint } from '../../lib/replay/checkpoint-file';
import { eventsOn } from '../support/events-cli';
import { createTestQueues, createTestTable, localClients } from '../support/local-aws';
import { DAY_END, DAY_START, storeReplayDay } from '../support/replay-events';

const { dynamodb, sqs } = localClients();
const ROOT = resolve(import.meta.dirname, '../..');
const SINK = resolve(ROOT, 'test/fixtures/reactions/replay-sink.ts');
const dirs: string[] = [];
const servers: Server[] = [];

afterAll(async () => {
  for (const server of servers) await new Promise((done) => server.close(done));
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tempDir() {
  const dir = await mkdtemp(join(tmpdir(), 'events-replay-'));
  dirs.push(dir);
  return dir;
}

const DAY = ['--since', DAY_START, '--until', DAY_END];
const linesOf = (file: string) =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((text) => JSON.parse(text) as { id: string })
    : [];
const readCheckpoint = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as ReplayCheckpoint;

/** A local HTTP endpoint that keeps every request's JSON body and idempotency key. */
async function httpEndpoint(answer: (count: number) => number = () => 200) {
  const received: {
    key: string | undefined;
    body: { record_id: string; origin: string; record: { id: string } };
  }[] = [];
  let requests = 0;
  const server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const status = answer(++requests);
      if (status >= 200 && status < 300) {
        received.push({
          key: request.headers['idempotency-key'] as string | undefined,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
        });
      }
      response.writeHead(status).end();
    });
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/replay`;
  return { url, received, server };
}

/** Runs the events tool as its own process (node with tsx's loader, as `npm run events` does). */
function spawnEvents(args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'scripts/events.ts', ...args], {
    cwd: ROOT,
    env: {
      ...process.env,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_REGION: 'us-east-1',
      DATA_DIR: '/nonexistent-campaign-inbox',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Every message now in a queue, received (and left to come back: the queue is the test's own). */
async function receiveAll(client: SQSClient, queueUrl: string) {
  const messages: { body: string; attributes: Record<string, string | undefined> }[] = [];
  for (let empty = 0; empty < 2; ) {
    const { Messages } = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 300,
        MessageAttributeNames: ['All'],
      }),
    );
    if (!Messages?.length) {
      empty++;
      continue;
    }
    for (const message of Messages) {
      messages.push({
        body: message.Body ?? '',
        attributes: Object.fromEntries(
          Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [name, value.StringValue]),
        ),
      });
    }
  }
  return messages;
}

describe('events replay', () => {
  it('replays a day of events to a reaction that breaks mid-way, then resumed from its checkpoint: every event of the day reaches it at least once by its record id, none outside the day', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb);
    const { inside, outside } = await storeReplayDay(writer, counters);
    const dir = await tempDir();
    const file = join(dir, 'reacted.jsonl');
    const checkpoint = join(dir, 'replay.checkpoint');
    const args = ['replay', ...DAY, '--to', 'reaction', '--target', SINK, '--checkpoint', checkpoint];

    const broken = await eventsOn(tableName, args, { REPLAY_FILE: file, REPLAY_FAIL_AFTER: '130' });
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain(`run the same command again to resume from ${checkpoint}`);
    const stopped = readCheckpoint(checkpoint);
    expect(stopped.complete).toBe(false);
    expect(stopped.sent).toBeGreaterThan(0);
    expect(stopped.sent).toBeLessThanOrEqual(130);
    expect(linesOf(file)).toHaveLength(130);

    const resumed = await eventsOn(tableName, args, { REPLAY_FILE: file });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`resuming from ${checkpoint}`);
    expect(resumed.stderr).toMatch(/replay: \d+ sent \(sori, 2026-03-01\)/);
    const reacted = linesOf(file).map((line) => line.id);
    expect(new Set(reacted)).toEqual(inside);
    expect(reacted.filter((id) => outside.has(id))).toEqual([]);
    // Only what the broken run sent past its last checkpoint is sent again.
    expect(reacted.length - inside.size).toBe(130 - stopped.sent);
    expect(readCheckpoint(checkpoint)).toMatchObject({ complete: true, sent: inside.size });

    const again = await eventsOn(tableName, args, { REPLAY_FILE: file });
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('this replay is complete; nothing sent');
    expect(linesOf(file)).toHaveLength(reacted.length);
  });

  it('replays a day of events to an HTTP endpoint, the replay process killed mid-way and resumed from its checkpoint: every event of the day POSTed at least once with its record id, none outside the day', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb);
    const { inside, outside } = await storeReplayDay(writer, counters);
    const dir = await tempDir();
    const checkpoint = join(dir, 'replay.checkpoint');
    // The process is killed as the endpoint takes its 120th event, while later ones may be under way.
    const killAt = 120;
    let child: ChildProcess | undefined;
    const endpoint = await httpEndpoint((count) => {
      if (count === killAt) child?.kill('SIGKILL');
      return 200;
    });
    const args = ['replay', ...DAY, '--to', 'http', '--target', endpoint.url, '--checkpoint', checkpoint];
    const where = ['--endpoint', inject('dynamodbEndpoint'), '--table', tableName];

    child = spawnEvents([...args, ...where]);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const signal = await new Promise<NodeJS.Signals | null>((done) =>
      child?.on('exit', (_code, exitSignal) => done(exitSignal)),
    );
    expect(signal, stderr).toBe('SIGKILL');
    const before = endpoint.received.length;
    expect(before).toBeLessThan(inside.size);
    const stopped = readCheckpoint(checkpoint);
    expect(stopped.complete).toBe(false);

    const resumed = await eventsOn(tableName, args);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`resuming from ${checkpoint}`);
    const ids = endpoint.received.map((request) => request.body.record_id);
    expect(new Set(ids)).toEqual(inside);
    expect(ids.filter((id) => outside.has(id))).toEqual([]);
    for (const request of endpoint.received) {
      expect(request.key).toBe(request.body.record_id);
      expect(request.body.record.id).toBe(request.body.record_id);
      expect(request.body.origin).toBe('replay');
    }
    // What was sent again is at most what the killed run sent past its last checkpoint.
    expect(ids.length - inside.size).toBeLessThanOrEqual(before - stopped.sent);
  });

  it('retries an event the HTTP endpoint answered with a 5xx, and sends it once it is taken', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb);
    const { inside } = await storeReplayDay(writer, counters, {
      campaignA: 3,
      campaignB: 0,
      authentications: 0,
      symphony: 0,
    });
    const endpoint = await httpEndpoint((count) => (count <= 2 ? 503 : 200));
    const run = await eventsOn(tableName, ['replay', ...DAY, '--to', 'http', '--target', endpoint.url]);
    expect(run.code, run.stderr).toBe(0);
    expect(new Set(endpoint.received.map((request) => request.body.record_id))).toEqual(inside);
  });

  it('replays a day of events to an SQS queue on the local SQS server: one message per event, its record id in the body and as an attribute, none outside the day', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb);
    const { inside, outside } = await storeReplayDay(writer, counters, { campaignA: 40, campaignB: 15 });
    const { queueUrl } = await createTestQueues(sqs);
    const run = await eventsOn(tableName, ['replay', ...DAY, '--to', 'sqs', '--target', queueUrl, '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      to: 'sqs',
      target: queueUrl,
      sent: inside.size,
      complete: true,
    });
    const messages = await receiveAll(sqs, queueUrl);
    const bodies = messages.map(
      (message) => JSON.parse(message.body) as { record_id: string; record: { id: string } },
    );
    expect(bodies.map((body) => body.record_id).sort()).toEqual([...inside].sort());
    expect(bodies.filter((body) => outside.has(body.record_id))).toEqual([]);
    for (const [i, message] of messages.entries()) {
      expect(message.attributes.record_id).toBe(bodies[i]?.record_id);
      expect(bodies[i]?.record.id).toBe(bodies[i]?.record_id);
    }
  });

  it('replays only what --campaign, --type or --provider name, within the range', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb);
    await storeReplayDay(writer, counters, { campaignA: 20, campaignB: 10, authentications: 5, symphony: 2 });
    const dir = await tempDir();
    const replayed = async (...filter: string[]) => {
      const file = join(dir, `${filter.join('-').replace(/\W/g, '')}.jsonl`);
      const run = await eventsOn(
        tableName,
        ['replay', ...DAY, ...filter, '--to', 'reaction', '--target', SINK],
        {
          REPLAY_FILE: file,
        },
      );
      expect(run.code, run.stderr).toBe(0);
      return linesOf(file) as unknown as { id: string; event: string; created_at: string }[];
    };
    const inDay = (line: { created_at: string }) =>
      line.created_at >= DAY_START && line.created_at <= DAY_END;

    const campaignB = await replayed('--campaign', 'cmp_b', '--provider', 'sori');
    expect(campaignB).toHaveLength(10);
    expect(campaignB.every(inDay)).toBe(true);
    const authentications = await replayed('--type', 'authentication');
    expect(authentications).toHaveLength(5);
    expect(authentications.every((line) => line.event === 'authentication' && inDay(line))).toBe(true);
    const clicks = await replayed('--type', 'campaign.click', '--provider', 'sori');
    // Every third of campaign A's 20 events and every other of B's 10 are clicks.
    expect(clicks).toHaveLength(7 + 5);
    const symphony = await replayed('--provider', 'symphony');
    expect(symphony).toHaveLength(2);
    const symphonyCampaign = await replayed('--campaign', 'cmp_sym_in1', '--provider', 'symphony');
    expect(symphonyCampaign).toHaveLength(1);
  });

  it('--dry-run prints how many events the range holds and sends nothing', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb);
    const { inside } = await storeReplayDay(writer, counters, { campaignA: 30, campaignB: 10 });
    const text = await eventsOn(tableName, ['replay', ...DAY, '--dry-run']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout.trim()).toBe(String(inside.size));
    const json = await eventsOn(tableName, [
      'replay',
      ...DAY,
      '--to',
      'http',
      '--target',
      'http://127.0.0.1:9/',
      '--dry-run',
      '--json',
    ]);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ count: inside.size, since: DAY_START, until: DAY_END });
  });

  it('refuses a checkpoint written by another replay, a replay with no range or destination, and flags replay does not take', async () => {
    const { tableName } = await createTestTable(dynamodb);
    const dir = await tempDir();
    const checkpoint = join(dir, 'other.checkpoint');
    const endpoint = await httpEndpoint();
    const first = await eventsOn(tableName, [
      'replay',
      ...DAY,
      '--to',
      'http',
      '--target',
      endpoint.url,
      '--checkpoint',
      checkpoint,
    ]);
    expect(first.code, first.stderr).toBe(0);
    const other = await eventsOn(tableName, [
      'replay',
      '--since',
      '2026-03-02',
      '--until',
      '2026-03-02',
      '--to',
      'http',
      '--target',
      endpoint.url,
      '--checkpoint',
      checkpoint,
    ]);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain("is another replay's");
    await writeFile(join(dir, 'garbage'), 'not json');
    const garbage = await eventsOn(tableName, [
      'replay',
      ...DAY,
      '--to',
      'http',
      '--target',
      endpoint.url,
      '--checkpoint',
      join(dir, 'garbage'),
    ]);
    expect(garbage.code).toBe(2);
    expect(
      (await eventsOn(tableName, ['replay', '--to', 'http', '--target', endpoint.url])).stderr,
    ).toContain('replay needs --since and --until');
    expect((await eventsOn(tableName, ['replay', ...DAY])).stderr).toContain('replay needs --to');
    expect((await eventsOn(tableName, ['replay', ...DAY, '--to', 'kafka'])).code).toBe(2);
    const unknown = await eventsOn(tableName, [
      'replay',
      ...DAY,
      '--to',
      'http',
      '--target',
      endpoint.url,
      '--limit',
      '5',
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--limit does not apply to replay');
    // Replay's own flags are its own: another command refuses them.
    expect((await eventsOn(tableName, ['query', '--to', 'http'])).code).toBe(2);
  });
});
