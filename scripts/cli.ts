// campaign-inbox <command> [options]: the package's command line (its `bin`, built to dist/cli.js). Each command
// is one of the tools `npm run events|send|set-secret|dashboard|doctor|dashboard-users` runs, loaded only when
// asked for.
import { endQuietlyOnClosedStdout, runningAsCli } from './entry';

const COMMANDS: Record<
  string,
  { summary: string; load: () => Promise<{ run: (argv: string[]) => Promise<number> }> }
> = {
  events: {
    summary: 'query, export and count stored events; the dead-letter queue',
    load: () => import('./events'),
  },
  send: {
    summary: 'sign and post example (or your) payloads to a webhook URL',
    load: () => import('./send'),
  },
  'set-secret': {
    summary: "put a provider's secret_key or URL token into a deployed stack",
    load: () => import('./set-secret'),
  },
  dashboard: { summary: 'serve the campaign dashboard on 127.0.0.1', load: () => import('./dashboard') },
  doctor: {
    summary: 'check a stack end to end with a test delivery, then remove it',
    load: () => import('./doctor'),
  },
  'dashboard-users': {
    summary: "add, list or remove who may sign in to a deployed stack's campaign dashboard",
    load: () => import('./dashboard-users'),
  },
};

const USAGE = `Usage: campaign-inbox <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, command]) => `  ${name.padEnd(15)} ${command.summary}`)
  .join('\n')}

events, dashboard, set-secret, doctor and dashboard-users work on a deployed stack with --stack <name> (its
region from --region, AWS_REGION, AWS_DEFAULT_REGION or your AWS profile); events and dashboard on any records
table with --endpoint <url> --table <name>; send posts to --url <webhook URL>. Without these, events, send,
dashboard and doctor work on the local stack running on DATA_DIR (default ./.data).
"campaign-inbox <command> --help" shows a command's options (through npx: "npx campaign-inbox help"). Data goes to stdout, messages to stderr.
Exit codes: 0 done, 1 failed, 2 usage error.`;

/** Dispatches to a command. @returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  // npx takes a bare `--help` after the package name for its own: `npx campaign-inbox -- --help` passes it on.
  const [name, ...rest] = argv[0] === '--' ? argv.slice(1) : argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (name === undefined) {
    console.error(USAGE);
    return 2;
  }
  // Its own commands only: `toString` or `constructor` are what every object inherits, not commands.
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    console.error(
      `campaign-inbox: unknown command ${JSON.stringify(name)}; commands: ${Object.keys(COMMANDS).join(', ')} (see --help)`,
    );
    return 2;
  }
  runningAsCli();
  return (await command.load()).run(rest);
}

endQuietlyOnClosedStdout();
void run(process.argv.slice(2)).then((code) => {
  if (code !== 0) process.exitCode = code;
});
