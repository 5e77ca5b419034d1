/**
 * Starts one `moto_server` for the AWS conformance suite, with moto's request authentication on: the first
 * {@link UNCHECKED_SETUP_CALLS} calls create an administrator (an IAM user, its policy, its access key), and every
 * later call, ours and the tests' alike, is verified with botocore's Signature Version 4 and checked against the
 * calling user's IAM policies.
 *
 * Without moto the run fails here, saying how to install it: this suite never passes by skipping.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { type AwsKey, iam, iamCall, MOTO_REGION, readTag } from './support/iam';

declare module 'vitest' {
  export interface ProvidedContext {
    motoEndpoint: string;
    motoAdmin: AwsKey;
  }
}

/** CreateUser, PutUserPolicy, CreateAccessKey: the only calls moto takes without checking them. */
const UNCHECKED_SETUP_CALLS = 3;
const MOTO_VERSION = '5.2.1';
const INSTALL_MOTO = `pip install 'moto[server]==${MOTO_VERSION}'`;

function missing(why: string): Error {
  const message = [
    `The AWS conformance suite (npm run test:aws) needs moto's server, and ${why}.`,
    `Install it with:  ${INSTALL_MOTO}`,
    'so that `moto_server` is on PATH, then run npm run test:aws again.',
  ].join('\n');
  process.stderr.write(`\n${message}\n\n`);
  return new Error(message);
}

/** Runs `moto_server` on a loopback port it picks itself. */
async function startMoto(): Promise<{ endpoint: string; child: ChildProcess }> {
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', '0'], {
    env: { ...process.env, INITIAL_NO_AUTH_ACTION_COUNT: String(UNCHECKED_SETUP_CALLS) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const endpoint = await new Promise<string>((resolve, reject) => {
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      settle(() => reject(missing(`moto_server did not start within 60 s:\n${output.slice(-2_000)}`)));
    }, 60_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const port = /Running on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1];
      if (port) settle(() => resolve(`http://127.0.0.1:${port}`));
    };
    child.stdout?.on('data', read);
    child.stderr?.on('data', read);
    child.on('error', (error: NodeJS.ErrnoException) =>
      settle(() => reject(missing(error.code === 'ENOENT' ? 'moto_server is not on PATH' : String(error)))),
    );
    child.on('exit', (code) =>
      settle(() => reject(missing(`moto_server exited (${code}) before serving:\n${output.slice(-2_000)}`))),
    );
  });
  // Its request log is not read past the start; left unread, a full pipe would stall it.
  child.stdout?.resume();
  child.stderr?.resume();
  return { endpoint, child };
}

export default async function setup(project: TestProject) {
  const { endpoint, child } = await startMoto();
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  try {
    const name = 'conformance-admin';
    await iam(endpoint, undefined, 'CreateUser', { UserName: name });
    await iam(endpoint, undefined, 'PutUserPolicy', {
      UserName: name,
      PolicyName: 'everything',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
      }),
    });
    const created = await iam(endpoint, undefined, 'CreateAccessKey', { UserName: name });
    const admin = {
      accessKeyId: readTag(created, 'AccessKeyId'),
      secretAccessKey: readTag(created, 'SecretAccessKey'),
    };
    // From here on moto must check every call: a wrong secret is refused, the right one passes.
    const wrong = await iamCall(
      endpoint,
      { ...admin, secretAccessKey: `${admin.secretAccessKey}x` },
      'ListUsers',
    );
    if (wrong.status !== 403) {
      throw new Error(
        `moto took a call signed with a wrong key (${wrong.status}): its authentication is off`,
      );
    }
    const right = await iamCall(endpoint, admin, 'ListUsers');
    if (right.status !== 200)
      throw new Error(`moto refused the administrator (${right.status}): ${right.body}`);
    project.provide('motoEndpoint', endpoint);
    project.provide('motoAdmin', admin);
  } catch (error) {
    await stop();
    throw error;
  }
  process.stderr.write(`moto_server (${MOTO_REGION}) at ${endpoint}, authentication on\n`);
  return stop;
}
