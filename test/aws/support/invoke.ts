import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Runs a bundle's `handler(event, context)` in a fresh Node process, as `test/support/bundles.ts`'s
 * `invokeBundle` does, but hands the event over in a file: a body near 256 KiB would pass the 128 KiB an
 * environment variable may hold.
 * @returns what the handler returned.
 */
export async function invokeBundleWith(
  file: string,
  env: Record<string, string>,
  event: unknown,
): Promise<unknown> {
  const folder = await mkdtemp(join(tmpdir(), 'bundle-event-'));
  const eventFile = join(folder, 'event.json');
  await writeFile(eventFile, JSON.stringify(event));
  const runner = `
    import { readFileSync } from 'node:fs';
    const { handler } = await import(${JSON.stringify(file)});
    const context = { functionName: 'conformance', awsRequestId: 'conformance', getRemainingTimeInMillis: () => 10000 };
    const result = await handler(JSON.parse(readFileSync(${JSON.stringify(eventFile)}, 'utf8')), context);
    process.stdout.write('\\n@@RESULT@@' + JSON.stringify(result));`;
  try {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', runner], {
      env: { PATH: process.env.PATH ?? '', ...env },
      maxBuffer: 16 * 1024 * 1024,
    });
    return JSON.parse(stdout.slice(stdout.lastIndexOf('@@RESULT@@') + '@@RESULT@@'.length));
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}
