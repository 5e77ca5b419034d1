/** `npm start` reads the signals' thresholds (`SIGNAL_*`) as the deployed functions do, and refuses a bad one. */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const execute = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');

describe('npm start with SIGNAL_* thresholds', () => {
  it('refuses to start with a malformed threshold, in one line naming it', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-signals-'));
    const result = await execute(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
      cwd: ROOT,
      env: { ...process.env, PORT: '0', DATA_DIR: dataDir, SIGNAL_CTR: 'lots' },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    await rm(dataDir, { recursive: true, force: true });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^campaign-inbox could not start: invalid signal thresholds: SIGNAL_CTR="lots"/,
    );
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
