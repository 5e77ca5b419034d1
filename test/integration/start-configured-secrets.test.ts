import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { startStackProcess } from '../support/stack-process';

// `npm start` (local/start.ts) as its own process, configured only by its environment.

const execute = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const DOCS = readFileSync(join(ROOT, 'docs/custom-providers.md'), 'utf8');
const EXAMPLE = /```json\n([\s\S]*?)\n```/.exec(
  DOCS.slice(DOCS.indexOf('<!-- example: CUSTOM_PROVIDERS -->')),
)?.[1] as string;
const ACME_SECRET = 'acme-start-secret';
// The Standard Webhooks libraries' test key, in the form a sender shows it.
const BEACON_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

async function withDataDir<T>(body: (dataDir: string) => Promise<T>): Promise<T> {
  const dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-start-'));
  try {
    return await body(dataDir);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** `npm start` that is expected to refuse: its exit code and what it wrote to stderr. */
async function refusedStart(dataDir: string, env: Record<string, string>) {
  return execute(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', DATA_DIR: dataDir, ...env },
    // A stack that starts instead of refusing is stopped, not left running after the test.
    timeout: 60_000,
    killSignal: 'SIGKILL',
  }).then(
    () => ({ code: 0, stderr: '' }),
    (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
  );
}

describe('npm start', () => {
  it("verifies configured providers' deliveries with the secrets <NAME>_SECRET_KEY gives, and lists their webhook URLs", async () => {
    await withDataDir(async (dataDir) => {
      const stack = await startStackProcess(dataDir, {
        CUSTOM_PROVIDERS: EXAMPLE,
        ACME_ADS_SECRET_KEY: ACME_SECRET,
        BEACON_SECRET_KEY: BEACON_SECRET,
      });
      try {
        const urls = stack.info.webhookUrls;
        expect(urls['acme-ads']).toBe(`${stack.info.webhookUrl.replace(/\/sori$/, '')}/acme-ads`);
        expect(urls.beacon).toBe(`${stack.info.webhookUrl.replace(/\/sori$/, '')}/beacon`);
        const at = Date.now();
        const acme = JSON.stringify({
          event_id: 'evt_start_1',
          type: 'ad.viewed',
          occurred_at: new Date(at).toISOString(),
          data: { campaign: { id: 'cmp_start' }, viewer: { device_id: 'dev_1' } },
        });
        const timestamp = String(Math.floor(at / 1000));
        const acmeAnswer = await fetch(urls['acme-ads'] as string, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-acme-timestamp': timestamp,
            'x-acme-signature': `sha256=${createHmac('sha256', ACME_SECRET).update(`${timestamp}.${acme}`).digest('hex')}`,
          },
          body: acme,
        });
        expect(acmeAnswer.status).toBe(202);
        const beacon = JSON.stringify({
          type: 'impression.recorded',
          timestamp: new Date(at).toISOString(),
          data: { campaign_id: 'cmp_start', device_id: 'dev_2' },
        });
        const beaconAnswer = await fetch(urls.beacon as string, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'webhook-id': 'msg_start_1',
            'webhook-timestamp': timestamp,
            'webhook-signature': new Webhook(BEACON_SECRET).sign('msg_start_1', new Date(at), beacon),
          },
          body: beacon,
        });
        expect(beaconAnswer.status).toBe(202);
      } finally {
        await stack.kill('SIGTERM');
      }
    });
  });

  it('keeps the throttles the environment names (PROVIDER_THROTTLES), answering 429 past a route’s burst', async () => {
    await withDataDir(async (dataDir) => {
      const stack = await startStackProcess(dataDir, {
        PROVIDER_THROTTLES: JSON.stringify({ sori: { rateLimit: 1, burstLimit: 1 } }),
      });
      try {
        // Unsigned: each one the function gets is a 401; the throttle answers before it, past one a second.
        const statuses = await Promise.all(
          Array.from({ length: 6 }, () =>
            fetch(stack.info.webhookUrl, { method: 'POST', body: '{}' }).then((response) => response.status),
          ),
        );
        expect(statuses).toContain(429);
        expect(statuses).toContain(401);
      } finally {
        await stack.kill('SIGTERM');
      }
    });
  });

  it('refuses to start in one line naming the variable when a throttle setting is wrong', async () => {
    await withDataDir(async (dataDir) => {
      const result = await refusedStart(dataDir, { THROTTLE_RATE_LIMIT: 'fast' });
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(
        'campaign-inbox could not start: THROTTLE_RATE_LIMIT must be a positive integer, got "fast"\n',
      );
    });
  });
});
