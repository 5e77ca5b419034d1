import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_BODY_BYTES } from '../../lib/config';
import { allProviders } from '../../lib/providers';
import { interpretAdReform } from '../../lib/providers/adreform';
import { interpretOptimizely, optimizely } from '../../lib/providers/optimizely';
import { interpretSymphony, symphony, symphonyState } from '../../lib/providers/symphony';
import { MAX_REASON_LENGTH } from '../../lib/providers/validation';
import { ipAllowed } from '../../lib/receive/authenticate';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import {
  hugeShapes,
  MIB,
  PROVIDER_FIELDS,
  quotes,
  STRUCTURAL_VALUES,
  withValue,
} from '../support/hostile-values';

const fixture = (provider: string, name: string) =>
  JSON.parse(
    readFileSync(join(import.meta.dirname, '../../examples/payloads', provider, `${name}.json`), 'utf8'),
  ) as Record<string, unknown>;
const RECEIVED = '2026-01-01T00:00:00.000Z';

describe('Symphony', () => {
  it('normalizes a campaign event, keyed on its whole body (it has no event id or time)', () => {
    const result = interpretSymphony(fixture('symphony', 'campaign-updated'), RECEIVED);
    expect(result).toMatchObject({
      ok: true,
      record: {
        provider: 'symphony',
        event: 'campaign.updated',
        campaign_id: 'cmp_sym_0042',
        platform: 'symphony',
        created_at: RECEIVED,
      },
    });
    const again = interpretSymphony(fixture('symphony', 'campaign-updated'), '2026-01-02T00:00:00.000Z');
    expect(again.ok && result.ok && again.record.id).toBe(result.ok && result.record.id);
  });

  it('ranks states by lifecycle for the current-state item', () => {
    const rank = (name: string) => {
      const result = interpretSymphony(fixture('symphony', name), RECEIVED);
      return result.ok ? symphonyState(result.record)?.rank : undefined;
    };
    expect(rank('campaign-created')).toBeLessThan(rank('campaign-updated') ?? 0);
    expect(rank('campaign-updated')).toBeLessThan(rank('campaign-completed') ?? 0);
  });

  const stateOf = (payload: Record<string, unknown>) => {
    const result = interpretSymphony(payload, RECEIVED);
    if (!result.ok) throw new Error(result.reason);
    return symphonyState(result.record);
  };

  it('keeps its own status, type and reason over the same names in its free-form metadata, which it keeps too', () => {
    const completed = fixture('symphony', 'campaign-completed');
    const metadata = { status: 'DRAFT', type: 'other', reason: 'spoofed', end_date: '2025-12-31' };
    const result = interpretSymphony({ ...completed, metadata }, RECEIVED);
    expect(result).toMatchObject({
      ok: true,
      record: { metadata: { status: 'FINISHED', type: 'get_playlisted', reason: null, metadata } },
    });
    expect(stateOf({ ...completed, metadata })).toMatchObject({ rank: 5, fields: { status: 'FINISHED' } });
  });

  it('gives a delivery without a status of its own no rank, whatever its metadata says', () => {
    const created = fixture('symphony', 'campaign-created');
    expect(stateOf({ ...created, status: null, metadata: { status: 'FINISHED' } })).toMatchObject({
      rank: -1,
      fields: { status: null },
    });
  });

  it('moves the state by its status when its free-form metadata is too large to keep in the record', () => {
    const completed = fixture('symphony', 'campaign-completed');
    const raw = Buffer.from(JSON.stringify({ ...completed, metadata: { note: 'n'.repeat(200_000) } }));
    const message = buildQueueMessage(symphony, raw, RECEIVED);
    if (message.kind !== 'event') throw new Error(message.record.reason);
    expect(message.record.metadata).toEqual({ status: 'FINISHED', type: 'get_playlisted', reason: null });
    expect(symphonyState(message.record)).toMatchObject({ rank: 5, fields: { status: 'FINISHED' } });
  });

  it.each(STRUCTURAL_VALUES)(
    'ranks a status of %j lowest, as a number, and keeps it as a value',
    (status) => {
      const state = stateOf({ ...fixture('symphony', 'campaign-updated'), status });
      expect(state?.rank).toBe(-1);
      expect(state?.fields.status).toBe(status);
    },
  );

  it('quarantines unknown events and missing ids', () => {
    expect(interpretSymphony({ event: 'campaign.deleted', id: 'x' }, RECEIVED)).toEqual({
      ok: false,
      reason: 'unknown event "campaign.deleted"',
    });
    expect(interpretSymphony({ event: 'campaign.created' }, RECEIVED).ok).toBe(false);
  });
});

describe('Ad Reform', () => {
  it('keys on the event id and normalizes the screenshot set', () => {
    const payload = fixture('adreform', 'screenshot-set-approved');
    const result = interpretAdReform(payload, RECEIVED);
    expect(result).toMatchObject({
      ok: true,
      record: {
        event: 'screenshot_set.approved',
        activity_id: 'evt_6f1c2b1e-6c0a-4a8e-9d9e-2f1f7f0a4b11',
        campaign_id: 'uuid-of-campaign',
        material_id: 'uuid-of-screenshot-set',
        created_at: '2023-01-01T15:52:11.822Z',
        metadata: { status: 'approved', screenshots: 2 },
      },
    });
    const changed = interpretAdReform({ ...payload, data: { object: { campaign_id: 'other' } } }, RECEIVED);
    expect(changed.ok && result.ok && changed.record.id).toBe(result.ok && result.record.id);
  });

  it('quarantines an unknown topic and an id that is not an event id', () => {
    const payload = fixture('adreform', 'screenshot-set-approved');
    expect(interpretAdReform({ ...payload, topic: 'ad.deleted' }, RECEIVED)).toEqual({
      ok: false,
      reason: 'unknown topic "ad.deleted"',
    });
    expect(interpretAdReform({ ...payload, id: 'abc' }, RECEIVED).ok).toBe(false);
  });

  it('quarantines a created_at that is no calendar date-time, or outside 2000 to one day after receipt', () => {
    const payload = fixture('adreform', 'screenshot-set-approved');
    expect(interpretAdReform({ ...payload, created_at: '2023-02-30T10:52:11.822-05:00' }, RECEIVED)).toEqual({
      ok: false,
      reason: 'invalid Ad Reform event: created_at: expected a real calendar date-time',
    });
    expect(interpretAdReform({ ...payload, created_at: '9999-12-31T23:59:59.999-14:00' }, RECEIVED)).toEqual({
      ok: false,
      reason:
        'invalid Ad Reform event: created_at +010000-01-01T13:59:59.999Z is after 2026-01-02T00:00:00.000Z (one day after it was received)',
    });
  });
});

describe('Optimizely Campaign', () => {
  it('normalizes the bounce, `created` in epoch milliseconds', () => {
    expect(interpretOptimizely(fixture('optimizely', 'bounce'), RECEIVED)).toMatchObject({
      ok: true,
      record: {
        event: 'email.bounce',
        created_at: '2021-03-30T12:49:35.391Z',
        account_id: '10180860001',
        campaign_id: '10230355206',
        material_id: '4P6W8B4-4P6W0LI-BSLXEC',
        device_id: 'john.smith@example.com',
        platform: 'EMAIL',
        metadata: { category: 'softbounce', reason: 'other' },
      },
    });
  });

  it.each(['sent', 'open', 'click', 'unsubscribe'])('understands %s', (type) => {
    expect(interpretOptimizely({ ...fixture('optimizely', 'bounce'), type }, RECEIVED)).toMatchObject({
      ok: true,
      record: { event: `email.${type}` },
    });
  });

  it('quarantines a created beyond one day after receipt: epoch milliseconds can reach year 275760', () => {
    expect(interpretOptimizely({ ...fixture('optimizely', 'bounce'), created: 8.64e15 }, RECEIVED)).toEqual({
      ok: false,
      reason:
        'invalid Optimizely event: created +275760-09-13T00:00:00.000Z is after 2026-01-02T00:00:00.000Z (one day after it was received)',
    });
  });

  it('quarantines a created before 2000, such as epoch seconds sent for milliseconds', () => {
    expect(
      interpretOptimizely({ ...fixture('optimizely', 'bounce'), created: 1617108575 }, RECEIVED),
    ).toEqual({
      ok: false,
      reason: 'invalid Optimizely event: created 1970-01-19T17:11:48.575Z is before 2000-01-01T00:00:00.000Z',
    });
  });

  /** A bounce whose `field` is written as the integer literal `digits`, which JSON.stringify cannot write. */
  const bounceWith = (field: string, digits: string) =>
    Buffer.from(
      JSON.stringify({ ...fixture('optimizely', 'bounce'), [field]: 0 }).replace(
        `"${field}":0`,
        `"${field}":${digits}`,
      ),
    );

  it.each([
    ['recipientId', 'device_id'],
    ['clientId', 'account_id'],
    ['mailingId', 'campaign_id'],
    ['mailId', 'material_id'],
  ] as const)(
    'keeps a %s above 2^53 exact, as written: two that differ only there stay two',
    (field, recordField) => {
      const [a, b] = ['9007199254740993', '9007199254740992'].map((digits) =>
        buildQueueMessage(optimizely, bounceWith(field, digits), RECEIVED),
      );
      expect(a?.kind === 'event' && a.record[recordField]).toBe('9007199254740993');
      expect(b?.kind === 'event' && b.record[recordField]).toBe('9007199254740992');
      const negative = buildQueueMessage(optimizely, bounceWith(field, '-123456789012345678901'), RECEIVED);
      expect(negative.kind === 'event' && negative.record[recordField]).toBe('-123456789012345678901');
    },
  );

  it('quarantines an id above 2^53 whose digits it cannot read as written, rather than round it', () => {
    const result = interpretOptimizely(
      { ...fixture('optimizely', 'bounce'), mailingId: 2 ** 53 + 2 },
      RECEIVED,
    );
    expect(result).toEqual({
      ok: false,
      reason: 'invalid Optimizely event: mailingId: expected a string, or an integer JSON keeps exactly',
    });
    const exponent = buildQueueMessage(optimizely, bounceWith('mailingId', '1e300'), RECEIVED);
    expect(exponent.kind === 'quarantine' && exponent.record.reason).toContain('mailingId');
  });

  it('reads ids up to 2^53 as before: the number written as its digits', () => {
    expect(
      buildQueueMessage(optimizely, bounceWith('mailingId', '9007199254740991'), RECEIVED),
    ).toMatchObject({
      kind: 'event',
      record: { campaign_id: '9007199254740991' },
    });
  });

  it('quarantines a created that is not epoch milliseconds', () => {
    expect(
      interpretOptimizely({ ...fixture('optimizely', 'bounce'), created: '2021-03-30' }, RECEIVED).ok,
    ).toBe(false);
  });
});

describe('providers', () => {
  it('each declare an authentication, and the three without a documented signature take a URL token', () => {
    expect(Object.fromEntries(allProviders().map((p) => [p.name, p.auth.scheme.kind]))).toEqual({
      sori: 'hmac',
      symphony: 'url-token',
      adreform: 'url-token',
      optimizely: 'url-token',
    });
  });
});

describe('body limits', () => {
  it('are 256 KiB for the providers of small JSON events and 4 MiB for Ad Reform, all within the default ceiling', () => {
    expect(Object.fromEntries(allProviders().map((p) => [p.name, p.maxBodyBytes]))).toEqual({
      sori: 262_144,
      symphony: 262_144,
      adreform: 4_194_304,
      optimizely: 262_144,
    });
    for (const provider of allProviders())
      expect(provider.maxBodyBytes ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(DEFAULT_MAX_BODY_BYTES);
  });
});

describe('ipAllowed', () => {
  it.each([
    ['193.169.180.1', ['193.169.180.1'], true],
    ['193.169.180.2', ['193.169.180.1'], false],
    ['193.169.180.2', ['193.169.180.0/24'], true],
    ['193.169.181.2', ['193.169.180.0/24'], false],
    ['::ffff:127.0.0.1', ['127.0.0.0/8'], true],
    ['::1', ['::1'], true],
    [undefined, ['0.0.0.0/0'], false],
    ['10.0.0.1', ['10.0.0.0/33'], false],
  ] as const)('%s in %j → %s', (address, allowed, expected) => {
    expect(ipAllowed(address, allowed)).toBe(expected);
  });
});

describe('quarantine reasons', () => {
  const cases = PROVIDER_FIELDS.flatMap(({ provider, example, payload, paths }) =>
    paths.map((path) => ({ name: provider.name, provider, example, payload, path })),
  );

  it.each(cases)(
    '$name $example: a 1 MiB value at $path is refused, if at all, naming the field, quoting none of it, within 500 characters',
    ({ provider, payload, path }) => {
      for (const [, value] of hugeShapes(MIB)) {
        const result = provider.interpret(withValue(payload, path, value), RECEIVED);
        if (result.ok) continue;
        expect(result.reason.length).toBeLessThanOrEqual(MAX_REASON_LENGTH);
        expect(quotes(result.reason)).toBe(false);
        expect(result.reason).toContain(path.split('.').at(-1));
      }
    },
  );

  it("names Ad Reform's `type` rule and what kind of value came, not the value", () => {
    const payload = fixture('adreform', 'screenshot-set-approved');
    expect(interpretAdReform({ ...payload, type: 'x'.repeat(MIB / 2) }, RECEIVED)).toEqual({
      ok: false,
      reason: 'invalid Ad Reform event: type: expected "event", received a string',
    });
    expect(interpretAdReform({ ...payload, type: 7 }, RECEIVED)).toEqual({
      ok: false,
      reason: 'invalid Ad Reform event: type: expected "event", received a number',
    });
  });

  it('describes a wrong type by its kind: an array, an object, a boolean', () => {
    const bounce = fixture('optimizely', 'bounce');
    const reason = (mediaType: unknown) => {
      const result = interpretOptimizely({ ...bounce, mediaType }, RECEIVED);
      return result.ok ? undefined : result.reason;
    };
    expect(reason(['EMAIL'])).toBe('invalid Optimizely event: mediaType: expected string, received an array');
    expect(reason({ EMAIL: 1 })).toBe(
      'invalid Optimizely event: mediaType: expected string, received an object',
    );
    expect(reason(true)).toBe('invalid Optimizely event: mediaType: expected string, received a boolean');
  });

  it('quotes an unknown event name only when it is a plain name, and describes any other', () => {
    const symphonyEvent = (event: string) => {
      const result = interpretSymphony({ ...fixture('symphony', 'campaign-created'), event }, RECEIVED);
      return result.ok ? undefined : result.reason;
    };
    expect(symphonyEvent('campaign.deleted')).toBe('unknown event "campaign.deleted"');
    for (const name of ['campaign deleted', 'x'.repeat(65), '=HYPERLINK("x")', 'a\u001fb', 'a\nb', 'é'])
      expect(symphonyEvent(name)).toBe('unknown event: not a known event name');
  });
});
