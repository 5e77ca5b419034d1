import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { allProviders } from '../lib/providers';
import { ensurePrivateDir, writePrivateFileAtomic } from './private-files';

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
  await ensurePrivateDir(dataDir);
  await writePrivateFileAtomic(file, `${secret}\n`);
  return { secret, generated: true };
}

/** @returns the secret `npm start` uses for `dataDir`, for tools that sign local deliveries. */
export async function readDevSecret(dataDir: string): Promise<string | undefined> {
  const saved = (await readFile(join(dataDir, DEV_SECRET_FILE), 'utf8').catch(() => '')).trim();
  return saved || undefined;
}

const DEV_TOKENS_FILE = 'dev-url-tokens.json';

/** The providers that authenticate by URL token unless configured otherwise. */
export const urlTokenProviders = () =>
  allProviders().filter((provider) => provider.auth.scheme.kind === 'url-token');

/**
 * The local stack's URL tokens: env `<PROVIDER>_URL_TOKEN` (e.g. `SYMPHONY_URL_TOKEN`) when set, else one
 * generated on first start and kept in `DATA_DIR`, so pasted URLs stay valid across restarts.
 * @returns provider → token, and which were generated.
 */
export async function resolveDevUrlTokens(
  dataDir: string,
  env: Record<string, string | undefined>,
): Promise<{ tokens: Record<string, string>; generated: string[] }> {
  const file = join(dataDir, DEV_TOKENS_FILE);
  const saved = JSON.parse(await readFile(file, 'utf8').catch(() => '{}')) as Record<string, string>;
  const tokens: Record<string, string> = {};
  const generated: string[] = [];
  for (const { name } of urlTokenProviders()) {
    const fromEnv = env[`${name.toUpperCase()}_URL_TOKEN`];
    if (fromEnv) {
      tokens[name] = fromEnv;
      continue;
    }
    tokens[name] = saved[name] ?? randomBytes(20).toString('hex');
    saved[name] = tokens[name];
    generated.push(name);
  }
  await ensurePrivateDir(dataDir);
  await writePrivateFileAtomic(file, `${JSON.stringify(saved, null, 2)}\n`);
  return { tokens, generated };
}
