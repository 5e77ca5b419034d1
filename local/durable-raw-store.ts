import { dirname, join } from 'node:path';
import type { RawStore } from '../lib/blobs/raw-store';
import { rawKeyOf } from './file-raw-store';
import { ensurePrivateDir, writePrivateFileAtomic } from './private-files';

/**
 * The local stack's raw-body store: files under `DATA_DIR/raw`, keyed like the deployed bucket's objects. A body
 * is flushed to disk before its reference is queued, since the 202 promises it, and readable by the owner only.
 */
export class DurableFileRawStore implements RawStore {
  constructor(private readonly root: string) {}

  async put(provider: string, raw: Uint8Array): Promise<string> {
    const key = rawKeyOf(provider, raw);
    const path = join(this.root, key);
    await ensurePrivateDir(dirname(path));
    await writePrivateFileAtomic(path, raw);
    return `file://${key}`;
  }
}
