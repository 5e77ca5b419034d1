import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import type { LocalStackInfo } from '../../local/local-stack';
import { eventually } from './local-aws';

const ROOT = join(import.meta.dirname, '..', '..');

/** A local stack running as a process of its own, in its own process group, so it can be really killed. */
export interface StackProcess {
  child: ChildProcess;
  info: LocalStackInfo;
  /** What the process wrote to stderr so far. */
  stderr(): string;
  /**
   * Sends `signal` to the whole process group and waits for the process to exit.
   * @returns how it ended and how long it took.
   */
  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

/** Process groups spawned and still running: a test that fails before it stops its stack leaves none behind. */
const running = new Set<number>();
function killRunning() {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  running.clear();
}
// After the test file that imported this module (each file has its own copy), and, should the worker end first,
// with it.
afterAll(killRunning);
process.once('exit', killRunning);

/**
 * Runs a script of the repository with tsx's loader, as `npm start` does, in a process group of its own;
 * `nodeArgs` go before the script (e.g. another `--import`). Whatever is still running when the test worker
 * exits is killed with it.
 */
export function spawnScript(
  script: string,
  env: Record<string, string>,
  nodeArgs: string[] = [],
): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ...nodeArgs, script], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'error', ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid !== undefined) {
    running.add(pid);
    child.once('exit', () => running.delete(pid));
  }
  return child;
}

/** Waits for a child to exit. @returns its exit code and signal. */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/**
 * Starts `script` (default `local/start.ts`, i.e. `npm start`) on `dataDir` with `PORT=0`, and waits until it
 * has written `DATA_DIR/local-stack.json` naming its own pid (a killed predecessor's file may still be there).
 */
export async function startStackProcess(
  dataDir: string,
  env: Record<string, string> = {},
  script = 'local/start.ts',
): Promise<StackProcess> {
  const child = spawnScript(script, { PORT: '0', DATA_DIR: dataDir, ...env });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout?.resume();
  const info = await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`the stack exited with ${child.exitCode}: ${stderr}`);
      const text = await readFile(join(dataDir, 'local-stack.json'), 'utf8').catch(() => undefined);
      const parsed = text ? (JSON.parse(text) as LocalStackInfo) : undefined;
      return parsed?.pid === child.pid ? parsed : undefined;
    },
    // A start under a CPU hog beside other test files: its servers, journal replay and first poll.
    90_000,
    'the local stack to start',
  );
  return {
    child,
    info,
    stderr: () => stderr,
    kill: async (signal) => {
      const started = performance.now();
      const done = exited(child);
      process.kill(-(child.pid as number), signal);
      const result = await done;
      return { ...result, ms: performance.now() - started };
    },
  };
}

/**
 * `npm start` in a data folder of its own with `env` added, expected to refuse: its exit code and what it wrote
 * on stderr (the folder is removed after).
 */
export async function refusedStart(
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string }> {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-refused-'));
  try {
    const child = spawnScript('local/start.ts', { PORT: '0', DATA_DIR: dataDir, ...env });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout?.resume();
    const { code } = await exited(child);
    return { code, stderr };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}
