/**
 * `npm start` with `LAKE=1` keeps the deployed lake's local twin: the rows of first inserts under
 * `DATA_DIR/lake/day=<day>/provider=<provider>/`, a duplicate delivery never adding one. Against the real local
 * stack (its DynamoDB-API and SQS-API servers).
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type LocalStack, queueDepth, startLocalStack } from '../../local/local-stack';
import { hexSignature, memoryLogger, soriPayload } from '../support/deliveries';
import { eventually } from '../support/local-aws';

const SECRET = 'sk_local_lake';
const dirs: string[] = [];

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function post(stack: LocalStack, body: string) {
  const response = await fetch(stack.webhookUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-sori-signature': hexSignature(body, SECRET) },
    body,
  });
  return response.status;
}

/** Every row of every file under `dir`, parsed. */
async function rowsUnder(dir: string): Promise<{ path: string; row: Record<string, unknown> }[]> {
  const rows: { path: string; row: Record<string, unknown> }[] = [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    for (const line of (await readFile(path, 'utf8')).split('\n').filter(Boolean))
      rows.push({ path: path.slice(dir.length + 1), row: JSON.parse(line) });
  }
  return rows;
}

describe('the local stack with the lake on', () => {
  it('writes one row per first insert, partitioned by day and provider, and none for a duplicate delivery', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-lake-'));
    dirs.push(dataDir);
    const stack = await startLocalStack({
      port: 0,
      dataDir,
      secret: SECRET,
      logger: memoryLogger().logger,
      lake: true,
    });
    try {
      const day = '2026-11-20';
      const bodies = ['one', 'two'].map((name) =>
        JSON.stringify({
          ...soriPayload('impression'),
          activity_id: `act_lake_${name}`,
          created_at: `${day}T08:00:00.000Z`,
        }),
      );
      for (const body of [...bodies, bodies[0] as string]) expect(await post(stack, body)).toBe(202);
      const lake = join(dataDir, 'lake');
      const rows = await eventually(
        async () => {
          const found = await rowsUnder(lake);
          return found.length >= 2 ? found : undefined;
        },
        30_000,
        'the lake rows',
      );
      // The duplicate's batch may still be on its way: wait until the queue holds nothing, then count again.
      await eventually(
        async () => ((await queueDepth(stack.sqs, stack.queueUrl)) === 0 ? true : undefined),
        30_000,
        'the queue drained',
      );
      const settled = await rowsUnder(lake);
      expect(settled.map(({ row }) => row.activity_id).sort()).toEqual(['act_lake_one', 'act_lake_two']);
      for (const { path } of rows) expect(path).toMatch(new RegExp(`^day=${day}/provider=sori/`));
    } finally {
      await stack.stop();
    }
  });

  it('writes no lake without the option', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-lake-'));
    dirs.push(dataDir);
    const stack = await startLocalStack({ port: 0, dataDir, secret: SECRET, logger: memoryLogger().logger });
    try {
      const body = JSON.stringify({ ...soriPayload('impression'), activity_id: 'act_lake_off' });
      expect(await post(stack, body)).toBe(202);
      await eventually(
        async () => ((await queueDepth(stack.sqs, stack.queueUrl)) === 0 ? true : undefined),
        30_000,
        'the queue drained',
      );
      expect(await readdir(dataDir)).not.toContain('lake');
    } finally {
      await stack.stop();
    }
  });

  it('is rebuilt from the table at each start: records stored before it was on, or whose rows a crash cut off, are in it, each once', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-lake-'));
    dirs.push(dataDir);
    const start = (lake: boolean) =>
      startLocalStack({ port: 0, dataDir, secret: SECRET, logger: memoryLogger().logger, lake });
    const drained = async (stack: LocalStack) =>
      eventually(
        async () => ((await queueDepth(stack.sqs, stack.queueUrl)) === 0 ? true : undefined),
        30_000,
        'the queue drained',
      );
    const before = await start(false);
    try {
      const body = JSON.stringify({ ...soriPayload('impression'), activity_id: 'act_lake_before' });
      expect(await post(before, body)).toBe(202);
      await drained(before);
    } finally {
      await before.stop();
    }
    const lake = join(dataDir, 'lake');
    const on = await start(true);
    try {
      const body = JSON.stringify({ ...soriPayload('impression'), activity_id: 'act_lake_on' });
      expect(await post(on, body)).toBe(202);
      await drained(on);
      await eventually(async () => ((await rowsUnder(lake)).length >= 2 ? true : undefined), 30_000, 'rows');
    } finally {
      await on.stop();
    }
    // What a crash between a batch and its rows leaves: the table has the record, the lake not.
    await rm(lake, { recursive: true, force: true });
    const again = await start(true);
    try {
      const ids = (await rowsUnder(lake)).map(({ row }) => row.activity_id).sort();
      expect(ids).toEqual(['act_lake_before', 'act_lake_on']);
    } finally {
      await again.stop();
    }
  });
});
