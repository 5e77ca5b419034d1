import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PRIVATE_FILE_MODE, syncDir } from './private-files';

/** What an append writes to: an open file, or a stand-in for one (a test's failing disk). */
export interface AppendFile {
  write(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number | null,
  ): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
}

/**
 * Writes all of `data` into `file` at `position` (`null`: at its end, for a file opened to append) and, unless
 * `flush` is `false`, flushes it to disk (fdatasync) before resolving. A write the disk takes only in part is
 * continued where it stopped: a journal line is on disk whole, or the call throws.
 * @throws the file system's error; part of `data` may then be in the file.
 */
export async function writeSynced(
  file: AppendFile,
  data: Buffer,
  position: number | null,
  flush = true,
): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const at = position === null ? null : position + written;
    written += (await file.write(data, written, data.length - written, at)).bytesWritten;
  }
  if (flush) await file.datasync();
}

/**
 * Appends `data` to the file at `path` (created readable by its owner only) and flushes it to disk, with the
 * directory entry that names it: a line once appended survives a crash or a power loss.
 * @throws the file system's error.
 */
export async function appendSynced(path: string, data: string): Promise<void> {
  const handle = await open(path, 'a', PRIVATE_FILE_MODE);
  try {
    await writeSynced(handle, Buffer.from(data), null);
  } finally {
    await handle.close();
  }
  // The file's own flush does not cover its name, which a first append has just created.
  await syncDir(dirname(path));
}
