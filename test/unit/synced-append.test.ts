import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type AppendFile, appendSynced, writeSynced } from '../../local/synced-append';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe("the local journals' append-and-fsync (local/synced-append.ts)", () => {
  it('continues a write the disk takes only in part, at the right offsets, and flushes once it is whole', async () => {
    // A stand-in for a file taking 3 bytes a call: a real disk cannot be made to write short on demand.
    const file = Buffer.alloc(20, '.');
    const calls: string[] = [];
    const short: AppendFile = {
      write: async (buffer, offset, length, position) => {
        const taken = Math.min(3, length);
        buffer.copy(file, position ?? 0, offset, offset + taken);
        calls.push(`write@${position}`);
        return { bytesWritten: taken };
      },
      datasync: async () => {
        calls.push('datasync');
      },
    };

    await writeSynced(short, Buffer.from('abcdefgh'), 5);

    expect(file.toString()).toBe('.....abcdefgh.......');
    expect(calls).toEqual(['write@5', 'write@8', 'write@11', 'datasync']);
  });

  it('appends to a file it creates readable by its owner only, and to one that exists', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'campaign-inbox-append-'));
    dirs.push(dir);
    const path = join(dir, 'lines.jsonl');

    await appendSynced(path, '{"a":1}\n');
    await appendSynced(path, '{"b":2}\n');

    expect(readFileSync(path, 'utf8')).toBe('{"a":1}\n{"b":2}\n');
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});
