import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const execute = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

/** Runs `campaign-inbox` from its source, as node with tsx's loader (one process). */
async function cli(...args: string[]) {
  return execute(process.execPath, ['--import', 'tsx', 'scripts/cli.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: '/nonexistent-campaign-inbox' },
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
}

describe('campaign-inbox, the CLI', () => {
  it('routes each command to its tool, whose help names it as a command of the CLI; usage on stdout for --help, on stderr with exit code 2 without a command or for an unknown one', {
    timeout: 120_000,
  }, async () => {
    const [events, send, setSecret, dashboard, help, none, unknown, usageError] = await Promise.all([
      cli('events', '--help'),
      cli('send', '--help'),
      cli('set-secret', '--help'),
      cli('dashboard', '--help'),
      cli('--help'),
      cli(),
      cli('frobnicate'),
      cli('events', 'stats', '--limit', '5'),
    ]);
    expect(events).toMatchObject({ code: 0 });
    expect(events.stdout).toMatch(/^Usage: campaign-inbox events <command>/);
    expect(events.stdout).toContain('query        events, newest first');
    expect(send.stdout).toMatch(/^Usage: campaign-inbox send \[options\]/);
    expect(send.stdout).toContain('--json');
    expect(setSecret.stdout).toMatch(/^Usage: campaign-inbox set-secret/);
    expect(dashboard.stdout).toMatch(/^Usage: campaign-inbox dashboard/);
    for (const result of [events, send, setSecret, dashboard]) expect(result.code).toBe(0);

    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: campaign-inbox <command>/);
    for (const name of ['events', 'send', 'set-secret', 'dashboard'])
      expect(help.stdout).toContain(`  ${name} `);
    expect(none).toMatchObject({ code: 2, stdout: '' });
    expect(none.stderr).toMatch(/^Usage: campaign-inbox <command>/);
    expect(unknown).toMatchObject({ code: 2, stdout: '' });
    expect(unknown.stderr).toContain('campaign-inbox: unknown command "frobnicate"');
    // A command's own usage error keeps its exit code and its message, on stderr.
    expect(usageError).toMatchObject({ code: 2, stdout: '' });
    expect(usageError.stderr).toContain('--limit does not apply to stats');
  });

  it('takes only its own commands: names every object inherits (constructor, toString, __proto__) are unknown commands, exit code 2', {
    timeout: 120_000,
  }, async () => {
    const names = ['constructor', 'toString', '__proto__'];
    const results = await Promise.all([
      ...names.map((name) => cli(name)),
      ...names.map((name) => cli('events', name)),
    ]);
    for (const [i, result] of results.entries()) {
      const name = names[i % names.length];
      expect(result, name).toMatchObject({ code: 2, stdout: '' });
      expect(result.stderr, name).toContain(`unknown command "${name}"`);
    }
  });
});
