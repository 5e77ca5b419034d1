import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { EventRecordSchema } from '../lib/events/event-record';
import type { EventQuery, RecordsRepository } from '../lib/queries/records-repository';
import type { StoredEvent } from '../lib/table/records-table';

/** The columns of a CSV export: one per record field, in the order `query --json` prints them. */
export const CSV_COLUMNS = Object.keys(EventRecordSchema.entries) as (keyof StoredEvent)[];

/** One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break; objects as JSON text. */
function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export const csvLine = (event: StoredEvent) =>
  `${CSV_COLUMNS.map((column) => csvField(event[column])).join(',')}\n`;

/**
 * Writes every event the queries match to `out` (or stdout), page by page, with no row cap, and a progress line
 * on stderr every `progressEvery` rows.
 * @returns the number of rows written.
 */
export async function exportEvents(
  repository: RecordsRepository,
  queries: Omit<EventQuery, 'limit'>[],
  options: { format: 'csv' | 'jsonl'; out?: string | undefined; progressEvery?: number },
): Promise<number> {
  const stream: Writable = options.out ? await openForWriting(options.out) : process.stdout;
  const write = async (text: string) => {
    if (!stream.write(text)) await once(stream, 'drain');
  };
  const every = options.progressEvery ?? 10_000;
  let rows = 0;
  if (options.format === 'csv') await write(`${CSV_COLUMNS.join(',')}\n`);
  for (const query of queries) {
    for await (const page of repository.streamEvents(query)) {
      for (const event of page) {
        await write(options.format === 'csv' ? csvLine(event) : `${JSON.stringify(event)}\n`);
        rows++;
        if (rows % every === 0) process.stderr.write(`export: ${rows} rows…\n`);
      }
    }
  }
  if (options.out) {
    stream.end();
    await once(stream, 'finish');
  }
  process.stderr.write(
    `export: ${rows} ${rows === 1 ? 'row' : 'rows'}${options.out ? ` written to ${options.out}` : ''}\n`,
  );
  return rows;
}

/** A file stream once the file is open: a folder that does not exist is an error here, not an unhandled one later. */
async function openForWriting(path: string): Promise<Writable> {
  const stream = createWriteStream(path, { flags: 'w' });
  await once(stream, 'open');
  return stream;
}
