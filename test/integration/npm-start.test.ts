import { execFile, spawn } from 'node:child_process';
import { access, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../local/data-dir-lock';
import type { LocalStackInfo } from '../../local/local-stack';
import { hexSignature, soriPayload } from '../support/deliveries';
import { eventually } from '../support/local-aws';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const SECRET = 'sk_npm_start';
const dirs: string[] = [];

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const SHELL = /^(\S*\/)?(sh|bash|dash|zsh) -c /;

/** The command lines of the processes from `pid`'s parent up to (not including) `top`, read with ps(1). */
async function ancestorsUpTo(pid: number, top: number): Promise<string[]> {
  const found: string[] = [];
  let parent = (await ps(pid)).ppid;
  while (parent !== top) {
    if (parent <= 1) throw new Error(`process ${pid} does not descend from ${top}`);
    const { ppid, args } = await ps(parent);
    found.push(args);
    parent = ppid;
  }
  return found;
}

async function ps(pid: number): Promise<{ ppid: number; args: string }> {
  const { stdout } = await run('ps', ['-o', 'ppid=,args=', '-p', String(pid)]);
  const match = /^\s*(\d+)\s+(.*)$/.exec(stdout.trim());
  if (!match) throw new Error(`no process ${pid}`);
  return { ppid: Number(match[1]), args: match[2] ?? '' };
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

describe('npm start', () => {
  it.each([
    { how: 'SIGINT to the whole process group', forwarded: false },
    {
      how: 'SIGINT to the group, and npm forwarding its own to the stack, as when the shell runs the command in its place',
      forwarded: true,
    },
  ])(
    'runs the stack with no wrapper between npm and it, and stops it gracefully on a terminal Ctrl-C ($how), three times out of three',
    async ({ forwarded }) => {
      for (let attempt = 1; attempt <= 3; attempt++) {
        const dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-npm-start-'));
        dirs.push(dataDir);
        // `npm start` as a terminal runs it: a process group of its own, which Ctrl-C signals as a whole.
        const npm = spawn('npm', ['start'], {
          cwd: ROOT,
          env: {
            ...process.env,
            PORT: '0',
            DATA_DIR: dataDir,
            SORI_SECRET_KEY: SECRET,
            LOG_LEVEL: 'error',
          },
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        npm.stdout?.on('data', (chunk: Buffer) => {
          output += chunk.toString();
        });
        npm.stderr?.on('data', (chunk: Buffer) => {
          output += chunk.toString();
        });
        // Every process writing to the pipes has exited once they close: npm and the stack it started.
        const closed = new Promise<number | null>((resolve) => npm.once('close', (code) => resolve(code)));
        let sending = true;
        try {
          const info = await eventually(
            async () => {
              const text = await readFile(join(dataDir, 'local-stack.json'), 'utf8').catch(() => undefined);
              return text ? (JSON.parse(text) as LocalStackInfo) : undefined;
            },
            30_000,
            `npm start to be running (attempt ${attempt})`,
          );
          // Deliveries keep arriving while Ctrl-C is pressed: the stack is busy when the signal comes.
          let accepted = 0;
          const senders = Array.from({ length: 8 }, async (_, sender) => {
            for (let i = 0; sending; i++) {
              const body = JSON.stringify({
                ...soriPayload('impression'),
                activity_id: `act_ctrl_c_${sender}_${i}`,
              });
              try {
                const response = await fetch(info.webhookUrl, {
                  method: 'POST',
                  headers: {
                    'content-type': 'application/json',
                    'x-sori-signature': hexSignature(body, SECRET),
                  },
                  body,
                });
                await response.arrayBuffer();
                if (response.status === 202) accepted++;
              } catch {
                // The server stopped taking connections: the stop has begun.
              }
            }
          });
          await eventually(async () => (accepted >= 20 ? true : undefined), 15_000, 'deliveries accepted');
          // Between npm and the stack nothing but the shell npm runs scripts with: no process of tsx's, which
          // relays a signal to the stack itself and kills it outright when the stack reports it late.
          const between = await ancestorsUpTo(info.pid, npm.pid as number);
          for (const args of between) expect(args, 'a process between npm and the stack').toMatch(SHELL);

          process.kill(-(npm.pid as number), 'SIGINT');
          if (forwarded) process.kill(info.pid, 'SIGINT');
          await closed;
          sending = false;
          await Promise.all(senders);
          await eventually(async () => (isAlive(info.pid) ? undefined : true), 15_000, 'the stack to exit');
          expect(output, `attempt ${attempt}`).toMatch(/\nstopped\n/);
          expect(output).not.toMatch(/SIGKILL|Force killing|stop took too long/);
          // A graceful stop lets go of DATA_DIR and leaves the journal as one checkpoint at most.
          expect(await exists(join(dataDir, 'lock'))).toBe(false);
          expect(await exists(join(dataDir, 'local-stack.json'))).toBe(false);
          expect((await readdir(join(dataDir, 'journal'))).length).toBeLessThanOrEqual(1);
        } finally {
          sending = false;
          // Whatever the test found, nothing it started outlives it.
          try {
            process.kill(-(npm.pid as number), 'SIGKILL');
          } catch {}
        }
      }
    },
    120_000,
  );
});
