import { describe, expect, it } from 'vitest';
import { buildRecordId, canonicalJson } from '../../lib/events/record-id';
import { interpretSori } from '../../lib/providers/sori';
import { type SoriFixture, soriPayload } from '../support/deliveries';

const RECEIVED = '2026-01-01T00:00:00.000Z';
const idOf = (payload: unknown, receivedAt = RECEIVED) => {
  const result = interpretSori(payload, receivedAt);
  if (!result.ok) throw new Error(result.reason);
  return result.record.id;
};

describe('record ids', () => {
  it.each<SoriFixture>(['impression', 'click', 'authentication', 'admin-material-created'])(
    'a retried %s, received later with a new timestamp, keeps its id',
    (name) => {
      // timestamp is the "delivery timestamp appended just before dispatch": each retry carries a new one.
      const first = soriPayload(name);
      const retry = { ...first, timestamp: '2025-10-14T05:29:59.000Z' };
      expect(idOf(retry, '2026-01-01T00:00:42.000Z')).toBe(idOf(first));
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

  it('keys a legacy event on its whole payload, timestamp included (its document: "using the timestamp")', () => {
    const legacy = soriPayload('legacy-impression');
    expect(idOf({ ...legacy }, '2026-01-01T00:00:42.000Z')).toBe(idOf(legacy));
    expect(idOf({ ...legacy, timestamp: '2024-01-01T12:00:01Z' })).not.toBe(idOf(legacy));
    expect(idOf(soriPayload('legacy-click'))).not.toBe(idOf(legacy));
  });

  it('gives a legacy delivery the same id whether its empty fields are null or absent', () => {
    // "Fields marked with null may be omitted entirely when no value is available."
    const legacy = soriPayload('legacy-click');
    const { device_id: _, platform: __, ...absent } = legacy;
    const nulled = { ...legacy, device_id: null, platform: null, material_id: null };
    expect(idOf(nulled)).toBe(idOf(absent));
    expect(idOf({ ...absent, material_name: null }, '2026-01-01T00:00:04.000Z')).toBe(idOf(absent));
    expect(idOf(absent)).not.toBe(idOf(legacy));
  });

  it('is short and free of delimiter collisions', () => {
    expect(buildRecordId('sori', ['a#b', 'c'])).not.toBe(buildRecordId('sori', ['a', 'b#c']));
    expect(buildRecordId('sori', ['x'])).toMatch(/^sori_[0-9a-f]{32}$/);
  });
});

describe('record ids of authentication events', () => {
  // Two people who sign in to one account in the same millisecond, with no device id: the query parameters
  // of their authentication requests (metadata), their platform and GeoIP location tell them apart.
  const { device_id: _, ...login } = soriPayload('authentication');

  it('keeps two logins without device_id apart: same account and created_at, other users', () => {
    const alice = { ...login, metadata: { app_version: '1.8.0', user_id: 'alice' } };
    const bob = { ...login, metadata: { app_version: '1.8.0', user_id: 'bob' } };
    expect(idOf(alice)).not.toBe(idOf(bob));
    expect(idOf({ ...login, platform: 'iOS' })).not.toBe(idOf(login));
    expect(idOf({ ...login, geolocation: { viewer_country: 'Japan' } })).not.toBe(idOf(login));
  });

  it('collapses the retries of a login without device_id: received later, timestamp re-stamped', () => {
    const retry = {
      ...login,
      timestamp: '2025-10-14T05:16:14.100Z',
      metadata: { session: 'abcd-1234', app_version: '1.8.0' },
    };
    expect(idOf(retry, '2026-01-01T00:00:30.000Z')).toBe(idOf(login));
    expect(idOf({ ...retry, device_id: null, platform: 'Android' }, '2026-01-01T00:01:30.000Z')).toBe(
      idOf(login),
    );
  });

  it('tells apart two logins whose metadata differ only in a member named __proto__ or constructor', () => {
    // JSON.parse makes such members own data members, as a sender means them.
    const withMetadata = (members: string) =>
      JSON.parse(JSON.stringify(login).replace(/"metadata":\{[^}]*\}/, `"metadata":{${members}}`));
    const ids = ['"__proto__":"a"', '"__proto__":"b"', '"constructor":"a"', '"constructor":{"a":1}', ''].map(
      (members) => idOf(withMetadata(members)),
    );
    expect(new Set(ids).size).toBe(ids.length);
    expect(idOf(withMetadata('"__proto__":"a","x":1'))).toBe(idOf(withMetadata('"x":1,"__proto__":"a"')));
  });

  it('gives a login the same id whether its empty fields are null or absent', () => {
    const { platform: _p, geolocation: _g, ...bare } = login;
    expect(idOf({ ...bare, platform: null, geolocation: null, device_id: '' })).toBe(idOf(bare));
    expect(idOf({ ...login, metadata: { ...(login.metadata as object), ref: null } })).toBe(idOf(login));
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every depth and keeps arrays in order', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, 1], c: null } })).toBe('{"a":{"c":null,"d":[2,1]},"b":1}');
  });

  it('writes members named __proto__ and constructor as members, and a unit separator as a character', () => {
    const parsed = JSON.parse('{"constructor":1,"__proto__":{"b":2},"a\\u001f":null}');
    expect(canonicalJson(parsed)).toBe('{"__proto__":{"b":2},"a\\u001f":null,"constructor":1}');
  });

  it('drops null members at every depth when asked, and keeps nulls in arrays in place', () => {
    expect(canonicalJson({ b: null, a: { c: null, d: [null, 1] } }, { omitNulls: true })).toBe(
      '{"a":{"d":[null,1]}}',
    );
  });
});
