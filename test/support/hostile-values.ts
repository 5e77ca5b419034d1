import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adreform } from '../../lib/providers/adreform';
import { optimizely } from '../../lib/providers/optimizely';
import type { Provider } from '../../lib/providers/provider';
import { sori } from '../../lib/providers/sori';
import { symphony } from '../../lib/providers/symphony';

const FIXTURES = join(import.meta.dirname, '../../examples/payloads');

/** A seed example payload, parsed. */
export const fixture = (provider: string, name: string) =>
  JSON.parse(readFileSync(join(FIXTURES, provider, `${name}.json`), 'utf8')) as Record<string, unknown>;

export const MIB = 1024 * 1024;

/** Every field a provider's schemas read, for one of its example payloads, as dot paths. */
export interface ProviderFields {
  provider: Provider;
  example: string;
  payload: Record<string, unknown>;
  paths: readonly string[];
  /**
   * A field the record id is built from, and a value of it for each `n`, to make deliveries that differ only
   * elsewhere distinct events; absent where the whole payload is the key.
   */
  id?: { path: string; value: (n: number) => string };
}

const SORI_ENTITY = ['id', 'name', 'tags', 'tags.0', 'image'];
const SORI_COMMON = [
  'account_id',
  'created_at',
  'timestamp',
  'device_id',
  'platform',
  'metadata',
  'metadata.session',
  'geolocation',
  'geolocation.viewer_country',
  'geolocation.viewer_region',
  'geolocation.viewer_city',
  'event_type',
  'campaign_id',
  'campaign_name',
  'material_id',
  'material_name',
];

export const PROVIDER_FIELDS: readonly ProviderFields[] = [
  {
    provider: sori,
    example: 'impression',
    payload: fixture('sori', 'impression'),
    id: { path: 'activity_id', value: (n) => `act_${n}` },
    paths: [
      'event',
      'activity_id',
      ...SORI_COMMON,
      'campaign',
      ...SORI_ENTITY.map((p) => `campaign.${p}`),
      'material',
      ...SORI_ENTITY.map((p) => `material.${p}`),
    ],
  },
  {
    provider: sori,
    example: 'authentication',
    payload: fixture('sori', 'authentication'),
    id: { path: 'account_id', value: (n) => `acc_${n}` },
    paths: ['event', ...SORI_COMMON],
  },
  {
    provider: sori,
    example: 'admin-material-created',
    payload: fixture('sori', 'admin-material-created'),
    id: { path: 'account_id', value: (n) => `acc_${n}` },
    paths: ['event', ...SORI_COMMON, 'material', ...SORI_ENTITY.map((p) => `material.${p}`)],
  },
  {
    provider: sori,
    example: 'legacy-click',
    payload: fixture('sori', 'legacy-click'),
    paths: [
      'event_type',
      'campaign_id',
      'campaign_name',
      'material_id',
      'material_name',
      'device_id',
      'platform',
      'timestamp',
    ],
  },
  {
    provider: symphony,
    example: 'campaign-updated',
    payload: fixture('symphony', 'campaign-updated'),
    paths: ['event', 'id', 'provider', 'type', 'reason', 'metadata', 'metadata.end_date', 'status'],
  },
  {
    provider: adreform,
    example: 'screenshot-set-approved',
    payload: fixture('adreform', 'screenshot-set-approved'),
    id: { path: 'id', value: (n) => `evt_${n}` },
    paths: [
      'id',
      'type',
      'created_at',
      'topic',
      'data',
      'data.object',
      'data.object.type',
      'data.object.id',
      'data.object.campaign_id',
      'data.object.status',
      'data.object.screenshots',
      'data.object.screenshots.0',
    ],
  },
  {
    provider: optimizely,
    example: 'bounce',
    payload: fixture('optimizely', 'bounce'),
    id: { path: 'id', value: (n) => `bounce_${n}` },
    paths: [
      'type',
      'id',
      'created',
      'recipientId',
      'clientId',
      'mailingId',
      'mailId',
      'mediaType',
      'category',
      'reason',
    ],
  },
];

/** A deep copy of `payload` with the value at `path` (dots between keys, digits for array items) replaced. */
export function withValue(payload: unknown, path: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(payload) as Record<string, unknown>;
  const keys = path.split('.');
  let target = copy as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) {
    const next = target[key];
    target[key] = typeof next === 'object' && next !== null ? next : {};
    target = target[key] as Record<string, unknown>;
  }
  target[keys.at(-1) as string] = value;
  return copy;
}

/**
 * The largest value a delivery of `provider` can carry in one field: 1 MiB where its body limit allows it (Ad
 * Reform), else its whole limit less room for the rest of the payload.
 */
export const largestValueBytes = (provider: Provider) =>
  Math.min(MIB, (provider.maxBodyBytes ?? MIB) - 8 * 1024);

/** A value made of one repeated letter, so that a reason quoting it would show a run of that letter. */
export const filler = (bytes: number, letter = 'Q') => letter.repeat(bytes);

/** `true` when `text` holds a run of `letter` long enough to be a quote of a {@link filler} value. */
export const quotes = (text: string, letter = 'Q') => text.includes(letter.repeat(32));

/** The shapes a hostile value takes in one field: a huge string, and huge strings where a string is not expected. */
export const hugeShapes = (bytes: number, letter = 'Q') =>
  [
    ['a string', filler(bytes, letter)],
    ['an array of one string', [filler(bytes, letter)]],
    ['an object with the string as key and value', { [filler(64, letter)]: filler(bytes - 64, letter) }],
  ] as const;

/** Values that look like structure to code that makes keys of them. */
export const STRUCTURAL_VALUES = ['__proto__', 'constructor', 'prototype', 'toString', 'a\u001fb', '\u001f'];
