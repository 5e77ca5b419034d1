/**
 * The version every provider's mapping had before records said which made them: a record or a queue message
 * without a `normalizer` was made by it.
 */
export const FIRST_NORMALIZER_VERSION = 1;

/**
 * What a label needs of a provider: its name and the version of its mapping (a provider's own fields, so that
 * any provider is one without records knowing what else a provider holds).
 */
export interface NormalizerSource {
  name: string;
  /** Absent for a provider whose mapping never changed: {@link FIRST_NORMALIZER_VERSION}. */
  normalizerVersion?: number | undefined;
}

/** @returns the label of the mapping that makes `provider`'s records now, `<name>@<version>` (e.g. `sori@1`). */
export function normalizerOf(provider: NormalizerSource): string {
  return `${provider.name}@${provider.normalizerVersion ?? FIRST_NORMALIZER_VERSION}`;
}

/** @returns the label of a record of `providerName` made before records said which mapping made them. */
export const firstNormalizer = (providerName: string) => `${providerName}@${FIRST_NORMALIZER_VERSION}`;

/** A normalizer label taken apart. */
export interface NormalizerLabel {
  provider: string;
  version: number;
}

/**
 * Reads a label as {@link normalizerOf} writes it.
 * @returns `undefined` when `label` is not `<name>@<positive integer>`.
 */
export function parseNormalizer(label: string): NormalizerLabel | undefined {
  const match = /^([a-z][a-z0-9-]{0,63})@([1-9]\d{0,8})$/.exec(label);
  if (!match) return undefined;
  return { provider: match[1] as string, version: Number(match[2]) };
}
