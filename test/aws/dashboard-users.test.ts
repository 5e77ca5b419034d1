/**
 * `campaign-inbox dashboard-users add|list|remove --stack` against moto's Cognito user pools and CloudFormation,
 * every call signed by an operator whose IAM user carries only what the command calls, and verified by moto.
 *
 * The user pool is made here as the stack's construct makes it (sign-in by e-mail, so the e-mail address is the
 * user name given and Cognito names the user by an id of its own; admins alone create users), and a
 * CloudFormation stack in moto carries the outputs the command reads, `DashboardUserPoolId` naming that pool,
 * as `support/outputs-stack.ts` carries the template's outputs for the other tools (moto's CloudFormation cannot
 * make the stack's resources). The command runs from source, through the CLI's entry, in a folder outside any
 * clone with no AWS setting but the region, the operator's key and `AWS_ENDPOINT_URL` naming a pass-through in
 * front of moto that records each call.
 *
 * moto authorizes a Cognito user-pool call against the resource `*` (as it does DynamoDB's), so the operator's
 * copy of its `cognito-idp` statement in moto names `*`; in AWS it names the pool. The proxy checks the stack
 * of the `DescribeStacks` call; nothing here checks the pool named by a `cognito-idp` statement.
 */
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsJsonClient } from '../../lib/aws/aws-json-client';
import { uniqueName } from '../support/local-aws';
import { bareEnv, consumerFolder, runToolIn, type ToolRun } from '../support/tool-process';
import { type AwsKey, MOTO_ACCOUNT, MOTO_REGION, type PolicyStatement } from './support/iam';
import { moto } from './support/moto';
import { motoPolicy } from './support/policy';
import { type MotoProxy, type SeenCall, startMotoProxy } from './support/proxy';

let proxy: MotoProxy;
let folder: string;
/** moto's Cognito, as its administrator: to make pools and look at what the command did. */
let cognito: AwsJsonClient;
/** The stack with a user pool, and one deployed before the dashboard (no `DashboardUserPoolId` output). */
let stack: { name: string; pool: string };
let olderStack: string;
let operator: AwsKey;
let operatorUser: string;
let statements: PolicyStatement[];

const poolArn = (pool: string) => `arn:aws:cognito-idp:${MOTO_REGION}:${MOTO_ACCOUNT}:userpool/${pool}`;
const stackArn = (name: string) => `arn:aws:cloudformation:${MOTO_REGION}:${MOTO_ACCOUNT}:stack/${name}/*`;

/** A pool as the construct configures it: e-mail addresses sign in, and nobody signs up. */
async function createPool(): Promise<string> {
  const created = await cognito.call<{ UserPool: { Id: string } }>('CreateUserPool', {
    PoolName: uniqueName('dashboard-users'),
    UsernameAttributes: ['email'],
    AutoVerifiedAttributes: ['email'],
    AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
  });
  return created.UserPool.Id;
}

/** A stack in moto with `outputs` and one placeholder resource (CloudFormation needs one). */
async function createStack(outputs: Record<string, string>): Promise<string> {
  const aws = moto();
  const client = new CloudFormationClient({
    region: MOTO_REGION,
    endpoint: aws.endpoint,
    credentials: aws.admin,
  });
  try {
    const name = uniqueName('CampaignInbox').replace(/[^A-Za-z0-9-]/g, '-');
    await client.send(
      new CreateStackCommand({
        StackName: name,
        TemplateBody: JSON.stringify({
          Resources: { Placeholder: { Type: 'AWS::CloudFormation::WaitConditionHandle' } },
          Outputs: Object.fromEntries(Object.entries(outputs).map(([key, value]) => [key, { Value: value }])),
        }),
      }),
    );
    return name;
  } finally {
    client.destroy();
  }
}

/** What the operator holds in AWS: the stacks' outputs, and the three user-pool actions on the pools. */
function operatorStatements(stacks: string[], pools: string[]): PolicyStatement[] {
  return [
    { Effect: 'Allow', Action: ['cloudformation:DescribeStacks'], Resource: stacks.map(stackArn) },
    {
      Effect: 'Allow',
      Action: ['cognito-idp:AdminCreateUser', 'cognito-idp:ListUsers', 'cognito-idp:AdminDeleteUser'],
      Resource: pools.map(poolArn),
    },
  ];
}

/** moto's copy of the operator's statements: its user-pool actions on `*` (see above). */
const inMoto = (held: PolicyStatement[]) =>
  motoPolicy(
    held.map((statement) =>
      [statement.Action].flat().some((action) => String(action).startsWith('cognito-idp:'))
        ? { ...statement, Resource: '*' }
        : statement,
    ),
  );

/** Grants the operator `held` in moto and at the proxy. */
async function grant(held: PolicyStatement[]) {
  await moto().putPolicy(operatorUser, inMoto(held));
  proxy.grant(operator.accessKeyId, held);
}

let pagedStack: { name: string; pool: string };

beforeAll(async () => {
  const aws = moto();
  proxy = await startMotoProxy(aws.endpoint);
  cognito = new AwsJsonClient({
    service: 'cognito-idp',
    region: MOTO_REGION,
    endpoint: aws.endpoint,
    targetPrefix: 'AWSCognitoIdentityProviderService',
    jsonVersion: '1.1',
    credentials: () => aws.admin,
  });
  const pool = await createPool();
  const name = await createStack({
    DashboardUserPoolId: pool,
    CampaignDashboardUrl: 'https://abc123.execute-api.us-east-1.amazonaws.com/dashboard',
    WebhookUrl: 'https://abc123.execute-api.us-east-1.amazonaws.com/webhooks/sori',
  });
  stack = { name, pool };
  olderStack = await createStack({
    WebhookUrl: 'https://def456.execute-api.us-east-1.amazonaws.com/webhooks/sori',
  });
  const pagedPool = await createPool();
  pagedStack = { name: await createStack({ DashboardUserPoolId: pagedPool }), pool: pagedPool };
  statements = operatorStatements([stack.name, olderStack, pagedStack.name], [stack.pool, pagedPool]);
  operatorUser = uniqueName('dashboard-admin');
  operator = await aws.createUser(operatorUser, inMoto(statements));
  proxy.grant(operator.accessKeyId, statements);
  folder = await consumerFolder();
});
afterAll(() => proxy?.close());

/** `campaign-inbox dashboard-users <args>` as the operator; what it printed, and the calls it made. */
async function dashboardUsers(...args: string[]): Promise<ToolRun & { calls: SeenCall[] }> {
  return dashboardUsersWith({}, ...args);
}

/** {@link dashboardUsers} with more environment variables. */
async function dashboardUsersWith(
  env: Record<string, string>,
  ...args: string[]
): Promise<ToolRun & { calls: SeenCall[] }> {
  const seen = proxy.calls.length;
  const run = await runToolIn('cli', ['dashboard-users', ...args], {
    cwd: folder,
    env: bareEnv({
      AWS_REGION: MOTO_REGION,
      AWS_ACCESS_KEY_ID: operator.accessKeyId,
      AWS_SECRET_ACCESS_KEY: operator.secretAccessKey,
      AWS_ENDPOINT_URL: proxy.endpoint,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...env,
    }),
  });
  return { ...run, calls: proxy.calls.slice(seen) };
}

/** One line on stderr, no stack trace. */
function oneLine(run: ToolRun) {
  expect(run.stderr.trim().split('\n'), run.stderr).toHaveLength(1);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}

/** The calls as [action, status, error code, who answered], each signed with the operator's key. */
function callsOf(calls: SeenCall[]) {
  expect(calls.map((call) => call.accessKeyId)).toEqual(calls.map(() => operator.accessKeyId));
  return calls.map((call) => [call.action, call.status, call.code, call.by]);
}

/** The pool's users as moto holds them, read with the administrator's key. */
async function usersInMoto(pool: string) {
  const { Users = [] } = await cognito.call<{
    Users?: { Attributes: { Name: string; Value: string }[]; UserStatus: string }[];
  }>('ListUsers', { UserPoolId: pool });
  return Users.map(
    (user): Record<string, string> => ({
      ...Object.fromEntries(user.Attributes.map((attribute) => [attribute.Name, attribute.Value])),
      status: user.UserStatus,
    }),
  );
}

const jsonLines = (text: string) =>
  text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('dashboard-users --stack against a user pool in moto', () => {
  it("adds two users (an e-mailed invitation, a verified address, no password of its own), lists both, refuses to add one again with exit 1, removes one, then lists the other only; every call the operator's, taken by moto", async () => {
    const ana = 'ana.lima@example.com';
    const bo = 'bo+dashboard@example.org';
    const before = Date.now();
    for (const email of [ana, bo]) {
      const added = await dashboardUsers('add', email, '--stack', stack.name);
      expect(added.code, added.stderr).toBe(0);
      expect(added.stdout).toBe('');
      oneLine(added);
      expect(added.stderr).toContain(`${email} is invited to the dashboard of stack ${stack.name}`);
      expect(callsOf(added.calls)).toEqual([
        ['DescribeStacks', 200, undefined, 'moto'],
        ['AdminCreateUser', 200, undefined, 'moto'],
      ]);
      // Exactly this request: Cognito makes the temporary password and e-mails it; none is sent or suppressed.
      expect(added.calls[1]?.input).toEqual({
        UserPoolId: stack.pool,
        Username: email,
        UserAttributes: [
          { Name: 'email', Value: email },
          { Name: 'email_verified', Value: 'true' },
        ],
        DesiredDeliveryMediums: ['EMAIL'],
      });
    }
    const after = Date.now();
    expect(
      (await usersInMoto(stack.pool)).sort((a, b) => String(a.email).localeCompare(String(b.email))),
    ).toEqual([
      expect.objectContaining({ email: ana, email_verified: 'true', status: 'FORCE_CHANGE_PASSWORD' }),
      expect.objectContaining({ email: bo, email_verified: 'true', status: 'FORCE_CHANGE_PASSWORD' }),
    ]);

    const json = await dashboardUsers('list', '--stack', stack.name, '--json');
    expect(json.code, json.stderr).toBe(0);
    expect(json.stderr).toBe('');
    expect(callsOf(json.calls)).toEqual([
      ['DescribeStacks', 200, undefined, 'moto'],
      ['ListUsers', 200, undefined, 'moto'],
    ]);
    const listed = jsonLines(json.stdout);
    expect(listed).toEqual([
      { email: ana, status: 'FORCE_CHANGE_PASSWORD', created: expect.any(String) },
      { email: bo, status: 'FORCE_CHANGE_PASSWORD', created: expect.any(String) },
    ]);
    for (const user of listed) {
      const created = Date.parse(String(user.created));
      expect(new Date(created).toISOString()).toBe(user.created);
      // moto keeps the creation time to the second.
      expect(created).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
      expect(created).toBeLessThanOrEqual(after);
    }

    const table = await dashboardUsers('list', '--stack', stack.name);
    expect(table.code, table.stderr).toBe(0);
    const rows = table.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^email\s+status\s+created$/);
    expect(rows.slice(1)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^${ana.replace(/[.+]/g, '\\$&')}\\s+FORCE_CHANGE_PASSWORD\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d$`,
        ),
      ),
      expect.stringMatching(
        new RegExp(`^${bo.replace(/[.+]/g, '\\$&')}\\s+FORCE_CHANGE_PASSWORD\\s+\\d{4}-`),
      ),
      '(2 users)',
    ]);
    // The columns line up: each row's status starts where the header's does.
    const column = rows[0]?.indexOf('status');
    expect(rows.slice(1, 3).map((row) => row.indexOf('FORCE_CHANGE_PASSWORD'))).toEqual([column, column]);

    const again = await dashboardUsers('add', ana, '--stack', stack.name);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
    oneLine(again);
    expect(again.stderr).toBe(`dashboard-users: ${ana} is already a dashboard user of stack ${stack.name}\n`);
    // Asked once, not again (a second try would be refused the same way whether or not the first was done).
    expect(callsOf(again.calls)).toEqual([
      ['DescribeStacks', 200, undefined, 'moto'],
      ['AdminCreateUser', 400, 'UsernameExistsException', 'moto'],
    ]);
    expect(await usersInMoto(stack.pool)).toHaveLength(2);

    const removed = await dashboardUsers('remove', ana, '--stack', stack.name);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toBe('');
    oneLine(removed);
    expect(removed.stderr).toContain(`${ana} is no longer a dashboard user of stack ${stack.name}`);
    expect(callsOf(removed.calls)).toEqual([
      ['DescribeStacks', 200, undefined, 'moto'],
      ['AdminDeleteUser', 200, undefined, 'moto'],
    ]);
    expect(removed.calls[1]?.input).toEqual({ UserPoolId: stack.pool, Username: ana });

    const left = await dashboardUsers('list', '--stack', stack.name, '--json');
    expect(left.code).toBe(0);
    expect(jsonLines(left.stdout)).toEqual([
      { email: bo, status: 'FORCE_CHANGE_PASSWORD', created: listed[1]?.created },
    ]);
    expect(await usersInMoto(stack.pool)).toEqual([expect.objectContaining({ email: bo })]);

    const unknown = await dashboardUsers('remove', ana, '--stack', stack.name);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe('');
    oneLine(unknown);
    expect(unknown.stderr).toBe(`dashboard-users: ${ana} is not a dashboard user of stack ${stack.name}\n`);
    expect(callsOf(unknown.calls)).toEqual([
      ['DescribeStacks', 200, undefined, 'moto'],
      ['AdminDeleteUser', 400, 'UserNotFoundException', 'moto'],
    ]);
  });

  it('refuses a missing --stack, a bad e-mail address, a missing one and an unknown action with exit 2 in one line, before any AWS call', async () => {
    const cases: [args: string[], says: string][] = [
      [['add', 'cleo@example.com'], '--stack <name> is required'],
      [['list'], '--stack <name> is required'],
      [
        ['add', 'not-an-address', '--stack', stack.name],
        'add needs an e-mail address such as name@example.com',
      ],
      [['add', 'cleo@example', '--stack', stack.name], 'an e-mail address such as name@example.com'],
      [['remove', 'cleo @example.com', '--stack', stack.name], 'an e-mail address such as name@example.com'],
      [['add', `${'c'.repeat(120)}@example.com`, '--stack', stack.name], 'at most 128 characters'],
      [['add', '--stack', stack.name], 'add needs an e-mail address: add <email>'],
      [['invite', 'cleo@example.com', '--stack', stack.name], 'unknown action "invite"'],
      [['list', 'cleo@example.com', '--stack', stack.name], 'list takes no argument'],
      [['add', 'cleo@example.com', '--stack', stack.name, '--json'], '--json applies to list only'],
    ];
    for (const [args, says] of cases) {
      const run = await dashboardUsers(...args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stdout, args.join(' ')).toBe('');
      oneLine(run);
      expect(run.stderr, args.join(' ')).toContain(says);
      expect(run.stderr, args.join(' ')).toMatch(/^dashboard-users: .*\(see --help\)\n$/);
      expect(run.calls, args.join(' ')).toEqual([]);
    }
    expect(await usersInMoto(stack.pool)).not.toContainEqual(
      expect.objectContaining({ email: 'cleo@example.com' }),
    );
  });

  it('lists every user of a pool with more than one page of them (ListUsers gives 60 at most), each once', async () => {
    const emails = Array.from({ length: 65 }, (_, i) => `user${String(i).padStart(2, '0')}@example.com`);
    for (const email of emails) {
      await cognito.call('AdminCreateUser', {
        UserPoolId: pagedStack.pool,
        Username: email,
        UserAttributes: [{ Name: 'email', Value: email }],
        MessageAction: 'SUPPRESS',
      });
    }
    const run = await dashboardUsers('list', '--stack', pagedStack.name, '--json');
    expect(run.code, run.stderr).toBe(0);
    expect(callsOf(run.calls)).toEqual([
      ['DescribeStacks', 200, undefined, 'moto'],
      ['ListUsers', 200, undefined, 'moto'],
      ['ListUsers', 200, undefined, 'moto'],
    ]);
    expect(run.calls[2]?.input).toMatchObject({ PaginationToken: expect.any(String) });
    expect(jsonLines(run.stdout).map((user) => user.email)).toEqual(emails);
  });

  it('says in one line, exit 1, that a stack deployed before the dashboard has no user pool, and that a stack it may not read cannot be read', async () => {
    const older = await dashboardUsers('list', '--stack', olderStack);
    expect(older.code).toBe(1);
    oneLine(older);
    expect(older.stderr).toContain(`stack ${olderStack} has no DashboardUserPoolId output`);
    expect(callsOf(older.calls)).toEqual([['DescribeStacks', 200, undefined, 'moto']]);

    const other = uniqueName('NotTheStack');
    const refused = await dashboardUsers('list', '--stack', other);
    expect(refused.code).toBe(1);
    oneLine(refused);
    expect(refused.stderr).toContain(`could not read the outputs of stack ${other}`);
    expect(callsOf(refused.calls)).toEqual([
      ['DescribeStacks', 400, 'AccessDeniedException', 'resource-check'],
    ]);
  });

  it("sends Cognito's calls where AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER says, before AWS_ENDPOINT_URL, and says in one line, exit 1, when nothing answers there", async () => {
    const nowhere = 'http://127.0.0.1:9';
    const run = await dashboardUsersWith(
      { AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER: nowhere },
      'list',
      '--stack',
      stack.name,
    );
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    oneLine(run);
    expect(run.stderr).toMatch(
      /^dashboard-users: could not reach Cognito at http:\/\/127\.0\.0\.1:9 \(ListUsers\): .*ECONNREFUSED/,
    );
    // The stack's outputs still came through AWS_ENDPOINT_URL; no Cognito call reached it.
    expect(callsOf(run.calls)).toEqual([['DescribeStacks', 200, undefined, 'moto']]);
  });

  it("needs each of the operator's actions: without it, moto refuses the command's call and the command exits 1 in one line naming the call", async () => {
    const cases: [action: string, command: string[], refused: string][] = [
      ['cloudformation:DescribeStacks', ['list'], 'DescribeStacks'],
      ['cognito-idp:ListUsers', ['list'], 'ListUsers'],
      ['cognito-idp:AdminCreateUser', ['add', 'dee@example.com'], 'AdminCreateUser'],
      ['cognito-idp:AdminDeleteUser', ['remove', 'dee@example.com'], 'AdminDeleteUser'],
    ];
    expect(cases.map(([action]) => action).sort()).toEqual(
      statements.flatMap((statement) => [statement.Action].flat()).sort(),
    );
    try {
      for (const [action, command, refused] of cases) {
        await grant(
          statements.map((statement) => ({
            ...statement,
            Action: [statement.Action].flat().filter((held) => held !== action),
          })),
        );
        const run = await dashboardUsers(...command, '--stack', stack.name);
        expect(run.code, action).toBe(1);
        oneLine(run);
        expect(
          run.calls.filter((call) => call.status >= 300).map((call) => [call.action, call.code, call.by]),
          action,
        ).toEqual([[refused, 'AccessDenied', 'moto']]);
        if (refused !== 'DescribeStacks')
          // moto refuses in XML where Cognito answers in JSON: the line names the call, not the XML's first line.
          expect(run.stderr, action).toBe(
            `dashboard-users: Cognito refused ${refused}: HTTP 403: an answer that is not JSON\n`,
          );
      }
    } finally {
      await grant(statements);
    }
    // With every action back, the user refused an invitation above can be added and removed.
    expect((await dashboardUsers('add', 'dee@example.com', '--stack', stack.name)).code).toBe(0);
    expect((await dashboardUsers('remove', 'dee@example.com', '--stack', stack.name)).code).toBe(0);
  });
});
