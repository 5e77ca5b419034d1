import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ReplayCursor, ReplayRange } from './range-reader';

/** What a replay has done so far, kept between runs so that an interrupted one resumes where it stopped. */
export interface ReplayCheckpoint {
  version: 1;
  /** The range and the destination it is for: a checkpoint resumes only the same replay. */
  range: ReplayRange;
  destination: { kind: string; target: string };
  /** The last page whose events were all sent; `null` before any. */
  cursor: ReplayCursor | null;
  /** Events of the pages wholly sent, by every run of this replay (a page cut short is not counted). */
  sent: number;
  /** The whole range was sent. */
  complete: boolean;
  updated_at: string;
}

/** The checkpoint file is not one a replay wrote, or is for another replay. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/**
 * @returns the checkpoint in `path`, or `undefined` when there is no such file.
 * @throws {CheckpointError} when the file is not a replay's checkpoint, or `path` is a directory.
 */
export async function readCheckpoint(path: string): Promise<ReplayCheckpoint | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    // A directory can never be written over with a checkpoint (a rename onto a directory fails).
    if (code === 'EISDIR') throw new CheckpointError(`${path} is a directory: name a file`);
    throw error;
  }
  let parsed: ReplayCheckpoint;
  try {
    parsed = JSON.parse(text) as ReplayCheckpoint;
  } catch {
    throw new CheckpointError(`${path} is not a replay checkpoint (not JSON)`);
  }
  if (parsed?.version !== 1 || typeof parsed.range?.since !== 'string' || !('cursor' in parsed))
    throw new CheckpointError(`${path} is not a replay checkpoint`);
  return parsed;
}

/** `true` when `checkpoint` is for this range and destination. */
export function sameReplay(
  checkpoint: ReplayCheckpoint,
  range: ReplayRange,
  destination: { kind: string; target: string },
): boolean {
  const key = (r: ReplayRange) =>
    JSON.stringify([r.since, r.until, [...r.providers].sort(), r.campaign ?? null, r.type ?? null]);
  return (
    key(checkpoint.range) === key(range) &&
    checkpoint.destination.kind === destination.kind &&
    checkpoint.destination.target === destination.target
  );
}

/**
 * Writes the checkpoint whole or not at all: to a new file beside it, flushed to disk, then renamed over it (a
 * rename within a directory replaces the file at once), and the directory flushed so the rename survives a
 * crash. A crash at any point leaves the previous checkpoint or the new one, never a torn one.
 */
export async function writeCheckpoint(path: string, checkpoint: ReplayCheckpoint): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temporary, 'w', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(checkpoint)}\n`);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temporary, { force: true });
    throw error;
  }
  await handle.close();
  await rename(temporary, path);
  const directory = await open(dirname(path), 'r').catch(() => undefined);
  await directory?.sync().catch(() => undefined);
  await directory?.close();
}
