import { adreform } from './adreform';
import { optimizely } from './optimizely';
import type { Provider } from './provider';
import { sori } from './sori';
import { symphony } from './symphony';

export type { Interpretation, Provider } from './provider';

const BUILT_IN: ReadonlyMap<string, Provider> = new Map(
  [sori, symphony, adreform, optimizely].map((provider) => [provider.name, provider]),
);

/** The built-in providers, then those configured (see `registerCustomProviders`), in that order. */
const PROVIDERS = new Map<string, Provider>(BUILT_IN);

/** @returns the provider served under `/webhooks/<name>`, or `undefined` for a name this build does not know. */
export function findProvider(name: string): Provider | undefined {
  return PROVIDERS.get(name);
}

/** @returns the names of every provider this build knows: the built-in ones and those configured. */
export function providerNames(): string[] {
  return [...PROVIDERS.keys()];
}

/** @returns every provider this build knows. */
export function allProviders(): Provider[] {
  return [...PROVIDERS.values()];
}

/** @returns `true` for a provider whose code is part of this build (a configured one's name may not be one). */
export function isBuiltInProvider(name: string): boolean {
  return BUILT_IN.has(name);
}

/**
 * Makes `providers` the configured providers served besides the built-in ones, in place of any set before (a
 * process sets them once, when it starts; a test may set others).
 * @throws {Error} when one takes a built-in provider's name.
 */
export function setConfiguredProviders(providers: readonly Provider[]): void {
  const clash = providers.find((provider) => BUILT_IN.has(provider.name));
  if (clash) throw new Error(`${clash.name} is a built-in provider`);
  for (const name of PROVIDERS.keys()) if (!BUILT_IN.has(name)) PROVIDERS.delete(name);
  for (const provider of providers) PROVIDERS.set(provider.name, provider);
}
