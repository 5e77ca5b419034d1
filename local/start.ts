import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type AuthOverride, loadTableLayout, readAuthConfig } from '../lib/config';
import { createLogger } from '../lib/log';
import { allProviders, providerNames } from '../lib/providers';
import { type ProviderApps, parseProviderApps, signsWithHmac } from '../lib/providers/apps';
import { customProviderSecrets, registerCustomProviders } from '../lib/providers/declarative';
import { readSignalThresholds, type SignalThresholds } from '../lib/signals/thresholds';
import { credentialsWithApps, readAppKeys } from './app-keys';
import { DataDirBusyError, lockDataDir } from './data-dir-lock';
import { type DestinationsConfig, parseDestinations } from './destinations';
import { resolveDevSecret, resolveDevUrlTokens } from './dev-secret';
import { readLocalThrottles, STOP_BUDGET_MS, startLocalStack } from './local-stack';
import { ensurePrivateDir } from './private-files';
import { describeStorageError } from './storage-errors';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

function integer(name: string, fallback: number): number {
  const text = process.env[name];
  if (!text) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 65_535) {
    console.error(`${name} must be an integer from 0 to 65535, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
}

const port = integer('PORT', 3000);
const dataDir = resolve(process.env.DATA_DIR || '.data');

/**
 * Says in one line why the stack cannot start and exits with 1: a disk refusing writes is named as such (no
 * stack trace: nothing in the code is wrong).
 */
function cannotStart(error: unknown): never {
  const storage = describeStorageError(error);
  console.error(
    `campaign-inbox could not start: ${storage ? `DATA_DIR ${dataDir} cannot be written: ${storage}` : firstLine(error)}`,
  );
  process.exit(1);
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

// Taken before anything in DATA_DIR is touched: a second stack on it would corrupt the first one's data.
const lock = await ensurePrivateDir(dataDir)
  .then(() => lockDataDir(dataDir))
  .catch((error: unknown) => {
    if (error instanceof DataDirBusyError) {
      console.error(
        `campaign-inbox could not start: ${error.message}; stop it, or set DATA_DIR to another directory.`,
      );
      process.exit(2);
    }
    return cannotStart(error);
  });
const { secret, generated, tokens, generatedTokens } = await (async () => {
  const { secret, generated } = await resolveDevSecret(dataDir, process.env.SORI_SECRET_KEY);
  const { tokens, generated: generatedTokens } = await resolveDevUrlTokens(dataDir, process.env);
  return { secret, generated, tokens, generatedTokens };
})().catch(async (error: unknown) => {
  await lock.release().catch(() => undefined);
  return cannotStart(error);
});
let auth: Record<string, AuthOverride>;
let throttles: ReturnType<typeof readLocalThrottles>;
let destinations: DestinationsConfig | undefined;
let signals: SignalThresholds;
let providerApps: ProviderApps;
let appKeys: ReturnType<typeof readAppKeys>;
try {
  registerCustomProviders(process.env.CUSTOM_PROVIDERS);
  auth = readAuthConfig(process.env, providerNames());
  // After the configured providers are known: PROVIDER_THROTTLES may name them.
  destinations = parseDestinations(process.env.DESTINATIONS, { providers: providerNames() });
  signals = readSignalThresholds(process.env);
  providerApps = parseProviderApps(process.env.PROVIDER_APPS, providerNames(), (name) => signsWithHmac(name));
  appKeys = readAppKeys(process.env.APP_SECRET_KEYS, providerNames());
  // After the configured providers and apps are known: PROVIDER_THROTTLES may name them.
  throttles = readLocalThrottles(process.env, providerApps);
} catch (error) {
  console.error(`campaign-inbox could not start: ${(error as Error).message}`);
  await lock.release();
  process.exit(2);
}

/** Says why the stack cannot start, lets go of `DATA_DIR`, and exits with 2 (a setting to fix). */
async function refuse(why: string): Promise<never> {
  console.error(`campaign-inbox could not start: ${why}`);
  await lock.release();
  process.exit(2);
}

/**
 * The user's reaction module (`ON_EVENT_MODULE`), its default export run for each newly stored event of the
 * types and providers named (`ON_EVENT_TYPES`, `ON_EVENT_PROVIDERS`). A name no provider knows is refused: a
 * typo would otherwise leave the reaction silently never called.
 */
async function loadReaction() {
  const path = process.env.ON_EVENT_MODULE;
  if (!path) return undefined;
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(resolve(path)).href)) as { default?: unknown };
  } catch (error) {
    const reason = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
    return refuse(`ON_EVENT_MODULE ${path} could not be loaded: ${reason}`);
  }
  if (typeof module.default !== 'function') return refuse(`${path} has no default export function`);
  const list = (name: string) =>
    (process.env[name] ?? '')
      .split(',')
      .map((value) => value.trim())
      .filter(Boolean);
  const events = list('ON_EVENT_TYPES');
  const providers = list('ON_EVENT_PROVIDERS');
  const knownProviders = providerNames();
  const knownEvents = [...new Set(allProviders().flatMap((provider) => provider.events))];
  const unknownProvider = providers.find((name) => !knownProviders.includes(name));
  if (unknownProvider) {
    return refuse(
      `ON_EVENT_PROVIDERS names ${unknownProvider}, not a provider (${knownProviders.join(', ')})`,
    );
  }
  const unknownEvent = events.find((name) => !knownEvents.includes(name));
  if (unknownEvent) {
    return refuse(`ON_EVENT_TYPES names ${unknownEvent}, an event no provider sends (e.g. campaign.click)`);
  }
  return { run: module.default as (event: unknown) => unknown, events, providers, path };
}

const reaction = await loadReaction();

const stack = await startLocalStack({
  port,
  dataDir,
  lock,
  layout: loadTableLayout(),
  secret,
  previousSecret: process.env.SORI_PREVIOUS_SECRET_KEY,
  urlTokens: tokens,
  auth,
  credentials: credentialsWithApps(customProviderSecrets(process.env), appKeys, secret),
  providerApps,
  // Only when the environment names a throttle: the stack answers 429 past it, as the deployed stage would.
  ...(throttles ? { throttles } : {}),
  logger: createLogger('local', (process.env.LOG_LEVEL as 'info' | undefined) ?? 'warn'),
  onEvent: reaction,
  lake: ['1', 'true', 'yes'].includes((process.env.LAKE ?? '').trim().toLowerCase()),
  destinations,
  signals,
}).catch((error: unknown) => {
  if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    console.error(`campaign-inbox could not start: port ${port} is in use: set PORT to another one.`);
    process.exit(1);
  }
  return cannotStart(error);
});

console.log(`campaign-inbox is running (data in ${dataDir})

  Webhook URL:  ${stack.webhookUrl}
  Secret key:   ${secret}${generated ? '   (generated dev secret; set SORI_SECRET_KEY to choose one)' : ''}
${Object.entries(stack.webhookUrls)
  .filter(([provider]) => provider !== 'sori')
  .map(
    ([provider, url]) =>
      `  ${`${provider}:`.padEnd(13)} ${url}${generatedTokens.includes(provider) ? `   (set ${provider.toUpperCase()}_URL_TOKEN to choose the token)` : ''}`,
  )
  .join('\n')}
  Dashboard:    http://127.0.0.1:${stack.port}/${
    reaction
      ? `\n  Reaction:     ${reaction.path} for ${reaction.events.join(', ') || 'every event'}${reaction.providers.length ? ` of ${reaction.providers.join(', ')}` : ''}`
      : ''
  }
  Health:       http://127.0.0.1:${stack.port}/healthz

Try it:       npm run send
Query:        npm run events -- query
Ctrl-C stops everything; data stays in ${dataDir}.`);

/**
 * A signal this soon after the first is the same Ctrl-C: a terminal signals the whole process group, and npm
 * forwards what it got to the script it runs, which is this process when the shell runs the command in its place.
 */
const SAME_CTRL_C_MS = 1_000;
let stopping: number | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping !== undefined) {
      if (performance.now() - stopping < SAME_CTRL_C_MS) return;
      // Accepted deliveries are in the journal already: a second Ctrl-C, or a stop that hangs, may just exit.
      process.exit(130);
    }
    stopping = performance.now();
    setTimeout(() => {
      console.error('stop took too long; exiting (accepted deliveries are kept in the journal)');
      process.exit(1);
    }, STOP_BUDGET_MS + 500).unref();
    console.log('\nstopping…');
    stack.stop().then(
      () => {
        console.log('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        const storage = describeStorageError(error);
        console.error(`stopped with an error: ${storage ?? firstLine(error)}`);
        process.exit(1);
      },
    );
  });
}
