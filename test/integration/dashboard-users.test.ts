/**
 * `campaign-inbox dashboard-users` without AWS: how it is called (its help as a command of the CLI and as
 * `npm run dashboard-users`, its usage mistakes) and where it sends Cognito's calls. Its calls to a user pool are
 * proved against moto in test/aws/dashboard-users.test.ts.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { cognitoEndpoint } from '../../lib/aws/cognito-user-pool';
import { bareEnv, consumerFolder, runToolIn, type ToolRun } from '../support/tool-process';

const execute = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

/**
 * Credentials and a region, every AWS endpoint at a port nothing listens on: a command that called AWS would
 * fail there with exit code 1, so an exit code of 2 says it stopped before any call.
 */
const offline = (env: Record<string, string> = {}) =>
  bareEnv({
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'example',
    AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
    ...env,
  });

async function cli(args: string[], env = offline()): Promise<ToolRun> {
  return runToolIn('cli', args, { cwd: await consumerFolder(), env });
}

const USAGE_LINE = 'add <email> | list | remove <email> --stack <name> [--region <name>]';

describe('dashboard-users, how it is called', () => {
  it('prints its usage on stdout for --help, as a command of the CLI and as npm run dashboard-users, and is listed in the CLI help', {
    timeout: 120_000,
  }, async () => {
    const [command, listing] = await Promise.all([cli(['dashboard-users', '--help']), cli(['--help'])]);
    expect(command.code).toBe(0);
    expect(command.stderr).toBe('');
    expect(command.stdout.split('\n')[0]).toBe(`Usage: campaign-inbox dashboard-users ${USAGE_LINE}`);
    for (const part of [
      '  add <email>',
      '  list',
      '  remove <email>',
      '--stack <name>',
      '--region <name>',
      '--json',
    ])
      expect(command.stdout).toContain(part);
    expect(command.stdout).toContain('cognito-idp:AdminCreateUser, ListUsers or AdminDeleteUser');

    expect(listing.code).toBe(0);
    expect(listing.stdout).toMatch(
      /^ {2}dashboard-users add, list or remove who may sign in to a deployed stack's campaign dashboard$/m,
    );
    // The summaries still start in one column, the longest name included.
    const summaries = listing.stdout
      .split('\n')
      .filter((line) => /^ {2}[a-z-]+ +\S/.test(line))
      .map((line) => /^ {2}[a-z-]+ +/.exec(line)?.[0].length);
    expect(summaries.length).toBeGreaterThanOrEqual(6);
    expect(new Set(summaries).size).toBe(1);

    // The npm script, as a user runs it from a clone.
    const npm = await execute('npm', ['run', '-s', 'dashboard-users', '--', '--help'], {
      cwd: ROOT,
      env: offline(),
    });
    expect(npm.stdout.split('\n')[0]).toBe(`Usage: npm run -s dashboard-users -- ${USAGE_LINE}`);
  });

  it('refuses each usage mistake with exit code 2 and one line on stderr naming it, before any call to AWS', {
    timeout: 120_000,
  }, async () => {
    const cases: [args: string[], says: string, env?: Record<string, string | undefined>][] = [
      [['list'], '--stack <name> is required'],
      [['add', 'ana@example.com'], '--stack <name> is required'],
      [['add', 'ana@', '--stack', 'S'], 'an e-mail address such as name@example.com, got "ana@"'],
      [['add', 'ana@example', '--stack', 'S'], 'an e-mail address such as name@example.com'],
      [['remove', 'ana,bo@example.com', '--stack', 'S'], 'an e-mail address such as name@example.com'],
      [['add', 'ana@exam\u202eple.com', '--stack', 'S'], 'an e-mail address such as name@example.com'],
      [['add', `${'a'.repeat(117)}@example.com`, '--stack', 'S'], 'at most 128 characters'],
      [['remove', '--stack', 'S'], 'remove needs an e-mail address: remove <email>'],
      [['add', 'ana@example.com', 'bo@example.com', '--stack', 'S'], 'add takes one e-mail address, got 2'],
      [['list', 'ana@example.com', '--stack', 'S'], 'list takes no argument'],
      [['delete', 'ana@example.com', '--stack', 'S'], 'unknown action "delete"'],
      [[], 'name what to do: add <email>, list or remove <email>'],
      [['list', '--stack', 'S', '--bogus'], "Unknown option '--bogus'"],
      [['remove', 'ana@example.com', '--stack', 'S', '--json'], '--json applies to list only'],
      [['list', '--stack', 'S'], 'no AWS region', { AWS_REGION: undefined }],
    ];
    const runs = await Promise.all(
      cases.map(([args, , env]) =>
        cli(['dashboard-users', ...args], env ? offline(env as Record<string, string>) : offline()),
      ),
    );
    for (const [i, run] of runs.entries()) {
      const [args, says] = cases[i] ?? [[], ''];
      const label = args.join(' ') || '(nothing)';
      expect(run.code, label).toBe(2);
      expect(run.stdout, label).toBe('');
      expect(run.stderr.trim().split('\n'), label).toHaveLength(1);
      expect(run.stderr, label).toContain(says);
      expect(run.stderr, label).toMatch(/^dashboard-users: .*\(see --help\)\n$/);
    }
  });

  it('takes a plausible address with capitals, a plus and spaces around it: it goes on to read the stack (exit 1, the endpoint is closed), no usage error', async () => {
    const run = await cli(['dashboard-users', 'add', ' Ana.Lima+x@Example.COM ', '--stack', 'S']);
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain('could not read the outputs of stack S');
  });
});

describe('cognitoEndpoint', () => {
  it("reads the endpoint settings the SDK reads for Cognito user pools (the service id 'Cognito Identity Provider'), else the region's cognito-idp endpoint", () => {
    expect(cognitoEndpoint('eu-west-1', {})).toBe('https://cognito-idp.eu-west-1.amazonaws.com');
    expect(cognitoEndpoint('cn-north-1', {})).toBe('https://cognito-idp.cn-north-1.amazonaws.com.cn');
    expect(cognitoEndpoint('eu-west-1', { AWS_ENDPOINT_URL: 'http://a' })).toBe('http://a');
    expect(
      cognitoEndpoint('eu-west-1', {
        AWS_ENDPOINT_URL: 'http://a',
        AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER: 'http://b',
      }),
    ).toBe('http://b');
    // Another service's setting is not Cognito's.
    expect(cognitoEndpoint('eu-west-1', { AWS_ENDPOINT_URL_SQS: 'http://c' })).toBe(
      'https://cognito-idp.eu-west-1.amazonaws.com',
    );
    expect(
      cognitoEndpoint('eu-west-1', {
        AWS_ENDPOINT_URL: 'http://a',
        AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER: 'http://b',
        AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true',
      }),
    ).toBe('https://cognito-idp.eu-west-1.amazonaws.com');
  });
});
