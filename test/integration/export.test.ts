import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { storeBatch } from '../../lib/ingest/store-batch';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { CSV_COLUMNS } from '../../scripts/export-events';
import { soriPayload } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';

const run = promisify(execFile);
const { dynamodb } = localClients();
const RECEIVED = '2026-11-22T12:00:00.000Z';

/** `npm run events -- export …` against a table on the run's DynamoDB server. */
async function exportCli(tableName: string, ...args: string[]) {
  return run(
    'npx',
    [
      'tsx',
      'scripts/events.ts',
      'export',
      '--endpoint',
      inject('dynamodbEndpoint'),
      '--table',
      tableName,
      ...args,
    ],
    {
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_REGION: 'us-east-1',
      },
      maxBuffer: 64 * 1024 * 1024,
    },
  );
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
      await storeBatch(writer, counters, messages.slice(i, i + 50));

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
