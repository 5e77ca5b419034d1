import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventsOn } from '../support/events-cli';
import { createTestTable, localClients } from '../support/local-aws';
import { DAY_END, DAY_START } from '../support/replay-events';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('events replay --checkpoint', () => {
  it('naming a directory is a one-line usage error naming --checkpoint, exit 2, nothing sent', async () => {
    const { tableName } = await createTestTable(localClients().dynamodb);
    const dir = await mkdtemp(join(tmpdir(), 'replay-checkpoint-'));
    dirs.push(dir);
    const run = await eventsOn(tableName, [
      'replay',
      '--since',
      DAY_START,
      '--until',
      DAY_END,
      '--to',
      'http',
      '--target',
      'http://127.0.0.1:9/unused',
      '--checkpoint',
      dir,
    ]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('--checkpoint');
    expect(lines[0]).toContain(dir);
    expect(lines[0]).toContain('directory');
    expect(lines[0]).not.toContain('EISDIR');
  });
});
