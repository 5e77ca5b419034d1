import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveDevSecret } from '../../local/dev-secret';
import { type LocalStack, startLocalStack } from '../../local/local-stack';
import { stampNow } from '../../scripts/send';
import { memoryLogger, soriPayload } from '../support/deliveries';
import { eventually } from '../support/local-aws';

const run = promisify(execFile);

describe('the Quick start: `npm start`, then `npm run send`', () => {
  let stack: LocalStack;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-quick-'));
    // As `npm start` does: a generated dev secret, kept in DATA_DIR, where `npm run send` finds it.
    const { secret } = await resolveDevSecret(dataDir, undefined);
    stack = await startLocalStack({ port: 0, dataDir, secret, logger: memoryLogger().logger });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("ends on today's dashboard with numbers: the seeds are sent as if they happened now", async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/send.ts'], {
      env: { ...process.env, DATA_DIR: dataDir },
    });
    expect(stdout.split('\n').filter((line) => line.startsWith('202 '))).toHaveLength(6);
    const today = new Date().toISOString().slice(0, 10);
    const dashboard = await eventually(
      async () => {
        const data = (await (await fetch(`http://127.0.0.1:${stack.port}/api/dashboard`)).json()) as {
          day: string;
          totals: { impressions: number; clicks: number };
          campaigns: { campaign_id: string; campaign_name: string | null }[];
        };
        return data.totals.impressions === 2 && data.totals.clicks === 2 ? data : undefined;
      },
      15_000,
      "today's counters",
    );
    expect(dashboard.day).toBe(today);
    // The legacy examples say "string" for every field; sent, they carry realistic values.
    expect(dashboard.campaigns.map((c) => c.campaign_id).sort()).toEqual(['cmp_1234', 'cmp_legacy_01']);
  });

  it("stamps each provider's event time with now and fills the legacy examples' placeholders", () => {
    const payload = soriPayload('impression');
    const now = new Date('2026-11-22T10:00:00.000Z');
    expect(stampNow('sori', payload, now)).toMatchObject({
      created_at: now.toISOString(),
      timestamp: now.toISOString(),
    });
    expect(stampNow('optimizely', { created: 1 }, now)).toEqual({ created: now.getTime() });
    expect(stampNow('sori', soriPayload('legacy-click'), now)).toMatchObject({
      campaign_id: 'cmp_legacy_01',
      device_id: 'device_legacy_7',
      timestamp: now.toISOString(),
    });
  });
});
