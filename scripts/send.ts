import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { findProvider, providerNames } from '../lib/providers';
import { registerCustomProviders } from '../lib/providers/declarative';
import type { Provider } from '../lib/providers/provider';
import { invocation, isEntry, reportFailure, runAsEntry, UsageError } from './entry';
import { dataDir, findRunningStack, localSecret } from './local-stack-file';
import { inClone, noLocalStack } from './local-target';
import { signatureHeaders } from './sign-delivery';
import { forTerminal } from './terminal-text';

const usage = () => `Usage: ${invocation('send')} [options]

Signs deliveries with the secret key and posts them, as the provider does (SORI by default).

  --url <url>        webhook URL (default: the local stack's URL for the provider)
  --provider <name>  sori (default), symphony, adreform or optimizely: which seed examples, how to sign;
                     or a provider CUSTOM_PROVIDERS configures, signed as its scheme declares (with --file)
  --secret <key>     secret_key to sign with (env SORI_SECRET_KEY, or <NAME>_SECRET_KEY for a configured
                     provider, e.g. ACME_ADS_SECRET_KEY; default for sori: the local dev secret)
  --file <path>      a payload to send as it is, byte for byte, signed over its bytes (repeatable;
                     default: the provider's example payloads); sent twice, it is stored once, and a
                     date the receiver refuses lands in the quarantine
  --now              set the payloads' event times to now before signing, as the examples get by default
                     (with --file: re-stamp the files, and fill the legacy "string" placeholders)
  --repeat <n>       deliver each payload n times, like SORI's retries (default 1); retries of
                     current-format events carry a new "timestamp", as SORI's do
  --concurrent       send the repeats of a payload at the same time instead of one after another
  --encoding <enc>   signature encoding: hex (default) or base64, unless the provider's scheme names one
  --prefix           prefix the signature with "sha256=", unless the provider's scheme names a prefix
  --keep-dates       send the example payloads verbatim too; by default their event times are set to now
                     (so the dashboard's today shows them) and the legacy examples' "string" placeholders
                     get realistic values
  --json             one JSON object per delivery: file, attempt, HTTP status and the response's body

Exit codes: 0 every delivery accepted, 1 one or more refused or failed, 2 usage error.
`;

/**
 * The example payloads, one folder per provider: beside the CLI bundle (`dist/examples`, where the package build
 * copies them), else the repository's `examples/payloads`.
 */
const EXAMPLES = [
  join(import.meta.dirname, 'examples'),
  resolve(import.meta.dirname, '../examples/payloads'),
].find((folder) => existsSync(folder));

async function payloadFiles(provider: string, files: string[] | undefined): Promise<string[]> {
  if (files && files.length > 0) return files.map((file) => resolve(file));
  if (!EXAMPLES) throw new Error('no example payloads found: pass --file');
  const folder = join(EXAMPLES, provider);
  if (!existsSync(folder)) throw new UsageError(`no example payloads for ${provider}: pass --file <payload>`);
  const names = (await readdir(folder)).filter((name) => name.endsWith('.json')).sort();
  return names.map((name) => join(folder, name));
}

/** What is posted: a payload serialized here, or a file's own bytes. */
type Body = string | Uint8Array;

/**
 * A retry as SORI sends it: same event, `timestamp` "appended just before dispatch". Others, and a body that is
 * not a JSON object, repeat the body as it is.
 */
function asRetry(provider: string, body: Body): Body {
  if (provider !== 'sori') return body;
  const payload = jsonObject(body);
  if (!payload || typeof payload.event !== 'string' || !('timestamp' in payload)) return body;
  return JSON.stringify({ ...payload, timestamp: new Date().toISOString() });
}

/** The body read as a JSON object, `undefined` when it is not one. */
function jsonObject(body: Body): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(typeof body === 'string' ? body : Buffer.from(body).toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Realistic values for the legacy examples, whose documented payloads say "string" for every field. */
const LEGACY_VALUES: Record<string, string> = {
  material_id: 'mat_2001',
  material_name: 'Radio Spot 30s',
  campaign_id: 'cmp_legacy_01',
  campaign_name: 'Winter Sale',
  device_id: 'device_legacy_7',
  platform: 'iOS',
};

/**
 * The payload as if it happened now: each provider's event-time field set to `now` (SORI's `created_at` and
 * `timestamp`, Ad Reform's `created_at`, Optimizely's `created` in epoch ms; Symphony has none), and the
 * legacy examples' placeholders replaced.
 */
export function stampNow(provider: string, payload: Record<string, unknown>, now = new Date()) {
  const iso = now.toISOString();
  const stamped: Record<string, unknown> = { ...payload };
  if (provider === 'sori') {
    if ('created_at' in stamped) stamped.created_at = iso;
    if ('timestamp' in stamped) stamped.timestamp = iso;
    if ('event_type' in stamped) {
      for (const [field, value] of Object.entries(LEGACY_VALUES))
        if (stamped[field] === 'string') stamped[field] = value;
    }
  }
  if (provider === 'adreform' && 'created_at' in stamped) stamped.created_at = iso;
  if (provider === 'optimizely' && 'created' in stamped) stamped.created = now.getTime();
  return stamped;
}

/** A response body as JSON when it is JSON, else its text. */
function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The options of `send`, parsed and checked: a mistake in them is a usage error (exit code 2). */
function readOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      provider: { type: 'string', default: 'sori' },
      secret: { type: 'string' },
      file: { type: 'string', multiple: true },
      repeat: { type: 'string', default: '1' },
      concurrent: { type: 'boolean', default: false },
      encoding: { type: 'string', default: 'hex' },
      prefix: { type: 'boolean', default: false },
      'keep-dates': { type: 'boolean', default: false },
      now: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return { ...values, repeat: 1, encoding: 'hex' as const };
  const repeat = Number(values.repeat);
  if (!Number.isSafeInteger(repeat) || repeat < 1 || repeat > 100)
    throw new UsageError('--repeat must be an integer from 1 to 100');
  const encoding = values.encoding;
  if (encoding !== 'hex' && encoding !== 'base64') throw new UsageError('--encoding must be hex or base64');
  if (values.now && values['keep-dates'])
    throw new UsageError('--now sets the event times and --keep-dates keeps them: give one of them');
  return { ...values, repeat, encoding: encoding === 'base64' ? ('base64' as const) : ('hex' as const) };
}
type Options = ReturnType<typeof readOptions>;

/**
 * The provider named, among the built-in ones and those `CUSTOM_PROVIDERS` configures (read here, as `npm start`
 * and the deployed functions read it, so a name they serve is one `send` knows).
 */
function chosenProvider(name: string): Provider {
  if (process.env.CUSTOM_PROVIDERS !== undefined) registerCustomProviders(process.env.CUSTOM_PROVIDERS);
  const provider = findProvider(name);
  if (!provider) throw new UsageError(`unknown provider ${name}; known: ${providerNames().join(', ')}`);
  return provider;
}

/**
 * The environment variable holding a provider's secret, as `npm start` reads it: `SORI_SECRET_KEY`, and for a
 * configured provider its name upper-cased, hyphens as underscores (`ACME_ADS_SECRET_KEY`).
 */
const secretVariable = (provider: string) => `${provider.toUpperCase().replaceAll('-', '_')}_SECRET_KEY`;

/**
 * Where to post and what to sign with: `--url`, else the running local stack's URL for the provider; `--secret`,
 * else the provider's secret variable, else (SORI, on the local stack) the generated dev secret. A provider that
 * signs nothing (a URL token is in its URL) needs none.
 */
async function resolveTarget(provider: Provider, options: Options) {
  const running = await findRunningStack();
  const url = options.url ?? running?.webhookUrls?.[provider.name];
  if (!url) throw noLocalStack('--url <webhook URL>');
  if (provider.auth.scheme.kind !== 'hmac') return { url, secret: '' };
  const variable = secretVariable(provider.name);
  const fromEnv = process.env[variable] || undefined;
  const secret =
    options.secret ??
    (options.url ? fromEnv : (fromEnv ?? (provider.name === 'sori' ? await localSecret() : undefined)));
  if (!secret) {
    throw new Error(
      options.url
        ? `give the secret_key with --secret or ${variable}`
        : `no secret found in ${dataDir()}; pass --secret <key> or set ${variable}`,
    );
  }
  return { url, secret };
}

/** Posts one body to `url`, signed as the provider's scheme says; prints the answer. @returns `true` on a 2xx. */
async function deliver(
  provider: Provider,
  target: { url: string; secret: string },
  options: Options,
  delivery: { file: string; body: Body; attempt: number },
): Promise<boolean> {
  const { url, secret } = target;
  const { scheme } = provider.auth;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (scheme.kind === 'hmac') {
    const bytes = typeof delivery.body === 'string' ? Buffer.from(delivery.body) : delivery.body;
    const choices = { encoding: options.encoding, algorithmPrefix: options.prefix };
    Object.assign(headers, signatureHeaders(scheme, bytes, secret, choices));
  }
  const response = await fetch(url, { method: 'POST', headers, body: delivery.body }).catch(
    (error: unknown) => {
      throw unreachable(url, error);
    },
  );
  const text = await response.text();
  const name = basename(delivery.file);
  console.log(
    options.json
      ? JSON.stringify({ file: name, attempt: delivery.attempt, status: response.status, body: parsed(text) })
      : `${response.status} ${forTerminal(name)} #${delivery.attempt} ${forTerminal(text)}`,
  );
  return response.ok;
}

/**
 * The bodies one file is sent as: the first, then its retries. A file of one's own is a delivery as it stands:
 * its dates are part of the record's identity (SORI's retries keep them), so re-stamping would make every send
 * a new event; and its bytes are what is signed. The examples are there to light up today's dashboard, so they
 * are re-stamped unless told otherwise.
 */
async function bodiesOf(file: string, provider: string, options: Options): Promise<Body[]> {
  const bytes = await readFile(file);
  const ownFiles = (options.file?.length ?? 0) > 0;
  let original: Body = bytes;
  if (options.now || (!ownFiles && !options['keep-dates'])) {
    const payload = jsonObject(bytes);
    if (!payload) throw new Error(`cannot set the event times of ${basename(file)}: it is not a JSON object`);
    original = JSON.stringify(stampNow(provider, payload));
  }
  return Array.from({ length: options.repeat }, (_, i) => (i === 0 ? original : asRetry(provider, original)));
}

async function main(argv: string[]): Promise<number> {
  const options = readOptions(argv);
  if (options.help) {
    console.log(usage());
    return 0;
  }
  const provider = chosenProvider(options.provider);
  const files = await payloadFiles(provider.name, options.file);
  const target = await resolveTarget(provider, options);
  let failures = 0;
  for (const file of files) {
    const bodies = await bodiesOf(file, provider.name, options);
    const send = (body: Body, i: number) =>
      deliver(provider, target, options, { file, body, attempt: i + 1 });
    const results = options.concurrent
      ? await Promise.all(bodies.map(send))
      : await bodies.reduce<Promise<boolean[]>>(
          async (done, body, i) => [...(await done), await send(body, i)],
          Promise.resolve([]),
        );
    failures += results.filter((ok) => !ok).length;
  }
  return failures === 0 ? 0 : 1;
}

/**
 * A delivery that reached no server, in one line: where (the origin only: a URL-token provider's path is a
 * secret) and why. Only in a clone does it suggest `npm start`: a user's own app has no such script.
 */
function unreachable(url: string, error: unknown): Error {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const reason = cause?.code ?? cause?.message ?? (error as Error).message;
  const where = URL.canParse(url) ? new URL(url).origin : url;
  const hint =
    cause?.code === 'ECONNREFUSED'
      ? inClone()
        ? '; is the stack running? start it with "npm start"'
        : '; is its server running?'
      : '';
  return new Error(`could not post to ${where}: ${reason}${hint}`, { cause: error });
}

/** The tool: signs and posts the payloads. @returns the exit code (0 all accepted, 1 not, 2 usage error). */
export async function run(argv: string[]): Promise<number> {
  try {
    return await main(argv);
  } catch (error) {
    return reportFailure('send', error);
  }
}

if (isEntry(import.meta.url)) runAsEntry(run);
