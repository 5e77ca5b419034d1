// How the commands print rows: one JSON object per line with --json, else a narrow table for a terminal.
import { forTerminal } from '../terminal-text';
import { type EventsIo, line } from './io';

/**
 * How a table shows a value: CTR as a percentage (as the dashboard does), times to the second, long ids cut,
 * and what a terminal would act on escaped (values come from senders).
 */
function shown(column: string, value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (column === 'ctr' && typeof value === 'number') return `${(value * 100).toFixed(1)} %`;
  if ((column === 'created_at' || column === 'received_at') && typeof value === 'string')
    return forTerminal(value.replace('T', ' ').replace(/\.\d+Z$|Z$/, ''));
  if (column === 'id' && typeof value === 'string' && value.length > 20)
    return `${forTerminal(value.slice(0, 19))}…`;
  return forTerminal(typeof value === 'object' ? JSON.stringify(value) : String(value));
}

function printTable(out: NodeJS.WritableStream, rows: Record<string, unknown>[], columns: string[]) {
  const numeric = columns.map(
    (column) =>
      rows.length > 0 && rows.every((row) => typeof row[column] === 'number' || row[column] === null),
  );
  const widths = columns.map((column) =>
    Math.max(forTerminal(column).length, ...rows.map((row) => shown(column, row[column]).length)),
  );
  const cells = (values: string[]) =>
    values
      .map((value, i) => (numeric[i] ? value.padStart(widths[i] ?? 0) : value.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  line(out, cells(columns.map(forTerminal)));
  for (const row of rows) line(out, cells(columns.map((column) => shown(column, row[column]))));
  line(out, `(${rows.length} ${rows.length === 1 ? 'row' : 'rows'})`);
}

/** Prints `rows` on stdout: as JSON lines, or as a table of `columns`. */
export function print(io: EventsIo, rows: object[], json: boolean, columns: string[]) {
  if (json) for (const row of rows) line(io.stdout, JSON.stringify(row));
  else printTable(io.stdout, rows as Record<string, unknown>[], columns);
}
