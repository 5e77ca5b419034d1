import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const DEV_SECRET_FILE = 'dev-secret';

/**
 * The local stack's SORI secret: `SORI_SECRET_KEY` when set, else one generated on first start and kept in
 * `DATA_DIR` so the URL and secret pasted into a sender stay valid across restarts.
 */
export async function resolveDevSecret(
  dataDir: string,
  fromEnv: string | undefined,
): Promise<{ secret: string; generated: boolean }> {
  if (fromEnv) return { secret: fromEnv, generated: false };
  const file = join(dataDir, DEV_SECRET_FILE);
  const saved = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (saved) return { secret: saved, generated: true };
  const secret = `dev_${randomBytes(24).toString('hex')}`;
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return { secret, generated: true };
}

/** @returns the secret `npm start` uses for `dataDir`, for tools that sign local deliveries. */
export async function readDevSecret(dataDir: string): Promise<string | undefined> {
  const saved = (await readFile(join(dataDir, DEV_SECRET_FILE), 'utf8').catch(() => '')).trim();
  return saved || undefined;
}
