import { parseArgs } from 'node:util';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DEFAULT_CONFIG } from '../infra/config';
import { CognitoUserPool, emailAddressProblem, type PoolUser } from '../lib/aws/cognito-user-pool';
import { requireRegion } from './aws-region';
import { invocation, isEntry, reportFailure, runAsEntry, UsageError } from './entry';
import { readStackOutputs, requireOutput } from './stack-outputs';
import { forTerminal } from './terminal-text';

const TOOL = 'dashboard-users';

const usage =
  () => `Usage: ${invocation(TOOL)} add <email> | list | remove <email> --stack <name> [--region <name>]

Who may sign in to a deployed stack's campaign dashboard (its CampaignDashboardUrl output): the users of the
stack's Cognito user pool (its DashboardUserPoolId output), each named by e-mail address.

  add <email>         invite a user: Cognito e-mails them a temporary password, changed at the first sign-in
                      (this tool never sees or prints it)
  list                every user: e-mail, status (FORCE_CHANGE_PASSWORD until the first sign-in), created
  remove <email>      delete a user: they cannot sign in again; a token already issued works until it expires
                      (the dashboard client's access-token lifetime, an hour by default)

  --stack <name>      the deployed stack (required)
  --region <name>     its AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, else your AWS profile's)
  --json              with list: one JSON object per user and line, {"email", "status", "created"}

Users listed in the stack's dashboardUsers setting are the stack's own: remove one from that list and deploy,
rather than here, or the stack keeps a user it no longer has. The AWS identity needs
cloudformation:DescribeStacks on the stack and cognito-idp:AdminCreateUser, ListUsers or AdminDeleteUser on
the pool. Data goes to stdout, messages to stderr.
Exit codes: 0 done, 1 failed (a user already there, one not there, a refusal), 2 usage error.

Example:  ${invocation(TOOL)} add ana@example.com --stack ${DEFAULT_CONFIG.stackName}
`;

type Action = 'add' | 'list' | 'remove';

/** The action and its e-mail address from the words after the command. @throws {UsageError} */
function parseAction(positionals: string[]): { action: Action; email?: string } {
  const [action, ...rest] = positionals;
  if (action === undefined) throw new UsageError('name what to do: add <email>, list or remove <email>');
  if (action === 'list') {
    if (rest.length > 0) throw new UsageError(`list takes no argument, got ${JSON.stringify(rest[0])}`);
    return { action };
  }
  if (action !== 'add' && action !== 'remove')
    throw new UsageError(
      `unknown action ${JSON.stringify(action)}; actions: add <email>, list, remove <email>`,
    );
  if (rest.length === 0) throw new UsageError(`${action} needs an e-mail address: ${action} <email>`);
  if (rest.length > 1) throw new UsageError(`${action} takes one e-mail address, got ${rest.length}`);
  const email = (rest[0] ?? '').trim();
  const problem = emailAddressProblem(email);
  if (problem) throw new UsageError(`${action} needs ${problem}, got ${JSON.stringify(rest[0])}`);
  return { action, email };
}

/** The pool's id from the stack's outputs, saying so when the stack predates the dashboard. */
function userPoolId(outputs: Record<string, string>, stack: string): string {
  if (!outputs.DashboardUserPoolId && outputs.WebhookUrl) {
    throw new Error(
      `stack ${stack} has no DashboardUserPoolId output: it was deployed by a version without the signed-in dashboard; deploy it again first`,
    );
  }
  return requireOutput(outputs, 'DashboardUserPoolId', stack);
}

function printTable(users: PoolUser[]): void {
  const rows = users.map((user) => [
    forTerminal(user.email),
    forTerminal(user.status),
    user.created.replace('T', ' ').replace(/\.\d+Z$|Z$/, ''),
  ]);
  const header = ['email', 'status', 'created'];
  const widths = header.map((name, i) => Math.max(name.length, ...rows.map((row) => row[i]?.length ?? 0)));
  const line = (values: string[]) =>
    values
      .map((value, i) => value.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  console.log(line(header));
  for (const row of rows) console.log(line(row));
  console.log(`(${users.length} ${users.length === 1 ? 'user' : 'users'})`);
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      stack: { type: 'string' },
      region: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(usage());
    return 0;
  }
  const { action, email } = parseAction(positionals);
  if (values.json && action !== 'list') throw new UsageError(`--json applies to list only, not to ${action}`);
  const stack = values.stack;
  if (!stack)
    throw new UsageError('--stack <name> is required: the deployed stack whose dashboard users these are');
  const region = await requireRegion(values.region);
  const outputs = await readStackOutputs(stack, region);
  const pool = userPoolId(outputs, stack);

  // The SDK's own credential chain (environment, profiles, SSO, ...), as every other --stack command has it.
  const sdk = new CloudFormationClient({ region });
  try {
    const users = new CognitoUserPool({
      region,
      userPoolId: pool,
      credentials: () => sdk.config.credentials(),
    });
    const who = forTerminal(email ?? '');
    if (action === 'add') {
      if ((await users.createUser(email ?? '')) === 'exists') {
        process.stderr.write(`${TOOL}: ${who} is already a dashboard user of stack ${stack}\n`);
        return 1;
      }
      const url = outputs.CampaignDashboardUrl;
      process.stderr.write(
        `${who} is invited to the dashboard of stack ${stack}${url ? ` (${url})` : ''}: Cognito e-mails them a temporary password, to change at the first sign-in (unused, it expires after the days the pool allows, 7 by default: then remove and add them again).\n`,
      );
      return 0;
    }
    if (action === 'remove') {
      if ((await users.deleteUser(email ?? '')) === 'unknown') {
        process.stderr.write(`${TOOL}: ${who} is not a dashboard user of stack ${stack}\n`);
        return 1;
      }
      process.stderr.write(`${who} is no longer a dashboard user of stack ${stack}.\n`);
      return 0;
    }
    const list = (await users.listUsers()).sort((a, b) => a.email.localeCompare(b.email));
    if (values.json) for (const user of list) console.log(JSON.stringify(user));
    else printTable(list);
    return 0;
  } finally {
    sdk.destroy();
  }
}

/** The tool: adds, lists or removes a stack's dashboard users. @returns the exit code (0, 1 failed, 2 usage). */
export async function run(argv: string[]): Promise<number> {
  try {
    return await main(argv);
  } catch (error) {
    return reportFailure(TOOL, error);
  }
}

if (isEntry(import.meta.url)) runAsEntry(run);
