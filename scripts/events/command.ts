// How a command of the events tool reads its arguments and reports a failure: one parser knows every flag of
// every command, so a flag another command takes is refused as not applying here, and a typo is answered with
// the flag it was nearest to.
import { parseArgs } from 'node:util';
import { errorLine, invocation, isUsageError, UsageError } from '../entry';
import { type EventsIo, line, processIo } from './io';
import { WHERE_USAGE } from './where';

/** Every flag of every command, in the order a typo's nearest flag is looked for. */
const OPTIONS = {
  campaign: { type: 'string' },
  device: { type: 'string' },
  type: { type: 'string' },
  provider: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  json: { type: 'boolean', default: false },
  stack: { type: 'string' },
  endpoint: { type: 'string' },
  table: { type: 'string' },
  region: { type: 'string' },
  reason: { type: 'string' },
  id: { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  signals: { type: 'boolean', default: false },
  yes: { type: 'boolean', default: false },
  format: { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** The arguments, parsed with every flag any command takes. @throws a usage error for any other flag. */
export const parseAll = (argv: string[]) =>
  parseArgs({ args: argv, allowPositionals: true, tokens: true, options: OPTIONS });

/** The flags as parsed: each command reads the ones it takes. */
export type Values = ReturnType<typeof parseAll>['values'];

/** What a command is: its name, its usage and the flags it takes (any other is refused). */
export interface CommandSpec {
  name: string;
  usage: string;
  flags: string[];
  /** How many words may follow the command's name (default none). */
  words?: (words: string[]) => number;
}

/** What a command does once its arguments are checked. @returns the exit code. */
export type CommandBody = (values: Values, words: string[], io: EventsIo) => Promise<number>;

/** A command, callable in process: its arguments (without its name) and where to write. @returns the exit code. */
export type CommandRun = (argv: string[], io?: EventsIo) => Promise<number>;

/** `events <command> --help`: the command's usage and where the data is. */
export const commandUsage = (spec: CommandSpec) =>
  `Usage: ${invocation('events')} ${spec.name} [options]\n\n  ${spec.usage}\n\n${WHERE_USAGE}`;

/** Levenshtein distance, for suggesting the flag a typo meant. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] as number;
      row[j] = Math.min(
        (row[j] as number) + 1,
        (row[j - 1] as number) + 1,
        previous + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      previous = current;
    }
  }
  return row[b.length] as number;
}

/** The parser's "Unknown option '--campain'" with the nearest known flag, when one is near. */
function withSuggestion(message: string): string {
  const unknown = /Unknown option '--([^']+)'/.exec(message)?.[1];
  if (!unknown) return message.split('\n')[0] ?? message;
  const [best] = Object.keys(OPTIONS)
    .map((flag) => ({ flag, d: distance(unknown, flag) }))
    .sort((x, y) => x.d - y.d);
  return best && best.d <= 2
    ? `unknown flag --${unknown}; did you mean --${best.flag}?`
    : `unknown flag --${unknown}`;
}

/**
 * Reports a failure on stderr in one line.
 * @returns the exit code: 2 for how the tool was called, 1 for what it met.
 */
export function failure(io: EventsIo, error: unknown): number {
  const message = errorLine(error);
  if (isUsageError(error)) {
    line(io.stderr, `events: ${withSuggestion(message)} (see --help)`);
    return 2;
  }
  line(io.stderr, `events: ${message}`);
  return 1;
}

/** Refuses words after the command's own, and any flag the command does not take. */
function refuseWhatDoesNotApply(spec: CommandSpec, values: Values, words: string[]) {
  const extra = words.slice(spec.words?.(words) ?? 0);
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
  const allowed = new Set(['help', ...spec.flags]);
  for (const [flag, value] of Object.entries(values)) {
    if (value !== undefined && value !== false && !allowed.has(flag)) {
      throw new UsageError(`--${flag} does not apply to ${spec.name}`);
    }
  }
}

/** A command's `run`: its help, its arguments checked, then `body`; any failure reported in one line. */
export function command(spec: CommandSpec, body: CommandBody): CommandRun {
  return async (argv, io = processIo()) => {
    try {
      const { values, positionals } = parseAll(argv);
      if (values.help) {
        line(io.stdout, commandUsage(spec));
        return 0;
      }
      refuseWhatDoesNotApply(spec, values, positionals);
      return await body(values, positionals, io);
    } catch (error) {
      return failure(io, error);
    }
  };
}
