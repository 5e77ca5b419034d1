import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { soriPayload } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';
import { storeAndFold } from '../support/store-and-fold';
import { bareEnv, consumerFolder, runToolIn, type ToolRun } from '../support/tool-process';

const ROOT = resolve(import.meta.dirname, '../..');
const { dynamodb } = localClients();

/** Every way the tools look for the local stack when given no --stack, --endpoint or --url. */
const NO_TARGET: [tool: string, args: string[], names: string][] = [
  ['events', ['query'], '--stack <name>'],
  ['events', ['stats'], '--stack <name>'],
  ['events', ['quarantine'], '--stack <name>'],
  ['events', ['state', '--provider', 'symphony', '--campaign', 'c1'], '--stack <name>'],
  ['events', ['export', '--format', 'jsonl'], '--stack <name>'],
  ['events', ['reprocess', '--dry-run'], '--stack <name>'],
  ['events', ['dlq', 'list'], '--stack <name>'],
  ['events', ['redrive'], '--stack <name>'],
  ['dashboard', ['--port', '0'], '--stack <name>'],
  ['send', [], '--url <webhook URL>'],
];

const oneLine = (result: ToolRun, what: string) => {
  expect(result.stderr.trim().split('\n'), what).toHaveLength(1);
  expect(result.stderr, what).not.toMatch(/\n\s+at /);
};

describe('the tools outside a clone of this project', () => {
  it('with no stack to work on, events, dashboard and send say in one line that no local stack was found in DATA_DIR and which flag to pass (--stack, --endpoint and --table, --url), never "npm start", which the app has not; exit code 1', {
    timeout: 180_000,
  }, async () => {
    const app = await consumerFolder();
    const dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-no-stack-'));
    const env = bareEnv({ DATA_DIR: dataDir });
    const results = await Promise.all(
      NO_TARGET.map(([tool, args]) => runToolIn(tool, args, { cwd: app, env })),
    );
    for (const [i, result] of results.entries()) {
      const [tool, args, names] = NO_TARGET[i] ?? [];
      const what = `${tool} ${args?.join(' ')}`;
      expect(result.code, `${what}: ${result.stderr}`).toBe(1);
      expect(result.stdout, what).toBe('');
      oneLine(result, what);
      expect(result.stderr, what).not.toContain('npm start');
      expect(result.stderr, what).toContain(`no local stack found in ${dataDir}`);
      expect(result.stderr, what).toContain(`pass ${names}`);
    }
    // DATA_DIR's default is the app's own .data folder.
    const query = await runToolIn('events', ['query'], { cwd: app, env: bareEnv() });
    expect(query.stderr).toContain(`no local stack found in ${join(app, '.data')}`);
    expect(query.stderr).not.toContain('npm start');
  });

  it('in a clone, the same failures say to start the stack with "npm start", which the clone has', {
    timeout: 120_000,
  }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-no-stack-'));
    const env = bareEnv({ DATA_DIR: dataDir });
    const results = await Promise.all([
      runToolIn('events', ['query'], { cwd: ROOT, env }),
      runToolIn('events', ['dlq', 'list'], { cwd: ROOT, env }),
      runToolIn('dashboard', ['--port', '0'], { cwd: ROOT, env }),
      runToolIn('send', [], { cwd: ROOT, env }),
    ]);
    for (const result of results) {
      expect(result.code, result.stderr).toBe(1);
      oneLine(result, result.stderr);
      expect(result.stderr).toContain(`no local stack found in ${dataDir}: start it with "npm start"`);
    }
  });

  it('send to a URL where nothing listens says in one line where (the origin, not a URL token\'s path) and why, exit code 1; "npm start" only in a clone', {
    timeout: 120_000,
  }, async () => {
    // A port that was free a moment ago: nothing listens there.
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((done) => closed.close(done));
    const origin = `http://127.0.0.1:${port}`;
    const args = ['--url', `${origin}/webhooks/symphony/secret-token`, '--provider', 'symphony'];
    const env = bareEnv({ DATA_DIR: '/nonexistent-campaign-inbox' });
    const [outside, inside] = await Promise.all([
      runToolIn('send', args, { cwd: await consumerFolder(), env }),
      runToolIn('send', args, { cwd: ROOT, env }),
    ]);
    for (const result of [outside, inside]) {
      expect(result.code, result.stderr).toBe(1);
      oneLine(result, result.stderr);
      expect(result.stderr).toMatch(new RegExp(`^send: could not post to ${origin}: ECONNREFUSED; `));
      expect(result.stderr).not.toContain('secret-token');
    }
    expect(outside.stderr).toContain('is its server running?');
    expect(outside.stderr).not.toContain('npm start');
    expect(inside.stderr).toContain('is the stack running? start it with "npm start"');
  });

  it('events query --json reads a local table given by --endpoint and --table with no AWS region, credentials or profile set, every line of stdout one JSON object (what `| jq .` reads)', {
    timeout: 120_000,
  }, async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb);
    const campaign = `cmp_outside_${Date.now()}`;
    const payload = soriPayload('impression');
    const body = JSON.stringify({
      ...payload,
      created_at: new Date().toISOString(),
      campaign: { ...(payload.campaign as object), id: campaign },
    });
    await storeAndFold(writer, counters, [
      buildQueueMessage(sori, Buffer.from(body), new Date().toISOString()),
    ]);
    const app = await consumerFolder();
    const where = ['--endpoint', inject('dynamodbEndpoint'), '--table', tableName];
    const env = bareEnv({ DATA_DIR: join(app, 'no-data') });
    const query = await runToolIn('events', ['query', '--json', ...where], { cwd: app, env });
    expect(query.code, query.stderr).toBe(0);
    expect(query.stderr).toBe('');
    const lines = query.stdout
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ campaign_id: campaign, event: 'campaign.impression' });
    // The counters, from the same table the same way.
    const stats = await runToolIn('events', ['stats', '--campaign', campaign, '--json', ...where], {
      cwd: app,
      env,
    });
    expect(stats.code, stats.stderr).toBe(0);
    expect(JSON.parse(stats.stdout.trim())).toMatchObject({ campaign_id: campaign, impressions: 1 });
  });
});
