import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { startStackProcess } from '../support/stack-process';

const execute = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const DOCS = readFileSync(join(ROOT, 'docs/custom-providers.md'), 'utf8');
const EXAMPLE = /```json\n([\s\S]*?)\n```/.exec(
  DOCS.slice(DOCS.indexOf('<!-- example: CUSTOM_PROVIDERS -->')),
)?.[1] as string;

describe('npm start with CUSTOM_PROVIDERS', () => {
  it('serves the configured providers: their routes authenticate, and a reaction may name them', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-custom-start-'));
    const stack = await startStackProcess(dataDir, {
      CUSTOM_PROVIDERS: EXAMPLE,
      ON_EVENT_MODULE: './test/fixtures/reactions/record-ids.ts',
      ON_EVENT_PROVIDERS: 'beacon,acme-ads',
    });
    try {
      const base = stack.info.webhookUrl.replace(/\/sori$/, '');
      const post = (provider: string) =>
        fetch(`${base}/${provider}`, { method: 'POST', body: '{}' }).then((response) => response.status);
      // Unsigned: refused by the provider's scheme, where a provider not served would be a 404.
      expect(await post('beacon')).toBe(401);
      expect(await post('acme-ads')).toBe(401);
      expect(await post('not-configured')).toBe(404);
    } finally {
      await stack.kill('SIGTERM');
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses to start with a wrong configuration, in one line naming the provider and the field', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-custom-start-'));
    const wrong = JSON.stringify([
      { name: 'beacon', scheme: 'standard-webhooks', fields: { event: 'type' } },
    ]);
    const result = await execute(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
      cwd: ROOT,
      env: { ...process.env, PORT: '0', DATA_DIR: dataDir, CUSTOM_PROVIDERS: wrong },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    await rm(dataDir, { recursive: true, force: true });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'campaign-inbox could not start: CUSTOM_PROVIDERS: provider "beacon", fields.campaign: required\n',
    );
  });
});
