import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';

const execute = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

/** What a tool run printed and the code it exited with. */
export interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command-line tool from its source as `npm run -s <tool> --` would: node itself with tsx's loader (one
 * process, no npx), with local AWS credentials and a `DATA_DIR` of the caller's choice.
 */
export async function runTool(
  tool: string,
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<ToolRun> {
  return execute(process.execPath, ['--import', 'tsx', `scripts/${tool}.ts`, ...args], {
    cwd: ROOT,
    env: {
      ...process.env,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_REGION: 'us-east-1',
      DATA_DIR: '/nonexistent-campaign-inbox',
      ...env,
    },
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

/** `events <command> … --endpoint <the run's DynamoDB> --table <tableName>`. */
export function eventsOn(tableName: string, args: string[], env: Record<string, string | undefined> = {}) {
  return runTool('events', [...args, '--endpoint', inject('dynamodbEndpoint'), '--table', tableName], env);
}
