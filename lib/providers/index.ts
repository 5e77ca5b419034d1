import { adreform } from './adreform';
import { optimizely } from './optimizely';
import type { Provider } from './provider';
import { sori } from './sori';
import { symphony } from './symphony';

export type { Interpretation, Provider } from './provider';

const PROVIDERS: ReadonlyMap<string, Provider> = new Map(
  [sori, symphony, adreform, optimizely].map((provider) => [provider.name, provider]),
);

/** @returns the provider served under `/webhooks/<name>`, or `undefined` for a name this build does not know. */
export function findProvider(name: string): Provider | undefined {
  return PROVIDERS.get(name);
}

/** @returns the names of every provider this build knows. */
export function providerNames(): string[] {
  return [...PROVIDERS.keys()];
}

/** @returns every provider this build knows. */
export function allProviders(): Provider[] {
  return [...PROVIDERS.values()];
}
