import { hash } from 'node:crypto';

/**
 * Serializes a JSON value with object keys sorted, so that two deliveries of the same payload whose keys come
 * in another order give the same string. With `omitNulls`, object members whose value is `null` are left out
 * at every depth, for payloads where a field "marked null may be omitted entirely" (absent and `null` then
 * serialize alike); `null` inside an array keeps its place.
 */
export function canonicalJson(value: unknown, options: { omitNulls?: boolean } = {}): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item, options)).join(',')}]`;
  const object = value as Record<string, unknown>;
  const entries = Object.keys(object)
    .filter((key) => !(options.omitNulls && object[key] === null))
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key], options)}`);
  return `{${entries.join(',')}}`;
}

/**
 * Builds a record id from the fields that identify an event across retries. The parts are hashed (SHA-256,
 * 128 bits kept) so ids are short, fixed-length and free of delimiter collisions (`["a#b","c"]` and
 * `["a","b#c"]` differ).
 *
 * @returns `<provider>_<32 hex chars>`
 */
export function buildRecordId(provider: string, parts: readonly (string | null)[]): string {
  const digest = hash('sha256', JSON.stringify([provider, ...parts]), 'hex');
  return `${provider}_${digest.slice(0, 32)}`;
}

/**
 * Builds the id of a quarantined delivery from its raw bytes: the only thing known to be stable about a body
 * the schemas do not understand.
 *
 * @returns `<provider>_q_<32 hex chars>`
 */
export function buildQuarantineId(provider: string, raw: Uint8Array): string {
  const digest = hash('sha256', raw, 'hex');
  return `${provider}_q_${digest.slice(0, 32)}`;
}
