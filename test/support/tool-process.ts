/**
 * The command-line tools run from source in a folder of the caller's choice (a consumer app's, outside any clone
 * of this project) with an environment that holds no AWS setting the test did not give: node with tsx's loader
 * named by path, so the folder needs no tsx of its own (no npx, one process).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = resolve(import.meta.dirname, '../..');
const TSX_LOADER = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

/** What a tool run printed and the code it exited with. */
export interface ToolRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The test process's environment without any `AWS_*` variable or `DATA_DIR`, the shared config and credentials
 * files pointed at paths that do not exist (the machine's own `~/.aws` stays out), and the instance metadata
 * service off (a CI runner in EC2 would otherwise lend its role); then `env`.
 */
export function bareEnv(env: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const kept = Object.entries(process.env).filter(
    ([name]) => !name.startsWith('AWS_') && name !== 'DATA_DIR' && !name.startsWith('EVENTS_'),
  );
  return {
    ...Object.fromEntries(kept),
    AWS_CONFIG_FILE: '/nonexistent-campaign-inbox/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent-campaign-inbox/aws-credentials',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...env,
  };
}

/** A fresh folder that looks like a user's own app: its own package.json, no clone of this project around it. */
export async function consumerFolder(): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'campaign-inbox-app-'));
  await writeFile(
    join(folder, 'package.json'),
    JSON.stringify({ name: 'my-app', private: true, type: 'module', scripts: { start: 'node app.js' } }),
  );
  return folder;
}

/** Starts `scripts/<tool>.ts` in `cwd` with exactly `env` (see {@link bareEnv}); stdout and stderr are pipes. */
export function spawnTool(
  tool: string,
  args: string[],
  options: { cwd: string; env: Record<string, string | undefined> },
): ChildProcess {
  return spawn(process.execPath, ['--import', TSX_LOADER, join(ROOT, 'scripts', `${tool}.ts`), ...args], {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Collects a child's stdout (while it is open) and stderr. @returns them and its exit code once it exits. */
export function finished(child: ChildProcess): Promise<ToolRun> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((done, fail) => {
    child.once('error', fail);
    child.once('close', (code) => done({ code, stdout, stderr }));
  });
}

/** Runs `scripts/<tool>.ts` to its end (see {@link spawnTool}). */
export function runToolIn(
  tool: string,
  args: string[],
  options: { cwd: string; env: Record<string, string | undefined> },
): Promise<ToolRun> {
  return finished(spawnTool(tool, args, options));
}
