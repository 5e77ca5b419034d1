import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromEventItem, type StoredEvent } from '../../lib/table/records-table';
import { scanPages } from '../../lib/table/table-io';
import { resolveDevSecret } from '../../local/dev-secret';
import { type LocalStack, startLocalStack } from '../../local/local-stack';
import { type LoadReport, runLoad } from '../../scripts/load';
import { memoryLogger } from '../support/deliveries';

const ROOT = resolve(import.meta.dirname, '../..');
const SECRET = 'sk_load_demo_test';

describe('npm run load: demo data that looks real', () => {
  let stack: LocalStack;
  let report: LoadReport;
  let stored: StoredEvent[];

  beforeAll(async () => {
    stack = await startLocalStack({
      port: 0,
      secret: SECRET,
      layout: { shards: 2, retentionDays: null },
      logger: memoryLogger().logger,
    });
    report = await runLoad(
      {
        webhookUrl: stack.webhookUrl,
        secret: SECRET,
        dynamodb: stack.dynamodb,
        tableName: stack.tableName,
        layout: stack.layout,
      },
      {
        deliveries: 400,
        duplicateRatio: 0.3,
        concurrency: 25,
        campaigns: 6,
        devices: 50,
        timeoutMs: 60_000,
        seed: 11,
      },
    );
    stored = [];
    for await (const page of scanPages(stack.dynamodb, { TableName: stack.tableName }))
      for (const item of page) if (item.kind?.S === 'event') stored.push(fromEventItem(item));
  }, 120_000);
  afterAll(() => stack?.stop());

  it('stores every distinct event once, with exact counters, over the days its hours fall on', () => {
    expect(report).toMatchObject({
      deliveries: 400,
      distinct: 280,
      accepted: 400,
      duplicates: 120,
      quarantined: 0,
      errors5xx: 0,
      stored: 280,
      storedEqualsDistinct: true,
      countersEqualDistinct: true,
    });
    expect(stored).toHaveLength(280);
  });

  it('dates no event after the moment it was sent: every created_at is at or before its received_at', () => {
    const future = stored.filter(
      (event) => Date.parse(event.created_at) > Date.parse(event.received_at ?? ''),
    );
    expect(future.map((event) => `${event.created_at} > ${event.received_at}`)).toEqual([]);
  });

  it('spreads events over the past hours, not one instant', () => {
    const hours = new Set(stored.map((event) => event.created_at.slice(0, 13)));
    expect(hours.size).toBeGreaterThanOrEqual(12);
  });

  it('names each campaign one way, and no two campaigns alike', () => {
    const names = new Map<string, Set<string | null>>();
    for (const event of stored) {
      if (!event.campaign_id) continue;
      const seen = names.get(event.campaign_id) ?? new Set();
      seen.add(event.campaign_name);
      names.set(event.campaign_id, seen);
    }
    expect(names.size).toBe(6);
    for (const [campaign, seen] of names) expect([...seen], campaign).toHaveLength(1);
    const all = [...names.values()].map((seen) => [...seen][0]);
    expect(all.every((name) => typeof name === 'string' && name.length > 0)).toBe(true);
    expect(new Set(all).size).toBe(names.size);
  });
});

describe('npm run load: giving up', () => {
  let stack: LocalStack;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-load-give-up-'));
    // As `npm start` does: a generated dev secret in DATA_DIR, where the load finds it with the stack's address.
    const { secret } = await resolveDevSecret(dataDir, undefined);
    stack = await startLocalStack({ port: 0, dataDir, secret, logger: memoryLogger().logger });
    // Nothing consumes the queue: deliveries are accepted and never stored, so the load can only give up.
    await stack.poller.stop();
  });
  afterAll(() => stack?.stop());

  it('says in one line that it stopped waiting: how many it sent, how many it saw stored, how long it waited', async () => {
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (done, fail) => {
        const child = spawn(
          process.execPath,
          [
            '--import',
            'tsx',
            'scripts/load.ts',
            '--deliveries',
            '20',
            '--duplicates',
            '0',
            '--concurrency',
            '5',
            '--timeout',
            '2',
            '--json',
          ],
          { cwd: ROOT, env: { ...process.env, DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk) => {
          stdout += chunk;
        });
        child.stderr.on('data', (chunk) => {
          stderr += chunk;
        });
        child.on('error', fail);
        child.on('close', (code) => done({ code, stdout, stderr }));
      },
    );
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as LoadReport;
    expect(report).toMatchObject({ deliveries: 20, distinct: 20, accepted: 20, stored: 0 });
    const lines = result.stderr.split('\n').filter(Boolean);
    const gaveUp = lines.filter((line) => line.includes('stopped waiting'));
    expect(gaveUp).toHaveLength(1);
    expect(gaveUp[0]).toMatch(
      /^load: stopped waiting after \d+\.\d s: 20 distinct events sent \(20 deliveries\), 0 of them seen stored$/,
    );
    const waited = Number(/after (\d+\.\d) s/.exec(gaveUp[0] ?? '')?.[1]);
    expect(waited).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
