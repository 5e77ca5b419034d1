import { readFileSync } from 'node:fs';
import { link, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PRIVATE_FILE_MODE } from './private-files';

const LOCK_FILE = 'lock';

/** Another live process runs a local stack on the same data directory. */
export class DataDirBusyError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(`${dataDir} is in use by another campaign-inbox (pid ${pid})`);
    this.name = 'DataDirBusyError';
  }
}

/** A held data-directory lock. */
export interface DataDirLock {
  readonly path: string;
  /** Gives the lock up (only while the file still names this process). */
  release(): Promise<void>;
}

/** Lock files this process holds: a lock naming our own pid is stale unless listed here (pid reuse). */
const held = new Set<string>();

/**
 * `true` when `pid` is a running process. A zombie counts as gone: a killed stack whose parent has not reaped it
 * yet holds nothing anymore.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    // No procfs (macOS): signal 0 is all there is to go by.
    return true;
  }
}

async function readPid(path: string): Promise<number | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  const pid = Number(text?.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

const holdsIt = (path: string, pid: number | undefined) =>
  pid !== undefined && (pid === process.pid ? held.has(path) : isAlive(pid));

/**
 * Takes `dataDir/lock` for this process: one local stack per data directory, since two would corrupt each
 * other's database and journal. The file is created whole (written aside, then hard-linked into place, which
 * fails when it exists), so a reader never sees it empty. A lock left by a killed process is taken over.
 * @throws {DataDirBusyError} when a live process holds it.
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const path = join(dataDir, LOCK_FILE);
  const mine = `${path}.${process.pid}`;
  for (let attempt = 0; attempt < 5; attempt++) {
    await writeFile(mine, `${process.pid}\n`, { mode: PRIVATE_FILE_MODE });
    try {
      await link(mine, path);
      held.add(path);
      return {
        path,
        release: async () => {
          held.delete(path);
          if ((await readPid(path)) === process.pid) await rm(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      await rm(mine, { force: true });
    }
    const holder = await readPid(path);
    if (holder !== undefined && holdsIt(path, holder)) throw new DataDirBusyError(dataDir, holder);
    // Stale. Moved aside rather than removed: of two processes taking it over at once, only one rename
    // succeeds, and a rename that caught the other's fresh lock instead is noticed and undone.
    const aside = `${path}.stale.${process.pid}`;
    try {
      await rename(path, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    const moved = await readPid(aside);
    if (moved !== holder && holdsIt(path, moved)) {
      await link(aside, path).catch(() => undefined);
      await rm(aside, { force: true });
      throw new DataDirBusyError(dataDir, moved as number);
    }
    await rm(aside, { force: true });
  }
  throw new Error(`could not lock ${dataDir}: the lock file keeps changing`);
}
