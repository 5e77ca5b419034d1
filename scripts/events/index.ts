// The events tool: query, export and count stored events; the dead-letter queue. Each command is a module of
// its own with a `run` callable in process; this one finds the command in the arguments and hands them on.
import { registerCustomProviders } from '../../lib/providers/declarative';
import { invocation, UsageError } from '../entry';
import { type CommandRun, type CommandSpec, failure, parseAll } from './command';
import * as dlq from './dlq';
import * as exportCommand from './export';
import { type EventsIo, line, processIo } from './io';
import * as quarantine from './quarantine';
import * as query from './query';
import * as redrive from './redrive';
import * as replay from './replay';
import * as reprocess from './reprocess';
import * as state from './state';
import * as stats from './stats';
import { WHERE_USAGE } from './where';

export type { EventsIo } from './io';

/** The commands, in the order the usage lists them. */
const COMMANDS: Record<string, { spec: CommandSpec; run: CommandRun }> = {
  query,
  quarantine,
  stats,
  state,
  redrive,
  reprocess,
  replay,
  dlq,
  export: exportCommand,
};

/** Through npm, `-s` keeps npm's banner off stdout; the CLI has none. */
const cliNote = () => (invocation('events').startsWith('npm') ? '     (-s: no npm banner on stdout)' : '');

const usage = () => `Usage: ${invocation('events')} <command> [options]${cliNote()}

Commands:
${Object.values(COMMANDS)
  .map((command) => `  ${command.spec.usage}`)
  .join('\n')}

${WHERE_USAGE}

Data goes to stdout, messages to stderr. Exit codes: 0 done, 1 failed, 2 usage error.
"${invocation('events')} <command> --help" shows one command.`;

/**
 * The arguments as the commands' shared flags parse them; for a replay, as its own flags do (`--to`, `--target`,
 * `--checkpoint` besides the shared ones), so that its refusals name its flags. Any other refusal is the shared
 * parser's, with its hint.
 */
function parseArguments(argv: string[]) {
  return replay.parseReplay(argv) ?? reprocess.parseReprocess(argv) ?? parseAll(argv);
}

/**
 * The tool: runs the command its arguments name, with the rest of them, writing to `io` (default the
 * process's streams).
 * @returns the exit code (0 done, 1 failed, 2 usage error).
 */
export async function run(argv: string[], io: EventsIo = processIo()): Promise<number> {
  try {
    // The providers the stack is configured with, so `--provider` takes their names too. Without the variable
    // the providers this process has are kept: a process that registered its own runs the tool in process.
    if (process.env.CUSTOM_PROVIDERS !== undefined) registerCustomProviders(process.env.CUSTOM_PROVIDERS);
    const { values, positionals, tokens } = parseArguments(argv);
    const name = positionals[0];
    // Its own commands only: `toString` or `constructor` are what every object inherits, not commands.
    const command = name === undefined || !Object.hasOwn(COMMANDS, name) ? undefined : COMMANDS[name];
    if (name !== undefined && !command) throw new UsageError(`unknown command ${JSON.stringify(name)}`);
    if (!command) {
      line(values.help ? io.stdout : io.stderr, usage());
      return values.help ? 0 : 2;
    }
    const at = tokens.find((token) => token.kind === 'positional')?.index;
    return await command.run(
      argv.filter((_, i) => i !== at),
      io,
    );
  } catch (error) {
    return failure(io, error);
  }
}
