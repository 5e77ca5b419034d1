import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterAll, describe, expect, it } from 'vitest';
import { RecordsRepository } from '../../lib/queries/records-repository';
import { type LocalStack, queueDepth, startLocalStack } from '../../local/local-stack';
import { hexSignature, memoryLogger, soriPayload } from '../support/deliveries';
import { eventually } from '../support/local-aws';
import { exited, spawnScript } from '../support/stack-process';

const SECRET = 'sk_local_faults';
const dirs: string[] = [];

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function dataDir() {
  const dir = await mkdtemp(join(tmpdir(), 'campaign-inbox-faults-'));
  dirs.push(dir);
  return dir;
}

const impression = (name: string) =>
  JSON.stringify({ ...soriPayload('impression'), activity_id: `act_fault_${name}` });

async function post(stack: LocalStack, body: string) {
  const response = await fetch(stack.webhookUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-sori-signature': hexSignature(body, SECRET) },
    body,
  });
  return { status: response.status, body: (await response.json()) as { id?: string } };
}

async function startStack(dir: string, extra: Partial<Parameters<typeof startLocalStack>[0]> = {}) {
  const alerts: string[] = [];
  const stack = await startLocalStack({
    port: 0,
    dataDir: dir,
    secret: SECRET,
    visibilityTimeoutSeconds: 1,
    maxReceiveCount: 2,
    logger: memoryLogger().logger,
    alert: (line) => alerts.push(line),
    ...extra,
  });
  return { stack, alerts };
}

const storedIds = async (stack: LocalStack) =>
  (
    await new RecordsRepository(stack.dynamodb, stack.tableName).queryEvents({
      provider: 'sori',
      campaign: 'cmp_1234',
      limit: 100,
    })
  ).map((event) => event.id);

describe('local stack: a disk that refuses writes', () => {
  it('a full table disk: the stack stays up, answers deliveries 503 and says so in one line, then stores everything it accepted, nothing dead-lettered, once the disk has room', async () => {
    // No counter repair pass meanwhile: on a busy machine one could reach the full table before the first
    // delivery does, and that delivery would rightly be refused rather than accepted into the journal.
    const { stack, alerts } = await startStack(await dataDir(), { repairIntervalMs: 3_600_000 });
    // A stand-in for LevelDB's writes, failing as LevelDB reports a full disk: a real full disk is not
    // producible here. Reads, and everything else, are the real store's.
    const level = ClassicLevel.prototype as unknown as Record<
      string,
      (...args: unknown[]) => Promise<unknown>
    >;
    const writes = ['_put', '_del', '_batch'] as const;
    const originals = Object.fromEntries(writes.map((name) => [name, level[name]]));
    let full = true;
    for (const name of writes) {
      level[name] = async function (this: unknown, ...args: unknown[]) {
        if (full)
          throw Object.assign(new Error('IO error: 000003.log: No space left on device'), {
            code: 'LEVEL_IO_ERROR',
          });
        return originals[name]?.apply(this, args);
      };
    }
    try {
      // Accepted into the journal: the table's trouble shows only once the consumer tries to store it.
      const first = await post(stack, impression('before_full'));
      expect(first.status).toBe(202);
      await eventually(async () => (alerts.length > 0 ? true : undefined), 20_000, 'the table fault noticed');
      expect(alerts).toEqual([
        expect.stringMatching(/^the table cannot write in .+: no space left on the disk \(ENOSPC\); .*503/),
      ]);
      for (let i = 0; i < 3; i++) expect((await post(stack, impression(`while_full_${i}`))).status).toBe(503);
      expect((await fetch(`http://127.0.0.1:${stack.port}/healthz`)).status).toBe(200);

      full = false;
      await eventually(async () => (alerts.length > 1 ? true : undefined), 10_000, 'the table writing again');
      expect(alerts).toHaveLength(2);
      expect(alerts[1]).toMatch(/^the table writes again in /);
      const after = await post(stack, impression('after_full'));
      expect(after.status).toBe(202);
      const ids = await eventually(
        async () => {
          const found = await storedIds(stack);
          return found.length >= 2 ? found : undefined;
        },
        20_000,
        'both accepted deliveries stored',
      );
      expect(ids.sort()).toEqual([first.body.id, after.body.id].sort());
      expect(await queueDepth(stack.sqs, stack.dlqUrl)).toBe(0);
    } finally {
      for (const name of writes) level[name] = originals[name] as (typeof level)[string];
      await stack.stop();
    }
  }, 60_000);

  it('a full DATA_DIR: deliveries are answered 503 and it is said in one line, then accepted again once there is room', async () => {
    let full = false;
    const { stack, alerts } = await startStack(await dataDir(), {
      // A stand-in for the journal's segment writes, failing as a full disk does: a real full disk is not
      // producible here.
      openJournalSegment: async (path) => {
        const handle = await open(path, 'wx', 0o600);
        return {
          write: (buffer, offset, length, position) => {
            if (full)
              return Promise.reject(
                Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }),
              );
            return handle.write(buffer, offset, length, position);
          },
          datasync: () => handle.datasync(),
          truncate: (length) => handle.truncate(length),
          close: () => handle.close(),
        };
      },
    });
    try {
      expect((await post(stack, impression('room'))).status).toBe(202);
      full = true;
      for (let i = 0; i < 3; i++) expect((await post(stack, impression(`full_${i}`))).status).toBe(503);
      expect(alerts).toEqual([
        expect.stringMatching(
          /^the delivery journal cannot write in .+: no space left on the disk \(ENOSPC\); .*503/,
        ),
      ]);
      full = false;
      expect((await post(stack, impression('room_again'))).status).toBe(202);
      expect(alerts).toHaveLength(2);
      expect(alerts[1]).toMatch(/^the delivery journal writes again/);
    } finally {
      await stack.stop();
    }
  });

  it('a read-only DATA_DIR at start: one line on stderr naming it, exit code 1, no stack trace', async () => {
    const dir = await dataDir();
    // A stand-in for a read-only mount (mounting one needs privileges a test does not have): every write under
    // the directory fails with EROFS.
    const child = spawnScript('local/start.ts', { PORT: '0', DATA_DIR: dir, READ_ONLY_DIR: dir }, [
      '--import',
      './test/support/read-only-dir.ts',
    ]);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout?.resume();
    expect((await exited(child)).code).toBe(1);
    expect(stderr.trimEnd().split('\n')).toEqual([
      `campaign-inbox could not start: DATA_DIR ${dir} cannot be written: the file system is read-only (EROFS)`,
    ]);
  });
});
