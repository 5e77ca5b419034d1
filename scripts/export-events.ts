import { once } from 'node:events';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { EventRecordSchema } from '../lib/events/event-record';
import type { EventQuery } from '../lib/queries/event-plan';
import type { RecordsRepository } from '../lib/queries/records-repository';
import type { StoredEvent } from '../lib/table/records-table';

/** The columns of a CSV export: one per record field, in the order `query --json` prints them. */
export const CSV_COLUMNS = Object.keys(EventRecordSchema.entries) as (keyof StoredEvent)[];

/**
 * What a spreadsheet reads as the start of a formula (OWASP, CSV injection): `=`, `+`, `-` and `@`, and a tab or
 * carriage return, which some strip before looking. A sender's value that starts so would run when the export
 * is opened (`=HYPERLINK(…)`, `+cmd|…`).
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break; objects as JSON text. A field
 * a spreadsheet would run as a formula gets a leading single quote, which makes it text, and is quoted.
 */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (FORMULA_START.test(text)) return `"'${text.replaceAll('"', '""')}"`;
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

/**
 * A stream to the export file, once it is open (a folder that does not exist is an error here, not an unhandled
 * one later). The events are personal data: the file is created readable by its owner only, an existing file is
 * narrowed to that before it is emptied, and a symbolic link at the path is refused rather than followed (it
 * could point at any file the user may write).
 */
async function openForWriting(path: string): Promise<Writable> {
  const file = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o600).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ELOOP')
        throw new Error(
          `${path} is a symbolic link: the export writes only to a file of its own (remove the link, or choose another --out)`,
        );
      throw error;
    },
  );
  try {
    if (!(await file.stat()).isFile()) throw new Error(`${path} is not a regular file`);
    await file.chmod(0o600);
    await file.truncate(0);
  } catch (error) {
    await file.close();
    throw error;
  }
  return file.createWriteStream();
}
