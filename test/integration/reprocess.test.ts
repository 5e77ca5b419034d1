import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import type { QueueMessage } from '../../lib/events/event-record';
import { reprocessQuarantine } from '../../lib/ingest/reprocess';
import { storeBatch } from '../../lib/ingest/store-batch';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { localClientConfig } from '../../local/local-stack';
import { soriPayload } from '../support/deliveries';
import { eventsOn } from '../support/events-cli';
import { createTestTable, localClients, uniqueName } from '../support/local-aws';

const { dynamodb } = localClients();
const original = sori.interpret;

/** A provider fix made in the test: SORI's `campaign.view`, unknown so far, becomes an impression. */
function fixSori() {
  Object.assign(sori, {
    interpret: (payload: unknown, receivedAt: string) =>
      original(
        (payload as { event?: string }).event === 'campaign.view'
          ? { ...(payload as object), event: 'campaign.impression' }
          : payload,
        receivedAt,
      ),
  });
}

afterEach(() => {
  Object.assign(sori, { interpret: original });
});

const view = (activity: string) =>
  Buffer.from(
    JSON.stringify({ ...soriPayload('impression'), event: 'campaign.view', activity_id: activity }),
  );

async function setUp() {
  const table = await createTestTable(dynamodb);
  const tables = { client: dynamodb, ...table };
  const quarantined = buildQueueMessage(sori, view('act_view_1'), '2026-11-22T10:00:00.000Z');
  expect(quarantined.kind).toBe('quarantine');
  await storeBatch(table.writer, table.counters, [quarantined]);
  return { ...table, tables, quarantinedId: quarantined.record.id };
}

describe('reprocessing the quarantine', () => {
  it('leaves what still does not parse quarantined, and a dry run writes nothing', async () => {
    const { tables, repository, quarantinedId } = await setUp();
    expect(await reprocessQuarantine(tables, {})).toEqual([
      expect.objectContaining({
        id: quarantinedId,
        result: 'quarantined',
        reason: expect.stringContaining('campaign.view'),
      }),
    ]);
    fixSori();
    expect(await reprocessQuarantine(tables, {}, { dryRun: true })).toEqual([
      expect.objectContaining({ id: quarantinedId, result: 'stored' }),
    ]);
    expect(await repository.queryEvents({ provider: 'sori', campaign: 'cmp_1234', limit: 10 })).toEqual([]);
    expect((await repository.listQuarantine(10))[0]?.resolved_at).toBeUndefined();
  });

  it('stores a quarantined delivery exactly once after a fix, counted once, even run twice at once alongside a live retry of the same event', async () => {
    const { tables, repository, writer, counters, stats, quarantinedId } = await setUp();
    fixSori();
    const retry = buildQueueMessage(sori, view('act_view_1'), '2026-11-22T10:05:00.000Z');
    const [first, second] = await Promise.all([
      reprocessQuarantine(tables, {}),
      reprocessQuarantine(tables, {}),
      storeBatch(writer, counters, [retry]),
    ]);
    const recordId = retry.record.id;
    expect([...(first ?? []), ...(second ?? [])].map((outcome) => outcome.record_id)).toEqual([
      recordId,
      recordId,
    ]);

    const stored = await repository.queryEvents({ provider: 'sori', campaign: 'cmp_1234', limit: 10 });
    expect(stored.map((event) => [event.id, event.event])).toEqual([[recordId, 'campaign.impression']]);
    await counters.repair();
    expect(await stats.campaignStats('sori', 'cmp_1234')).toEqual([
      expect.objectContaining({ impressions: 1, clicks: 0, unique_devices: 1 }),
    ]);
    const [entry] = await repository.listQuarantine(10);
    expect(entry).toMatchObject({ id: quarantinedId, record_id: recordId, resolved_at: expect.any(String) });

    // Resolved entries are kept for audit and not run again.
    expect(await reprocessQuarantine(tables, {})).toEqual([]);
    expect(await stats.campaignStats('sori', 'cmp_1234')).toEqual([
      expect.objectContaining({ impressions: 1 }),
    ]);
  });

  it("refuses, storing nothing, from a machine whose clock is 30 s behind the table: a batch stored from it would sort before the repair's watermark and never be counted", async () => {
    const { tables, repository } = await setUp();
    fixSori();
    // The operator's machine, its clock 30 s behind (only Date is faked; the table answers with its own time).
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() - 30_000);
    try {
      await expect(reprocessQuarantine(tables, {})).rejects.toThrow(
        /this machine's clock is 3\d s behind the table's: events stored from it could be left uncounted; set the clock right \(NTP\)/,
      );
    } finally {
      vi.useRealTimers();
    }
    expect(await repository.queryEvents({ provider: 'sori', campaign: 'cmp_1234', limit: 10 })).toEqual([]);
    expect((await repository.listQuarantine(10))[0]?.resolved_at).toBeUndefined();
  });
});

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A quarantined SORI `campaign.view` whose raw body the entry refers to by `ref` instead of keeping it. */
async function quarantineWithRef(
  table: Awaited<ReturnType<typeof createTestTable>>,
  activity: string,
  ref: string,
) {
  const message = buildQueueMessage(sori, view(activity), '2026-11-22T10:00:00.000Z');
  expect(message.kind).toBe('quarantine');
  await storeBatch(table.writer, table.counters, [{ ...message, raw: '', raw_ref: ref } as QueueMessage]);
  return message.record.id;
}

describe('reprocessing a quarantined delivery whose raw body is kept by reference', () => {
  it("reads file references only in the data folder's raw bodies, in the form the store writes them, with the bytes their name hashes; any other is left quarantined and reported", async () => {
    const table = await createTestTable(dynamodb);
    const tables = { client: dynamodb, ...table };
    const dataDir = await mkdtemp(join(tmpdir(), 'reprocess-data-'));
    const outside = await mkdtemp(join(tmpdir(), 'reprocess-outside-'));
    await mkdir(join(dataDir, 'raw', 'sori'), { recursive: true });
    await mkdir(join(dataDir, 'raw', 'adreform'), { recursive: true });
    const body = (activity: string) => view(activity);
    /** A body as the store writes it: under raw/<provider>/<sha256 of the bytes>. */
    const stored = async (provider: string, bytes: Buffer) => {
      await writeFile(join(dataDir, 'raw', provider, sha256(bytes)), bytes);
      return `raw/${provider}/${sha256(bytes)}`;
    };

    const good = await quarantineWithRef(
      table,
      'act_file_good',
      `file://${await stored('sori', body('act_file_good'))}`,
    );
    // Valid bodies a crafted reference points at, each of which would parse if it were read.
    const outsideBody = body('act_file_outside');
    await writeFile(join(outside, sha256(outsideBody)), outsideBody);
    const linked = body('act_file_linked');
    await writeFile(join(outside, 'linked'), linked);
    await symlink(join(outside, 'linked'), join(dataDir, 'raw', 'sori', sha256(linked)));
    const swapped = body('act_file_swapped');
    await writeFile(join(dataDir, 'raw', 'sori', sha256(Buffer.from('other bytes'))), swapped);
    const otherProvider = await stored('adreform', body('act_file_provider'));
    const refused = {
      dotDot: await quarantineWithRef(
        table,
        'act_file_1',
        `file://raw/sori/../../../${outside.split('/').pop()}/${sha256(outsideBody)}`,
      ),
      relative: await quarantineWithRef(
        table,
        'act_file_2',
        `file://../${outside.split('/').pop()}/${sha256(outsideBody)}`,
      ),
      absolute: await quarantineWithRef(table, 'act_file_3', `file://${join(outside, sha256(outsideBody))}`),
      symlink: await quarantineWithRef(table, 'act_file_4', `file://raw/sori/${sha256(linked)}`),
      swapped: await quarantineWithRef(
        table,
        'act_file_5',
        `file://raw/sori/${sha256(Buffer.from('other bytes'))}`,
      ),
      provider: await quarantineWithRef(table, 'act_file_6', `file://${otherProvider}`),
      s3Locally: await quarantineWithRef(
        table,
        'act_file_7',
        `s3://any-bucket/raw/sori/${sha256(outsideBody)}`,
      ),
      missing: await quarantineWithRef(table, 'act_file_8', `file://raw/sori/${'0'.repeat(64)}`),
    };
    fixSori();
    const outcomes = await reprocessQuarantine(tables, {}, { fileRoot: dataDir });
    const byId = new Map(outcomes.map((outcome) => [outcome.id, outcome]));
    expect(byId.get(good)).toMatchObject({ result: 'stored' });
    const reasons: Record<keyof typeof refused, RegExp> = {
      dotDot: /^raw body reference refused: not one of this stack's \(file:\/\/raw\/sori\/<sha-256>\)/,
      relative: /^raw body reference refused: not one of this stack's/,
      absolute: /^raw body reference refused: not one of this stack's/,
      symlink: /^raw body reference refused: .* outside the data folder's raw bodies/,
      swapped: /^raw body refused: its bytes do not hash to the name its reference gives/,
      provider: /^raw body reference refused: not one of this stack's/,
      s3Locally: /^raw body reference refused: an S3 reference, and no raw-bodies bucket is known here/,
      missing: /^raw body not read: .*ENOENT/,
    };
    for (const [name, id] of Object.entries(refused) as [keyof typeof refused, string][]) {
      expect(byId.get(id), name).toMatchObject({
        result: 'skipped',
        reason: expect.stringMatching(reasons[name]),
      });
    }
    // Only the good one was stored; every other entry is as it was: unresolved, with its reason.
    const events = await table.repository.queryEvents({ provider: 'sori', campaign: 'cmp_1234', limit: 100 });
    expect(events.map((event) => event.activity_id)).toEqual(['act_file_good']);
    for (const entry of await table.repository.listQuarantine(100)) {
      if (entry.id === good) continue;
      expect(entry.resolved_at, entry.id).toBeUndefined();
      expect(entry.reason, entry.id).toContain('campaign.view');
    }
  });

  it('stores a delivery whose body, kept by reference, is too large for an item, keeping the reference', async () => {
    const table = await createTestTable(dynamodb);
    const dataDir = await mkdtemp(join(tmpdir(), 'reprocess-data-'));
    await mkdir(join(dataDir, 'raw', 'sori'), { recursive: true });
    // 667 KB of base64 that compression takes no lower than 500 KB: inline, the item would pass 400 KB.
    const bytes = Buffer.from(
      JSON.stringify({
        ...soriPayload('impression'),
        event: 'campaign.view',
        activity_id: 'act_big_ref',
        padding: randomBytes(500_000).toString('base64'),
      }),
    );
    await writeFile(join(dataDir, 'raw', 'sori', sha256(bytes)), bytes);
    const quarantined = buildQueueMessage(sori, bytes, '2026-11-22T10:00:00.000Z');
    expect(quarantined.kind).toBe('quarantine');
    const ref = `file://raw/sori/${sha256(bytes)}`;
    await storeBatch(table.writer, table.counters, [
      { ...quarantined, raw: '', raw_ref: ref } as QueueMessage,
    ]);
    fixSori();
    const [outcome] = await reprocessQuarantine({ client: dynamodb, ...table }, {}, { fileRoot: dataDir });
    expect(outcome).toMatchObject({ result: 'stored' });
    const [stored] = await table.repository.queryEvents({
      provider: 'sori',
      campaign: 'cmp_1234',
      limit: 10,
    });
    expect(stored?.activity_id).toBe('act_big_ref');
  });

  it("reads S3 references only in the stack's raw-bodies bucket under raw/<provider>/, and fetches nothing from any other bucket", async () => {
    const table = await createTestTable(dynamodb);
    const tables = { client: dynamodb, ...table };
    const s3 = new S3Client({ ...localClientConfig(inject('sqsEndpoint')), forcePathStyle: true });
    const bucket = uniqueName('raw-bodies');
    const elsewhere = uniqueName('someone-elses');
    for (const name of [bucket, elsewhere]) await s3.send(new CreateBucketCommand({ Bucket: name }));
    const put = async (name: string, key: string, bytes: Buffer) => {
      await s3.send(new PutObjectCommand({ Bucket: name, Key: key, Body: bytes }));
      return `s3://${name}/${key}`;
    };
    const good = view('act_s3_good');
    const other = view('act_s3_other');
    const prefix = view('act_s3_prefix');
    const ids = {
      good: await quarantineWithRef(
        table,
        'act_s3_good',
        await put(bucket, `raw/sori/${sha256(good)}`, good),
      ),
      otherBucket: await quarantineWithRef(
        table,
        'act_s3_other',
        await put(elsewhere, `raw/sori/${sha256(other)}`, other),
      ),
      otherPrefix: await quarantineWithRef(
        table,
        'act_s3_prefix',
        await put(bucket, `exports/sori/${sha256(prefix)}`, prefix),
      ),
      fileOnStack: await quarantineWithRef(table, 'act_s3_file', `file://raw/sori/${sha256(good)}`),
    };
    fixSori();
    // The operator's S3 settings, as the CLI would have them: the run's S3-API server and local credentials.
    const operator = {
      AWS_ENDPOINT_URL_S3: inject('sqsEndpoint'),
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    };
    const before = Object.fromEntries(Object.keys(operator).map((name) => [name, process.env[name]]));
    Object.assign(process.env, operator);
    try {
      const outcomes = await reprocessQuarantine(tables, {}, { rawBucket: bucket });
      const byId = new Map(outcomes.map((outcome) => [outcome.id, outcome]));
      expect(byId.get(ids.good)).toMatchObject({ result: 'stored' });
      expect(byId.get(ids.otherBucket)).toMatchObject({
        result: 'skipped',
        reason: expect.stringMatching(
          /^raw body reference refused: not one of this stack's \(s3:\/\/raw-bodies-/,
        ),
      });
      expect(byId.get(ids.otherPrefix)).toMatchObject({ result: 'skipped' });
      expect(byId.get(ids.fileOnStack)).toMatchObject({
        result: 'skipped',
        reason: expect.stringMatching(
          /^raw body reference refused: a local file, readable only where the local stack runs/,
        ),
      });
    } finally {
      for (const [name, value] of Object.entries(before)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      s3.destroy();
    }
    const events = await table.repository.queryEvents({ provider: 'sori', campaign: 'cmp_1234', limit: 100 });
    expect(events.map((event) => event.activity_id)).toEqual(['act_s3_good']);
  });

  it('says so through events reprocess: the skipped entries and why, in one row each, and exit code 1', async () => {
    const table = await createTestTable(dynamodb);
    const dataDir = await mkdtemp(join(tmpdir(), 'reprocess-cli-'));
    const id = await quarantineWithRef(table, 'act_cli_1', 'file://../../etc/passwd');
    const result = await eventsOn(table.tableName, ['reprocess', '--json'], { DATA_DIR: dataDir });
    expect(result.code).toBe(1);
    expect(
      result.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line)),
    ).toEqual([
      expect.objectContaining({
        id,
        result: 'skipped',
        reason: expect.stringContaining('raw body reference refused'),
      }),
    ]);
    expect(result.stderr).toBe(
      'events: 1 left quarantined as it was: its raw body could not be used (see reason)\n',
    );
    expect((await table.repository.listQuarantine(10))[0]?.resolved_at).toBeUndefined();
  });
});
