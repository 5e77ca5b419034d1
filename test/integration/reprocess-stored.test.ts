import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { QueueMessage } from '../../lib/events/event-record';
import { type ReprocessStoredOutcome, reprocessStored } from '../../lib/ingest/reprocess';
import { storeBatch } from '../../lib/ingest/store-batch';
import { setConfiguredProviders } from '../../lib/providers';
import {
  type CustomProviderConfig,
  customProvider,
  parseCustomProviders,
} from '../../lib/providers/declarative';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { fromEventItem } from '../../lib/table/records-table';
import { run as reprocess } from '../../scripts/events/reprocess';
import { soriPayload } from '../support/deliveries';
import { eventsOn } from '../support/events-cli';
import { createTestTable, eventually, faultyDynamoDb, localClients } from '../support/local-aws';
import { startSlowProxy } from '../support/slow-proxy';
import { bareEnv, finished } from '../support/tool-process';

const { dynamodb } = localClients();
const originalSori = { interpret: sori.interpret, normalizerVersion: sori.normalizerVersion };

afterEach(() => {
  Object.assign(sori, originalSori);
  setConfiguredProviders([]);
});

/** A provider added by configuration, whose first mapping reads the campaign's name from `campaign_title`. */
const ACME_V1 = {
  name: 'acme-reno',
  scheme: 'hmac',
  header: 'x-acme-signature',
  algorithm: 'sha256',
  fields: {
    id: 'id',
    time: 'at',
    event: 'type',
    campaign: 'campaign',
    device: 'device',
    campaign_name: 'campaign_title',
  },
  events: ['view', 'tap'],
  counted: { impressions: ['view'], clicks: ['tap'] },
};
/** Its second mapping, a fix: the name is in `campaign_name`. */
const ACME_V2 = {
  ...ACME_V1,
  normalizerVersion: 2,
  fields: { ...ACME_V1.fields, campaign_name: 'campaign_name' },
};

const configured = (config: object): CustomProviderConfig => {
  const [parsed] = parseCustomProviders([config]);
  return parsed as CustomProviderConfig;
};
const serveAcme = (config: object) => setConfiguredProviders([customProvider(configured(config))]);

const RECEIVED = '2026-11-22T10:00:05.000Z';
const acmeBody = (id: string, type = 'view', device = `dev_${id}`) =>
  Buffer.from(
    JSON.stringify({
      id,
      at: '2026-11-22T10:00:00.000Z',
      type,
      campaign: 'cmp_acme',
      device,
      campaign_title: 'Old name',
      campaign_name: 'Spring sale',
    }),
  );

/** `n` acme events stored by the first mapping, counted by the repair. */
async function storeAcme(table: Awaited<ReturnType<typeof createTestTable>>, n: number) {
  serveAcme(ACME_V1);
  const provider = customProvider(configured(ACME_V1));
  const messages = Array.from({ length: n }, (_, i) =>
    buildQueueMessage(provider, acmeBody(`evt_${i}`, i % 3 === 2 ? 'tap' : 'view'), RECEIVED),
  );
  for (const message of messages) expect(message.record).toMatchObject({ normalizer: 'acme-reno@1' });
  await storeBatch(table.writer, table.counters, messages);
  await table.counters.repair();
  return messages.map((message) => message.record.id);
}

const tablesOf = (table: Awaited<ReturnType<typeof createTestTable>>, client = dynamodb) => ({
  client,
  tableName: table.tableName,
  layout: table.writer.layout,
});

/** Every event item of the table, as stored. */
async function storedEvents(tableName: string) {
  const { Items = [] } = await dynamodb.send(
    new ScanCommand({
      TableName: tableName,
      FilterExpression: '#kind = :event',
      ExpressionAttributeNames: { '#kind': 'kind' },
      ExpressionAttributeValues: { ':event': { S: 'event' } },
      ConsistentRead: true,
    }),
  );
  return Items.map(fromEventItem).sort((a, b) => a.id.localeCompare(b.id));
}

/**
 * `events reprocess <args>` on the table, its command module run in this process with streams of its own: the
 * events tool's entry parses its arguments with one shared set of flags, which does not take `--normalizer` yet.
 */
async function reprocessOn(tableName: string, args: string[]) {
  const chunks = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  const stream = (into: Buffer[]) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        into.push(Buffer.from(chunk));
        done();
      },
    });
  const code = await reprocess([...args, '--endpoint', inject('dynamodbEndpoint'), '--table', tableName], {
    stdout: stream(chunks.stdout),
    stderr: stream(chunks.stderr),
    stdin: Readable.from([]),
  });
  return {
    code,
    stdout: Buffer.concat(chunks.stdout).toString(),
    stderr: Buffer.concat(chunks.stderr).toString(),
  };
}

const rewrittenIds = (outcomes: ReprocessStoredOutcome[]) =>
  outcomes.filter((outcome) => outcome.result === 'rewritten').map((outcome) => outcome.id);

describe('events reprocess --normalizer: stored records made by an earlier mapping', () => {
  it('rewrites each SORI record made by sori@1 (and one stored before records named their normalizer) with the current mapping, once: query --json shows sori@2 and the fixed field, the counters do not move, and a second run finds nothing', async () => {
    const table = await createTestTable(dynamodb);
    const impression = buildQueueMessage(
      sori,
      Buffer.from(JSON.stringify({ ...soriPayload('impression'), activity_id: 'act_n_1' })),
      RECEIVED,
    );
    const click = buildQueueMessage(
      sori,
      Buffer.from(JSON.stringify({ ...soriPayload('click'), activity_id: 'act_n_2' })),
      RECEIVED,
    );
    expect(impression.record).toMatchObject({ normalizer: 'sori@1', app: 'default' });
    await storeBatch(table.writer, table.counters, [impression, click]);
    // A record stored before records said which mapping made them: its item has no normalizer at all.
    const older = buildQueueMessage(
      sori,
      Buffer.from(JSON.stringify({ ...soriPayload('impression'), activity_id: 'act_n_3' })),
      RECEIVED,
    );
    const { normalizer: _n, app: _a, ...olderRecord } = older.record as Record<string, unknown>;
    await storeBatch(table.writer, table.counters, [{ ...older, record: olderRecord } as QueueMessage]);
    await table.counters.repair();
    const before = await table.stats.campaignStats('sori', 'cmp_1234');
    const listed = await eventsOn(table.tableName, ['query', '--campaign', 'cmp_1234', '--json']);
    expect(
      listed.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).normalizer),
    ).toEqual(['sori@1', 'sori@1', 'sori@1']);

    // SORI's mapping changes (the campaign's name is now kept upper-cased), and its version with it.
    Object.assign(sori, {
      normalizerVersion: 2,
      interpret: (payload: unknown, receivedAt: string) => {
        const result = originalSori.interpret(payload, receivedAt);
        return result.ok
          ? {
              ok: true,
              record: { ...result.record, campaign_name: result.record.campaign_name?.toUpperCase() ?? null },
            }
          : result;
      },
    });
    const run = await reprocessOn(table.tableName, ['--normalizer', 'sori@1', '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const outcomes = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(outcomes.map((outcome) => outcome.changed)).toEqual(outcomes.map(() => ['campaign_name']));
    expect(outcomes.map((outcome) => [outcome.id, outcome.result, outcome.normalizer]).sort()).toEqual(
      [impression, click, older].map((message) => [message.record.id, 'rewritten', 'sori@2']).sort(),
    );

    const after = await eventsOn(table.tableName, ['query', '--campaign', 'cmp_1234', '--json']);
    const events = after.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(events.map((event) => [event.normalizer, event.app, event.campaign_name])).toEqual(
      events.map(() => [
        'sori@2',
        'default',
        // The example's campaign is "Fall Promotion".
        'FALL PROMOTION',
      ]),
    );
    await table.counters.repair();
    expect(await table.stats.campaignStats('sori', 'cmp_1234')).toEqual(before);

    const again = await reprocessOn(table.tableName, ['--normalizer', 'sori@1', '--json']);
    expect([again.code, again.stdout]).toEqual([0, '']);
  });

  it('a dry run counts what it would rewrite and writes nothing', async () => {
    const table = await createTestTable(dynamodb);
    await storeAcme(table, 3);
    serveAcme(ACME_V2);
    const run = await reprocessOn(table.tableName, ['--normalizer', 'acme-reno@1', '--dry-run']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('events: dry run, nothing written: 3 would be rewritten\n');
    expect((await storedEvents(table.tableName)).map((event) => event.normalizer)).toEqual([
      'acme-reno@1',
      'acme-reno@1',
      'acme-reno@1',
    ]);
  });

  it('rewrites every record exactly once across a run interrupted between records (a write refused) and one whose write landed but whose answer was lost, then a re-run; the counters do not move', async () => {
    const table = await createTestTable(dynamodb);
    const ids = await storeAcme(table, 6);
    const before = await table.stats.campaignStats('acme-reno', 'cmp_acme');
    serveAcme(ACME_V2);

    // Stand-in for a crash: the local server cannot be made to fail one chosen write. The third rewrite fails
    // before it is sent.
    let updates = 0;
    const refusing = faultyDynamoDb((command) =>
      command.name === 'UpdateItemCommand' && ++updates === 3 ? new Error('connection reset') : undefined,
    );
    const seen: ReprocessStoredOutcome[] = [];
    await expect(
      reprocessStored(
        tablesOf(table, refusing.client),
        { normalizer: 'acme-reno@1' },
        { onOutcome: (o) => seen.push(o) },
      ),
    ).rejects.toThrow('connection reset');
    expect(rewrittenIds(seen)).toHaveLength(2);

    // Then a write that lands but whose answer is lost, as when the process dies right after sending it.
    const losing = faultyDynamoDb();
    let lost = 0;
    losing.client.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === 'UpdateItemCommand' && ++lost === 2) throw new Error('socket hang up');
        return result;
      },
      { step: 'initialize', name: 'loseAnswer' },
    );
    await expect(
      reprocessStored(
        tablesOf(table, losing.client),
        { normalizer: 'acme-reno@1' },
        { onOutcome: (o) => seen.push(o) },
      ),
    ).rejects.toThrow('socket hang up');

    const rerun = await reprocessStored(tablesOf(table), { normalizer: 'acme-reno@1' });
    const all = [...rewrittenIds(seen), ...rewrittenIds(rerun)];
    // The write whose answer was lost is the one record no run reports: it was rewritten once, by that write.
    expect(all).toHaveLength(ids.length - 1);
    expect(new Set(all).size).toBe(all.length);
    expect(
      (await storedEvents(table.tableName)).map((event) => [event.normalizer, event.campaign_name]),
    ).toEqual(ids.map(() => ['acme-reno@2', 'Spring sale']));
    expect(await reprocessStored(tablesOf(table), { normalizer: 'acme-reno@1' })).toEqual([]);
    await table.counters.repair();
    expect(await table.stats.campaignStats('acme-reno', 'cmp_acme')).toEqual(before);
  });

  it('two runs at once rewrite each record once between them: a run whose listing another run overtook finds its records rewritten already', async () => {
    const table = await createTestTable(dynamodb);
    const ids = await storeAcme(table, 6);
    serveAcme(ACME_V2);
    // The first run has listed every record; just before its first rewrite is sent, a second run does them all.
    const { client } = faultyDynamoDb();
    let second: Promise<ReprocessStoredOutcome[]> | undefined;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'UpdateItemCommand') {
          second ??= reprocessStored(tablesOf(table), { normalizer: 'acme-reno@1' });
          await second;
        }
        return next(args);
      },
      { step: 'initialize', name: 'overtaken' },
    );
    const first = await reprocessStored(tablesOf(table, client), { normalizer: 'acme-reno@1' });
    expect(first.map((outcome) => outcome.result)).toEqual(ids.map(() => 'already'));
    expect(rewrittenIds((await second) ?? []).sort()).toEqual([...ids].sort());
  });

  it('a run killed (SIGKILL) between records and run again rewrites each record exactly once', async () => {
    const table = await createTestTable(dynamodb);
    const ids = await storeAcme(table, 5);
    const before = await table.stats.campaignStats('acme-reno', 'cmp_acme');
    // Every request held 300 ms, so the kill lands while the tool is between two records.
    const proxy = await startSlowProxy(inject('dynamodbEndpoint'), [300]);
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, '../support/reprocess-child.ts'),
        '--normalizer',
        'acme-reno@1',
        '--json',
        '--endpoint',
        proxy.endpoint,
        '--table',
        table.tableName,
      ],
      {
        cwd: process.cwd(),
        env: bareEnv({
          AWS_ACCESS_KEY_ID: 'local',
          AWS_SECRET_ACCESS_KEY: 'local',
          AWS_REGION: 'us-east-1',
          CUSTOM_PROVIDERS: JSON.stringify([ACME_V2]),
        }),
      },
    );
    const exited = finished(child);
    try {
      await eventually(
        async () => {
          const rewritten = (await storedEvents(table.tableName)).filter(
            (e) => e.normalizer === 'acme-reno@2',
          );
          return rewritten.length >= 1 ? rewritten : undefined;
        },
        60_000,
        'the first rewrite',
      );
      child.kill('SIGKILL');
      expect((await exited).code).toBeNull();
    } finally {
      child.kill('SIGKILL');
      await proxy.close();
    }
    const rewrittenBefore = (await storedEvents(table.tableName)).filter(
      (e) => e.normalizer === 'acme-reno@2',
    );
    expect(rewrittenBefore.length).toBeGreaterThanOrEqual(1);
    expect(rewrittenBefore.length).toBeLessThan(ids.length);

    serveAcme(ACME_V2);
    const rerun = await reprocessStored(tablesOf(table), { normalizer: 'acme-reno@1' });
    expect(rewrittenIds(rerun).sort()).toEqual(
      ids.filter((id) => !rewrittenBefore.some((event) => event.id === id)).sort(),
    );
    expect((await storedEvents(table.tableName)).map((event) => event.normalizer)).toEqual(
      ids.map(() => 'acme-reno@2'),
    );
    await table.counters.repair();
    expect(await table.stats.campaignStats('acme-reno', 'cmp_acme')).toEqual(before);
  }, 120_000);

  it('leaves as they are, saying why, a record whose counted fields or key the new mapping would move and one it no longer understands; exit code 1', async () => {
    const table = await createTestTable(dynamodb);
    serveAcme(ACME_V1);
    const v1 = customProvider(configured(ACME_V1));
    const kept = buildQueueMessage(v1, acmeBody('evt_kept'), RECEIVED);
    const moved = buildQueueMessage(v1, acmeBody('evt_moved', 'view', 'dev_shared'), RECEIVED);
    await storeBatch(table.writer, table.counters, [kept, moved]);
    // The next mapping reads the device elsewhere (`device_id`, absent from these bodies) and takes no `view`.
    serveAcme({ ...ACME_V2, fields: { ...ACME_V2.fields, device: 'device_id' } });
    const dry = await reprocessStored(tablesOf(table), { normalizer: 'acme-reno@1' }, { dryRun: true });
    expect(dry.map((outcome) => outcome.result).sort()).toEqual(['skipped', 'skipped']);
    expect(dry[0]?.reason).toMatch(
      /^would move what the counters count or where the record is found \(device_id\): left as it is/,
    );

    serveAcme({ ...ACME_V2, events: ['tap'], counted: { clicks: ['tap'] } });
    const run = await reprocessOn(table.tableName, ['--normalizer', 'acme-reno@1', '--json']);
    expect(run.code).toBe(1);
    const outcomes = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(outcomes).toEqual([
      expect.objectContaining({ result: 'quarantined', reason: expect.stringContaining('view') }),
      expect.objectContaining({ result: 'quarantined', reason: expect.stringContaining('view') }),
    ]);
    expect(run.stderr).toBe('events: 2 left as they were, at acme-reno@1 (see reason)\n');
    const item = await dynamodb.send(
      new GetItemCommand({
        TableName: table.tableName,
        Key: {
          pk: { S: `CAMPAIGN#acme-reno#cmp_acme#2026-11-22#0` },
          sk: { S: `E#2026-11-22T10:00:00.000Z#${kept.record.id}` },
        },
      }),
    );
    expect(item.Item?.normalizer?.S).toBe('acme-reno@1');
  });

  it('refuses a label that is not <provider>@<n>, a provider not served, and the current version, in one line with exit code 2', async () => {
    const table = await createTestTable(dynamodb);
    expect(await reprocessOn(table.tableName, ['--normalizer', 'sori'])).toMatchObject({
      code: 2,
      stderr: 'events: --normalizer must be <provider>@<version>, e.g. sori@1, got "sori" (see --help)\n',
    });
    expect(await reprocessOn(table.tableName, ['--normalizer', 'nope@1'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^events: unknown provider "nope"; known: sori, /),
    });
    expect(await reprocessOn(table.tableName, ['--normalizer', 'sori@1'])).toMatchObject({
      code: 2,
      stderr:
        'events: sori@1 is the current normalizer of sori: there is nothing newer to normalize into (see --help)\n',
    });
    expect(await reprocessOn(table.tableName, ['--normalizer', 'sori@1', '--reason', 'x'])).toMatchObject({
      code: 2,
      stderr: 'events: --reason does not apply to reprocess --normalizer (see --help)\n',
    });
  });

  it('reads a raw body kept by reference from where this stack keeps raw bodies, and keeps the reference; one not of this stack is left as it is', async () => {
    const table = await createTestTable(dynamodb);
    serveAcme(ACME_V1);
    const v1 = customProvider(configured(ACME_V1));
    const dataDir = await mkdtemp(join(tmpdir(), 'reprocess-stored-'));
    const body = acmeBody('evt_ref');
    const hash = createHash('sha256').update(body).digest('hex');
    await mkdir(join(dataDir, 'raw', 'acme-reno'), { recursive: true });
    await writeFile(join(dataDir, 'raw', 'acme-reno', hash), body);
    const byRef = (message: QueueMessage, ref: string) =>
      ({ ...message, raw: '', raw_ref: ref }) as QueueMessage;
    const kept = buildQueueMessage(v1, body, RECEIVED);
    const foreign = buildQueueMessage(v1, acmeBody('evt_foreign'), RECEIVED);
    await storeBatch(table.writer, table.counters, [
      byRef(kept, `file://raw/acme-reno/${hash}`),
      byRef(foreign, 'file://../../etc/passwd'),
    ]);
    serveAcme(ACME_V2);
    const outcomes = await reprocessStored(
      tablesOf(table),
      { normalizer: 'acme-reno@1' },
      { fileRoot: dataDir },
    );
    const byId = new Map(outcomes.map((outcome) => [outcome.id, outcome]));
    expect(byId.get(kept.record.id)).toMatchObject({ result: 'rewritten', changed: ['campaign_name'] });
    expect(byId.get(foreign.record.id)).toMatchObject({
      result: 'skipped',
      reason: expect.stringMatching(/^raw body reference refused/),
    });
    const { Items = [] } = await dynamodb.send(
      new ScanCommand({
        TableName: table.tableName,
        FilterExpression: '#id = :id',
        ExpressionAttributeNames: { '#id': 'id' },
        ExpressionAttributeValues: { ':id': { S: kept.record.id } },
      }),
    );
    expect(Items.map((item) => [item.normalizer?.S, item.raw_ref?.S, item.raw])).toEqual([
      ['acme-reno@2', `file://raw/acme-reno/${hash}`, undefined],
    ]);
  });
});
