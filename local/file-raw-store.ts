import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { RawStore } from '../lib/blobs/raw-store';

/** The key a raw body is kept under, named as the deployed bucket's objects are: its provider and its hash. */
export const rawKeyOf = (provider: string, raw: Uint8Array) =>
  `raw/${provider}/${createHash('sha256').update(raw).digest('hex')}`;

/**
 * Raw bodies as files under a folder: the local stack's store when it keeps its data in memory (a temporary
 * folder, gone with the run, so nothing is flushed to disk).
 */
export class FileRawStore implements RawStore {
  constructor(private readonly root: string) {}

  async put(provider: string, raw: Uint8Array): Promise<string> {
    const key = rawKeyOf(provider, raw);
    const path = join(this.root, key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, raw);
    return `file://${key}`;
  }
}
