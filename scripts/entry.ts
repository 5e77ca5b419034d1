// How each command-line tool runs: as its own entry (`npm run events`, `tsx scripts/events.ts`), or as a command
// of the CLI (`campaign-inbox events`), which imports it and calls its `run`.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { forTerminal } from './terminal-text';

/** `true` inside the CLI bundle (esbuild defines it), where every module shares the bundle's URL. */
declare const CAMPAIGN_INBOX_BUNDLE: boolean | undefined;

let cli = false;

/** Called by the CLI before it loads a command: usage texts then name `campaign-inbox <command>`. */
export function runningAsCli(): void {
  cli = true;
}

/** How the user invokes `command`: `campaign-inbox events` from the CLI, else `npm run -s events --`. */
export const invocation = (command: string) =>
  cli ? `campaign-inbox ${command}` : `npm run -s ${command} --`;

/** `true` when the module at `url` is the process's entry point, not a module the CLI imported. */
export function isEntry(url: string): boolean {
  if (typeof CAMPAIGN_INBOX_BUNDLE !== 'undefined') return false;
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(url));
  } catch {
    return false;
  }
}

/**
 * Ends the process quietly, with exit code 0, once the reader of its stdout has closed it (`| head`, `| jq`
 * failing on npm's banner): the reader chose to stop reading, and nothing the tool prints can reach anyone.
 * Node reports a write to a closed pipe as an `EPIPE` error on the stream, which, unhandled, ends the process
 * with a stack trace. Lost messages on a closed stderr are dropped without ending anything (the dashboard
 * keeps serving). Any other stream error is thrown as before.
 */
export function endQuietlyOnClosedStdout(): void {
  const closed = (error: NodeJS.ErrnoException) => error.code === 'EPIPE';
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (!closed(error)) throw error;
    process.exit(0);
  });
  process.stderr.on('error', (error: NodeJS.ErrnoException) => {
    if (!closed(error)) throw error;
  });
}

/** Runs a tool's `run` with the process's arguments and sets the exit code it returns. */
export function runAsEntry(run: (argv: string[]) => Promise<number>): void {
  endQuietlyOnClosedStdout();
  void run(process.argv.slice(2)).then((code) => {
    if (code !== 0) process.exitCode = code;
  });
}

/** A mistake in how a tool was called: the tool says what and exits 2. */
export class UsageError extends Error {}

/** `true` for a usage mistake: ours, or one `node:util`'s `parseArgs` found (an unknown flag, a stray word). */
export function isUsageError(error: unknown): boolean {
  return (
    error instanceof UsageError || String((error as { code?: unknown })?.code).startsWith('ERR_PARSE_ARGS')
  );
}

/**
 * An error as one line for the terminal. `parseArgs`' message for a value that starts with a dash
 * (`--limit -1`) runs to three lines; it becomes one that says how to pass such a value. What a terminal would
 * act on is escaped: a message may quote a stored value or an argument.
 */
export function errorLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const ambiguous = /^Option '(--[\w-]+)[^']*' argument is ambiguous/.exec(message);
  if (ambiguous)
    return `${ambiguous[1]} needs a value; one that starts with a dash goes as ${ambiguous[1]}=<value>`;
  return forTerminal(message.split('\n')[0] ?? '');
}

/**
 * Reports a tool's failure on stderr in one line (`hint` may add to a usage mistake's message).
 * @returns the exit code: 2 for how the tool was called, 1 for what it met.
 */
export function reportFailure(tool: string, error: unknown, hint = (message: string) => message): number {
  const message = errorLine(error);
  if (isUsageError(error)) {
    process.stderr.write(`${tool}: ${hint(message)} (see --help)\n`);
    return 2;
  }
  process.stderr.write(`${tool}: ${message}\n`);
  return 1;
}
