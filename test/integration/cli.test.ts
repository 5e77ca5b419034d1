import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { SORI_FIXTURES, soriBody, soriPayload } from '../support/deliveries';
import { runEvents, runTool } from '../support/events-cli';
import { createTestTable, localClients } from '../support/local-aws';
import { storeAndFold } from '../support/store-and-fold';

const execute = promisify(execFile);
const { dynamodb } = localClients();

/** Runs one of the CLIs as `npm run -s <script> --` would, against a table on the run's DynamoDB server. */
const cli = (script: string, ...args: string[]) =>
  script === 'events' ? runEvents(args) : runTool(script, args);
/** The events tool as its own process: its entry, its exit code and its stderr as a terminal gets them. */
const spawned = (script: string, ...args: string[]) => runTool(script, args);

describe('the command-line tools', () => {
  it('show the help of one command, and refuse flags that do not apply, typos (with the flag meant), impossible days and reversed ranges in one line with exit code 2', async () => {
    const help = await spawned('events', 'stats', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('stats        exact counters');
    expect(help.stdout).not.toContain('quarantine   authentic');

    for (const args of [
      ['stats', '--limit', '5'],
      ['redrive', '--campaign', 'x'],
      ['query', '--since', '2025-02-30'],
      ['query', '--since', '2025-02-30T10:00:00Z'],
      ['stats', '--until', '2025-13-01'],
      ['query', '--since', '2025-10-16', '--until', '2025-10-14'],
      // Over 366 days by type: said, not silently cut to the newest days.
      ['query', '--type', 'campaign.click', '--since', '2020-10-14', '--until', '2025-10-14'],
      ['frobnicate'],
      [],
    ]) {
      const result = await cli('events', ...args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stdout, args.join(' ')).toBe('');
    }
    expect((await cli('events', 'stats', '--limit', '5')).stderr).toContain(
      '--limit does not apply to stats',
    );
    expect((await cli('send', '--repeat', '0')).code).toBe(2);
    expect((await cli('set-secret', '--bogus')).code).toBe(2);
    expect((await cli('set-secret', '--provider', 'nobody')).code).toBe(2);
    expect((await cli('dashboard', '--port', 'x')).code).toBe(2);
    expect((await cli('load', '--deliveries', '0')).code).toBe(2);
    const load = await cli('load', '--help');
    expect(load.code).toBe(0);
    expect(load.stdout).toContain('--deliveries');
  });

  it('say in one line, without a stack trace, what is wrong with a setting: exit 2 for how a tool was called, 1 for what it met', {
    timeout: 90_000,
  }, async () => {
    const oneLine = (result: { stderr: string }) => {
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    };
    const nowhere = ['--endpoint', 'http://127.0.0.1:9'];
    const usage = await Promise.all([
      cli('dashboard', '--bogus'),
      cli('dashboard', 'extra'),
      cli('dashboard', '--port', '-1'),
      cli('dashboard', ...nowhere),
      spawned('events', 'query', ...nowhere),
    ]);
    for (const result of usage) {
      expect(result.code).toBe(2);
      oneLine(result);
    }
    const { tableName } = await createTestTable(dynamodb);
    const where = ['--endpoint', inject('dynamodbEndpoint'), '--table', tableName];
    const exported = await cli(
      'events',
      'export',
      '--format',
      'jsonl',
      '--out',
      '/nonexistent-dir/x.jsonl',
      ...where,
    );
    expect(exported.code).toBe(1);
    oneLine(exported);
    expect(exported.stderr).toContain('ENOENT');
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = String((taken.address() as AddressInfo).port);
      const busy = await cli('dashboard', '--port', port, ...where);
      expect(busy.code).toBe(1);
      oneLine(busy);
      expect(busy.stderr).toContain(`port ${port} is in use`);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }

    // A reaction module that cannot load, or a reaction for an event no provider sends: npm start refuses.
    const start = (env: Record<string, string>) =>
      execute(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
        env: {
          ...process.env,
          PORT: '0',
          DATA_DIR: mkdtempSync(join(tmpdir(), 'campaign-inbox-start-')),
          ...env,
        },
      }).then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (error: { code: number; stdout: string; stderr: string }) => error,
      );
    const refused = await Promise.all([
      start({ ON_EVENT_MODULE: './no-such-module.ts' }),
      start({
        ON_EVENT_MODULE: './test/fixtures/reactions/record-ids.ts',
        ON_EVENT_TYPES: 'campaign.clicks',
      }),
      start({ ON_EVENT_MODULE: './test/fixtures/reactions/record-ids.ts', ON_EVENT_PROVIDERS: 'SORI' }),
    ]);
    for (const result of refused) {
      expect(result.code).toBe(2);
      oneLine(result);
      expect(result.stderr).toMatch(/^campaign-inbox could not start: ON_EVENT_/);
    }
  });

  it('print narrow tables with numbers aligned right and CTR as a percentage, as the dashboard shows it, and page with --cursor', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb);
    const messages = SORI_FIXTURES.map((name) =>
      buildQueueMessage(sori, Buffer.from(soriBody(name)), '2026-11-22T12:00:00.000Z'),
    );
    await storeAndFold(writer, counters, messages);
    const where = ['--endpoint', inject('dynamodbEndpoint'), '--table', tableName];
    const stats = await cli('events', 'stats', '--campaign', 'cmp_1234', ...where);
    expect(stats.code).toBe(0);
    const [header, row] = stats.stdout.split('\n');
    expect(row).toMatch(/2025-10-14\s+1\s+1\s+1\s+100\.0 %$/);
    expect(header?.indexOf('impressions')).toBeLessThan(header?.indexOf('clicks') ?? 0);
    const query = await cli(
      'events',
      'query',
      '--provider',
      'sori',
      '--since',
      '2025-10-14',
      '--until',
      '2025-10-14',
      ...where,
    );
    expect(query.code).toBe(0);
    expect(query.stdout).toContain('(4 rows)');
    const widths = query.stdout.split('\n').map((line) => line.length);
    expect(Math.max(...widths)).toBeLessThanOrEqual(100);
    const clicks = await cli(
      'events',
      'query',
      '--type',
      'campaign.click',
      '--since',
      '2025-10-14',
      '--until',
      '2025-10-20',
      '--json',
      ...where,
    );
    expect(
      clicks.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).event),
    ).toEqual(['campaign.click']);
    // Pages: --limit, then the --cursor stderr gives, until no cursor comes; every event once.
    const seen: string[] = [];
    let cursor: string[] = [];
    for (let page = 0; page < 10; page++) {
      const result = await cli(
        'events',
        'query',
        '--since',
        '2025-10-14',
        '--until',
        '2025-10-14',
        '--limit',
        '2',
        '--json',
        ...cursor,
        ...where,
      );
      expect(result.code).toBe(0);
      seen.push(
        ...result.stdout
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line).id),
      );
      const next = /--cursor (\S+)/.exec(result.stderr)?.[1];
      if (!next) break;
      cursor = ['--cursor', next];
    }
    const day = messages.filter((m) => m.kind === 'event' && m.record.created_at.startsWith('2025-10-14'));
    expect(seen.sort()).toEqual(day.map((m) => m.record.id).sort());
    const json = await cli('events', 'stats', '--campaign', 'cmp_1234', '--json', ...where);
    expect(JSON.parse(json.stdout.trim().split('\n')[0] ?? '{}')).toMatchObject({ ctr: 1 });
  });

  it('print what senders wrote as text in tables and messages: escape sequences, line breaks, other C0 and C1 controls and bidirectional overrides shown as \\u escapes; --json keeps the exact values', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb);
    const hostile = [
      '\u001b[2J\u001b[31mred\u001b[0m',
      'first line\nsecond line',
      'over\rwritten',
      'bell\u0007 and delete\u007f',
      'c1 csi \u009b31m',
      'bidi \u202eevil\u202c and \u2066isolate\u2069',
      'line\u2028separator',
      '\u001b]0;a title\u0007',
    ];
    const messages = hostile.map((value, i) =>
      buildQueueMessage(
        sori,
        Buffer.from(
          JSON.stringify({
            ...soriPayload('impression'),
            activity_id: `act_controls_${i}`,
            device_id: value,
            platform: value,
            campaign: { id: `cmp_controls\u001b[1m${i}`, name: value },
          }),
        ),
        '2026-11-22T12:00:00.000Z',
      ),
    );
    await storeAndFold(writer, counters, messages);
    const where = ['--endpoint', inject('dynamodbEndpoint'), '--table', tableName];
    const range = ['--since', '2025-10-14', '--until', '2025-10-14'];
    // Anything a terminal acts on, except the line feed that ends each line of the table.
    const actedOn =
      // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for control characters is the point.
      /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

    const table = await cli('events', 'query', ...range, ...where);
    expect(table.code).toBe(0);
    expect(table.stdout).not.toMatch(actedOn);
    const lines = table.stdout.trimEnd().split('\n');
    // A header, one line per event, and the count: no value added a line.
    expect(lines).toHaveLength(hostile.length + 2);
    expect(lines.at(-1)).toBe(`(${hostile.length} rows)`);
    expect(table.stdout).toContain('\\u001b[2J\\u001b[31mred\\u001b[0m');
    expect(table.stdout).toContain('first line\\u000asecond line');
    expect(table.stdout).toContain('c1 csi \\u009b31m');
    expect(table.stdout).toContain('bidi \\u202eevil\\u202c and \\u2066isolate\\u2069');

    const stats = await cli('events', 'stats', ...range, ...where);
    expect(stats.code).toBe(0);
    expect(stats.stdout).not.toMatch(actedOn);
    expect(stats.stdout).toContain('cmp_controls\\u001b[1m0');
    expect(stats.stdout.trimEnd().split('\n')).toHaveLength(hostile.length + 2);

    const json = await cli('events', 'query', ...range, '--json', ...where);
    const devices = json.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).device_id);
    expect(devices.sort()).toEqual([...hostile].sort());

    // A message naming what was asked for escapes it too.
    const missing = await cli(
      'events',
      'state',
      '--provider',
      'symphony',
      '--campaign',
      'x\u001b[2Jy',
      ...where,
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).not.toMatch(actedOn);
    expect(missing.stderr).toContain('x\\u001b[2Jy');
  });
});
