import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { run as events } from '../../scripts/events';

const execute = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

/** What a tool run printed and the code it exited with. */
export interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment every tool run gets: local AWS credentials, and no local stack unless the caller names one. */
const toolEnv = (env: Record<string, string | undefined>): Record<string, string | undefined> => ({
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  AWS_REGION: 'us-east-1',
  DATA_DIR: '/nonexistent-campaign-inbox',
  ...env,
});

/**
 * Runs a command-line tool from its source as `npm run -s <tool> --` would: node itself with tsx's loader (one
 * process, no npx), with local AWS credentials and a `DATA_DIR` of the caller's choice. For the end-to-end runs
 * of a tool (its entry, its exit code as a process); {@link runEvents} runs the events tool in this process.
 */
export async function runTool(
  tool: string,
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<ToolRun> {
  return execute(process.execPath, ['--import', 'tsx', `scripts/${tool}.ts`, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...toolEnv(env) },
    maxBuffer: 64 * 1024 * 1024,
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      stdout: error.stdout,
      stderr: error.stderr,
    }),
  );
}

/** A stream that keeps what is written to it. */
function collector(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString() };
}

/** `process.stdout.write` or `process.stderr.write`, redirected to `into` until the returned function is called. */
function redirect(stream: NodeJS.WriteStream, into: Writable): () => void {
  const original = stream.write;
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const done = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    into.write(chunk, () => done?.());
    return true;
  }) as typeof stream.write;
  return () => {
    stream.write = original;
  };
}

/** Sets `env` in this process's environment. @returns the function that puts the environment back as it was. */
function withEnv(env: Record<string, string | undefined>): () => void {
  const saved = { ...process.env };
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  return () => {
    // The tools set variables of their own too (the region they found, as `AWS_REGION`).
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  };
}

/** Runs go one at a time: each has the process's environment to itself. */
let queue: Promise<unknown> = Promise.resolve();

/**
 * Runs `events <args>` in this process, as `npm run -s events --` would: its `run` with streams of its own
 * (stdin not a terminal), in the environment {@link runTool} gives a tool, put back afterwards. What the export's
 * file writer sends to the process's own stdout and stderr is collected with the rest.
 */
export function runEvents(args: string[], env: Record<string, string | undefined> = {}): Promise<ToolRun> {
  const once = async (): Promise<ToolRun> => {
    const stdout = collector();
    const stderr = collector();
    const restoreEnv = withEnv(toolEnv(env));
    const restoreStdout = redirect(process.stdout, stdout.stream);
    const restoreStderr = redirect(process.stderr, stderr.stream);
    try {
      const code = await events(args, {
        stdout: stdout.stream,
        stderr: stderr.stream,
        stdin: Readable.from([]),
      });
      return { code, stdout: stdout.text(), stderr: stderr.text() };
    } finally {
      restoreStderr();
      restoreStdout();
      restoreEnv();
    }
  };
  const result = queue.then(once, once);
  queue = result.catch(() => undefined);
  return result;
}

/** `events <command> … --endpoint <the run's DynamoDB> --table <tableName>`, in this process. */
export function eventsOn(tableName: string, args: string[], env: Record<string, string | undefined> = {}) {
  return runEvents([...args, '--endpoint', inject('dynamodbEndpoint'), '--table', tableName], env);
}
