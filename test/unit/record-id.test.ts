import { describe, expect, it } from 'vitest';
import { interpretSori } from '../../lib/providers/sori';
import { buildRecordId, canonicalJson } from '../../lib/records/record-id';
import { type SoriFixture, soriPayload } from '../support/deliveries';

const RECEIVED = '2026-01-01T00:00:00.000Z';
const idOf = (payload: unknown) => {
  const result = interpretSori(payload, RECEIVED);
  if (!result.ok) throw new Error(result.reason);
  return result.record.id;
};

describe('record ids', () => {
  it.each<SoriFixture>(['impression', 'click', 'authentication', 'admin-material-created'])(
    'a retried %s with a new timestamp keeps its id',
    (name) => {
      // Seed 001: timestamp is the "delivery timestamp appended just before dispatch".
      const first = soriPayload(name);
      const retry = { ...first, timestamp: '2025-10-14T05:29:59.000Z' };
      expect(idOf(retry)).toBe(idOf(first));
    },
  );

  it('keeps the impression and the click that share activity_id act_7890 apart', () => {
    const impression = soriPayload('impression');
    const click = soriPayload('click');
    expect(impression.activity_id).toBe(click.activity_id);
    expect(idOf(impression)).not.toBe(idOf(click));
    // Even were their created_at equal, the event name keeps them apart.
    expect(idOf({ ...click, created_at: impression.created_at })).not.toBe(idOf(impression));
  });

  it('gives two activities of one campaign two ids', () => {
    const impression = soriPayload('impression');
    expect(idOf({ ...impression, activity_id: 'act_7891' })).not.toBe(idOf(impression));
  });

  it('does not depend on the order of keys, nor on the legacy duplicate fields', () => {
    const impression = soriPayload('impression');
    const reordered = Object.fromEntries(Object.entries(impression).reverse());
    expect(idOf(reordered)).toBe(idOf(impression));
    expect(idOf({ ...impression, event_type: 'impression', campaign_id: 'cmp_1234' })).toBe(idOf(impression));
  });

  it('is the same for the same created_at written with another offset', () => {
    const impression = soriPayload('impression');
    expect(idOf({ ...impression, created_at: '2025-10-14T14:25:12.421+09:00' })).toBe(idOf(impression));
  });

  it('keys a legacy event on its whole payload, timestamp included (seed 000: "using the timestamp")', () => {
    const legacy = soriPayload('legacy-impression');
    expect(idOf({ ...legacy })).toBe(idOf(legacy));
    expect(idOf({ ...legacy, timestamp: '2024-01-01T12:00:01Z' })).not.toBe(idOf(legacy));
    expect(idOf(soriPayload('legacy-click'))).not.toBe(idOf(legacy));
  });

  it('is short and free of delimiter collisions', () => {
    expect(buildRecordId('sori', ['a#b', 'c'])).not.toBe(buildRecordId('sori', ['a', 'b#c']));
    expect(buildRecordId('sori', ['x'])).toMatch(/^sori_[0-9a-f]{32}$/);
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every depth and keeps arrays in order', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, 1], c: null } })).toBe('{"a":{"c":null,"d":[2,1]},"b":1}');
  });
});
