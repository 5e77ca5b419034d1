import { describe, expect, it } from 'vitest';
import type { EventRecord } from '../../lib/events/event-record';
import { interpretSori } from '../../lib/providers/sori';
import { SORI_FIXTURES, type SoriFixture, soriPayload } from '../support/deliveries';

const RECEIVED = '2026-01-01T00:00:00.000Z';

function record(payload: unknown): EventRecord {
  const result = interpretSori(payload, RECEIVED);
  if (!result.ok) throw new Error(`not accepted: ${result.reason}`);
  return result.record;
}

function reason(payload: unknown): string {
  const result = interpretSori(payload, RECEIVED);
  if (result.ok) throw new Error('accepted, expected a quarantine reason');
  return result.reason;
}

describe('SORI schemas: every documented example', () => {
  it.each(SORI_FIXTURES)('accepts %s', (name) => {
    expect(interpretSori(soriPayload(name), RECEIVED).ok).toBe(true);
  });

  it('normalizes the documented impression', () => {
    expect(record(soriPayload('impression'))).toEqual({
      id: expect.stringMatching(/^sori_[0-9a-f]{32}$/),
      provider: 'sori',
      event: 'campaign.impression',
      account_id: 'acc_123456',
      campaign_id: 'cmp_1234',
      campaign_name: 'Fall Promotion',
      material_id: 'mat_5678',
      material_name: 'Audio Spot 15s',
      activity_id: 'act_7890',
      device_id: 'device_abc',
      platform: 'Android',
      created_at: '2025-10-14T05:25:12.421Z',
      received_at: RECEIVED,
      metadata: { session: 'abcd-1234' },
      geolocation: { viewer_country: 'United States', viewer_region: 'Michigan', viewer_city: 'Ann Arbor' },
    });
  });

  it('normalizes the authentication event with no campaign, material or activity', () => {
    const auth = record(soriPayload('authentication'));
    expect(auth).toMatchObject({
      event: 'authentication',
      device_id: 'device_abc',
      metadata: { app_version: '1.8.0' },
    });
    expect(auth.campaign_id).toBeNull();
    expect(auth.material_id).toBeNull();
    expect(auth.activity_id).toBeNull();
  });

  it('normalizes admin.material events with the material id', () => {
    expect(record(soriPayload('admin-material-created'))).toMatchObject({
      event: 'admin.material.created',
      material_id: 'mat_9012',
      campaign_id: null,
    });
  });

  it.each<[SoriFixture, string]>([
    ['legacy-impression', 'campaign.impression'],
    ['legacy-click', 'campaign.click'],
  ])('maps legacy %s to the canonical %s, its timestamp standing in for created_at', (name, canonical) => {
    const legacy = record(soriPayload(name));
    expect(legacy.event).toBe(canonical);
    expect(legacy.created_at).toBe('2024-01-01T12:00:00.000Z');
    expect(legacy.campaign_id).toBe('string');
  });
});

describe('SORI schemas: absent and null fields', () => {
  // SORI: "Fields marked with null may be omitted entirely when no value is available."
  const optional = ['device_id', 'platform', 'metadata', 'geolocation', 'material', 'timestamp'] as const;

  it.each(optional)('accepts %s absent and null alike', (field) => {
    const { [field]: _, ...absent } = soriPayload('impression');
    const nulled = { ...soriPayload('impression'), [field]: null };
    expect(record(absent)).toEqual(record(nulled));
  });

  it('accepts null inside campaign, material and geolocation', () => {
    const payload = {
      ...soriPayload('click'),
      campaign: { id: 'cmp_1234', name: null, tags: null, image: null },
      material: { id: null, name: null, tags: [], image: null },
      geolocation: { viewer_country: 'Unknown', viewer_region: null },
    };
    expect(record(payload)).toMatchObject({
      campaign_name: null,
      material_id: null,
      geolocation: { viewer_country: 'Unknown', viewer_region: null, viewer_city: null },
    });
  });

  it('takes the campaign id from the legacy duplicate when the campaign object is absent', () => {
    const { campaign: _, ...payload } = soriPayload('impression');
    expect(record({ ...payload, campaign_id: 'cmp_1234' }).campaign_id).toBe('cmp_1234');
  });
});

describe('SORI schemas: extra fields', () => {
  it('keeps unknown fields instead of rejecting them', () => {
    const payload = {
      ...soriPayload('impression'),
      new_top_level: { nested: true },
      campaign: { ...(soriPayload('impression').campaign as object), budget: 10 },
      event_type: 'impression',
      campaign_name: 'Fall Promotion',
    };
    expect(interpretSori(payload, RECEIVED).ok).toBe(true);
  });
});

describe('SORI schemas: what is quarantined, with the reason', () => {
  it.each<[string, unknown, string]>([
    ['an array', [soriPayload('impression')], 'payload is not a JSON object'],
    ['a string', 'campaign.impression', 'payload is not a JSON object'],
    ['a number', 42, 'payload is not a JSON object'],
    ['null', null, 'payload is not a JSON object'],
    ['no event name', { account_id: 'acc_1' }, 'no event or event_type field'],
    [
      'an unknown event',
      { ...soriPayload('impression'), event: 'campaign.share' },
      'unknown event "campaign.share"',
    ],
    [
      'an unknown legacy event',
      { ...soriPayload('legacy-click'), event_type: 'share' },
      'unknown event_type "share"',
    ],
    ['a non-string event', { ...soriPayload('impression'), event: 7 }, 'event: expected a string'],
  ])('quarantines %s', (_, payload, expected) => {
    expect(reason(payload)).toBe(expected);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['activity_id missing', { activity_id: undefined }, 'activity_id'],
    ['activity_id empty', { activity_id: '' }, 'activity_id'],
    ['created_at not a date', { created_at: 'yesterday' }, 'created_at'],
    ['created_at impossible', { created_at: '2025-13-45T99:00:00Z' }, 'created_at'],
    ['account_id a number', { account_id: 123 }, 'account_id'],
    ['metadata an array', { metadata: ['a'] }, 'metadata'],
    ['tags not strings', { campaign: { id: 'cmp_1', tags: [1] } }, 'campaign.tags'],
    ['no campaign id anywhere', { campaign: { name: 'x' } }, 'campaign.id'],
  ])('quarantines a campaign event with %s, naming the field', (_, change, field) => {
    const payload = { ...soriPayload('impression'), ...change };
    expect(reason(payload)).toContain(field);
  });

  it('quarantines a legacy event without a timestamp', () => {
    const { timestamp: _, ...payload } = soriPayload('legacy-impression');
    expect(reason(payload)).toContain('timestamp');
  });
});

describe('SORI schemas: event times', () => {
  // The time an event happened decides its day in every query, stat and dashboard: it must be a real
  // calendar date-time within [2000-01-01T00:00:00Z, received + 1 day], else the delivery is quarantined.
  const impression = soriPayload('impression');
  const legacy = soriPayload('legacy-impression');

  it.each([
    ['a day the month does not have', '2025-02-30T10:00:00Z'],
    ['29 February of a common year', '2025-02-29T10:00:00Z'],
    ['month 13', '2025-13-01T10:00:00Z'],
    ['month 00', '2025-00-10T10:00:00Z'],
    ['day 00', '2025-10-00T10:00:00Z'],
    ['hour 24', '2025-10-14T24:00:01Z'],
    ['minute 60', '2025-10-14T10:60:00Z'],
    ['second 60', '2025-10-14T10:00:60Z'],
    ['an offset of 24 hours', '2025-10-14T10:00:00+24:00'],
  ])('quarantines a created_at with %s, naming the field', (_, createdAt) => {
    expect(reason({ ...impression, created_at: createdAt })).toBe(
      'invalid campaign.impression: created_at: expected a real calendar date-time',
    );
  });

  it('accepts 29 February of a leap year', () => {
    expect(record({ ...impression, created_at: '2024-02-29T23:59:59.999+01:00' }).created_at).toBe(
      '2024-02-29T22:59:59.999Z',
    );
  });

  it('quarantines a created_at in year 9999 instead of storing it under a day no query reaches', () => {
    expect(reason({ ...impression, created_at: '9999-12-31T23:59:59.999-14:00' })).toBe(
      'invalid campaign.impression: created_at +010000-01-01T13:59:59.999Z is after 2026-01-02T00:00:00.000Z (one day after it was received)',
    );
  });

  it('quarantines a created_at before 2000-01-01T00:00:00Z and accepts that instant itself', () => {
    expect(reason({ ...impression, created_at: '1999-12-31T23:59:59.999Z' })).toBe(
      'invalid campaign.impression: created_at 1999-12-31T23:59:59.999Z is before 2000-01-01T00:00:00.000Z',
    );
    expect(record({ ...impression, created_at: '2000-01-01T09:00:00+09:00' }).created_at).toBe(
      '2000-01-01T00:00:00.000Z',
    );
  });

  it('accepts a created_at up to one day after the receive time, and measures from that time', () => {
    const dayAfter = '2026-01-02T00:00:00.000Z';
    expect(record({ ...impression, created_at: dayAfter }).created_at).toBe(dayAfter);
    const later = '2026-01-02T00:00:00.001Z';
    expect(reason({ ...impression, created_at: later })).toContain(`created_at ${later} is after`);
    expect(interpretSori({ ...impression, created_at: later }, '2026-01-01T00:00:00.001Z').ok).toBe(true);
  });

  it.each<SoriFixture>(['authentication', 'admin-material-created'])(
    'applies the same rule to %s',
    (name) => {
      expect(reason({ ...soriPayload(name), created_at: '2025-02-30T10:00:00Z' })).toContain(
        'created_at: expected a real calendar date-time',
      );
      expect(reason({ ...soriPayload(name), created_at: '2027-01-01T00:00:00Z' })).toContain(
        'created_at 2027-01-01T00:00:00.000Z is after',
      );
    },
  );

  it('applies the same rule to the legacy timestamp, which stands in for created_at', () => {
    expect(reason({ ...legacy, timestamp: '2025-02-30T10:00:00Z' })).toBe(
      'invalid legacy impression: timestamp: expected a real calendar date-time',
    );
    expect(reason({ ...legacy, timestamp: '1970-01-01T00:00:00Z' })).toBe(
      'invalid legacy impression: timestamp 1970-01-01T00:00:00.000Z is before 2000-01-01T00:00:00.000Z',
    );
  });
});
