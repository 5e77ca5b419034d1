import { mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensurePrivateDir } from '../../local/private-files';

describe('ensurePrivateDir', () => {
  it('creates a folder for its owner only, and narrows one made beforehand that others could look in', async () => {
    const root = mkdtempSync(join(tmpdir(), 'campaign-inbox-private-'));
    await ensurePrivateDir(join(root, 'new'));
    expect(statSync(join(root, 'new')).mode & 0o777).toBe(0o700);
    mkdirSync(join(root, 'made'), { mode: 0o755 });
    await ensurePrivateDir(join(root, 'made'));
    expect(statSync(join(root, 'made')).mode & 0o777).toBe(0o700);
  });
});
