import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { interpretSori, sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { signBody, verifySignature } from '../../lib/signature/verify-signature';
import { soriPayload } from '../support/deliveries';

const RECEIVED = '2026-01-01T00:00:00.000Z';

describe('signature check (property-based)', () => {
  it('accepts the HMAC of the body it was made for', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.string({ minLength: 1 }), (body, secret) => {
        expect(verifySignature(body, signBody(body, secret).toString('hex'), [secret])).toBe(true);
      }),
    );
  });

  it('never accepts a changed body', () => {
    const change = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({
        kind: fc.constant('append' as const),
        extra: fc.uint8Array({ minLength: 1, maxLength: 16 }),
      }),
      fc.record({ kind: fc.constant('truncate' as const), by: fc.integer({ min: 1, max: 16 }) }),
    );
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 2048 }),
        fc.string({ minLength: 1 }),
        change,
        (body, secret, c) => {
          const changed = Buffer.from(body);
          let tampered: Buffer;
          if (c.kind === 'flip') {
            const at = c.at % changed.length;
            changed[at] = (changed[at] ?? 0) ^ (1 << c.bit);
            tampered = changed;
          } else if (c.kind === 'append') {
            tampered = Buffer.concat([changed, c.extra]);
          } else {
            tampered = changed.subarray(0, Math.max(0, changed.length - c.by));
          }
          const header = signBody(body, secret).toString('hex');
          expect(verifySignature(tampered, header, [secret])).toBe(false);
        },
      ),
    );
  });

  it('never accepts a signature made with another secret', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 512 }),
        fc.string({ minLength: 1 }),
        fc.string({ minLength: 1 }),
        (body, a, b) => {
          fc.pre(a !== b);
          expect(verifySignature(body, signBody(body, a).toString('base64'), [b])).toBe(false);
        },
      ),
    );
  });
});

describe('schemas (property-based)', () => {
  const outcome = (payload: unknown) => {
    const result = interpretSori(payload, RECEIVED);
    if (result.ok) expect(result.record.id).toMatch(/^sori_[0-9a-f]{32}$/);
    else expect(typeof result.reason).toBe('string');
    return result;
  };

  it('never throw on any JSON value: a record or a quarantine reason', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => void outcome(value)),
      { numRuns: 500 },
    );
  });

  it('never throw on seed events with any field replaced by any JSON value', () => {
    const impression = soriPayload('impression');
    const fields = [...Object.keys(impression), 'event_type', 'campaign_id', 'extra'];
    fc.assert(
      fc.property(
        fc.constantFrom(...fields),
        fc.jsonValue(),
        (field, value) => void outcome({ ...impression, [field]: value }),
      ),
      { numRuns: 500 },
    );
  });

  it('never throw on any bytes: every authentic body becomes an event or a quarantine note', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 512 }),
          fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? '')),
        ),
        (raw) => {
          const message = buildQueueMessage(sori, raw, RECEIVED);
          expect(['event', 'quarantine']).toContain(message.kind);
          if (message.raw_encoding === 'base64')
            expect(Buffer.from(message.raw, 'base64')).toEqual(Buffer.from(raw));
          else expect(message.raw).toBe(Buffer.from(raw).toString('utf8'));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('event times (property-based)', () => {
  const two = (n: number) => String(n).padStart(2, '0');
  // An independent oracle: a calendar date-time is real when Date.UTC gives back the same components.
  const isReal = (y: number, mo: number, d: number, h: number, mi: number, s: number) => {
    if (mo < 1 || mo > 12 || h > 23 || mi > 59 || s > 59) return false;
    const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
    return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
  };

  it('accept a created_at exactly when it is a real date-time within 2000-01-01 to one day after receipt', () => {
    const impression = soriPayload('impression');
    const received = Date.parse(RECEIVED);
    fc.assert(
      fc.property(
        fc.integer({ min: 1990, max: 2030 }),
        fc.integer({ min: 0, max: 13 }),
        fc.integer({ min: 0, max: 32 }),
        fc.integer({ min: 0, max: 25 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 60 }),
        (y, mo, d, h, mi, s) => {
          const createdAt = `${y}-${two(mo)}-${two(d)}T${two(h)}:${two(mi)}:${two(s)}Z`;
          const at = Date.UTC(y, mo - 1, d, h, mi, s);
          const expected =
            isReal(y, mo, d, h, mi, s) && at >= Date.UTC(2000, 0, 1) && at <= received + 86_400_000;
          const result = interpretSori({ ...impression, created_at: createdAt }, RECEIVED);
          expect(result.ok).toBe(expected);
          if (result.ok) expect(result.record.created_at).toBe(new Date(at).toISOString());
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('retries (property-based)', () => {
  it('keep the record id of every current-format event whatever the new timestamp and the later receipt', () => {
    const names = ['impression', 'click', 'authentication', 'admin-material-created'] as const;
    fc.assert(
      fc.property(
        fc.constantFrom(...names),
        fc.date({
          min: new Date('2025-10-14T00:00:00Z'),
          max: new Date('2025-10-20T00:00:00Z'),
          noInvalidDate: true,
        }),
        fc.integer({ min: 0, max: 86_400_000 }),
        (name, timestamp, delay) => {
          const first = interpretSori(soriPayload(name), RECEIVED);
          const retry = interpretSori(
            { ...soriPayload(name), timestamp: timestamp.toISOString() },
            new Date(Date.parse(RECEIVED) + delay).toISOString(),
          );
          expect(first.ok && retry.ok && retry.record.id === first.record.id).toBe(true);
        },
      ),
    );
  });
});
