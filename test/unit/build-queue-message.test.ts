import { describe, expect, it } from 'vitest';
import { sori } from '../../lib/providers/sori';
import { toAsciiJson } from '../../lib/queue/event-queue';
import { buildQueueMessage } from '../../lib/records/build-queue-message';
import { soriBody } from '../support/deliveries';

const RECEIVED = '2026-01-01T00:00:00.000Z';

describe('buildQueueMessage', () => {
  it('carries the normalized record and the raw body byte for byte', () => {
    const body = soriBody('click');
    const message = buildQueueMessage(sori, Buffer.from(body), RECEIVED);
    expect(message.kind).toBe('event');
    expect(message.raw).toBe(body);
    expect(message.raw_encoding).toBe('utf8');
  });

  it('quarantines invalid JSON without quoting the body in the reason', () => {
    const message = buildQueueMessage(sori, Buffer.from('{"event": "campaign.click", secret'), RECEIVED);
    expect(message.kind).toBe('quarantine');
    expect(message.record).toMatchObject({
      provider: 'sori',
      reason: expect.stringMatching(/^invalid JSON/),
    });
    expect(JSON.stringify(message.record)).not.toContain('secret');
  });

  it('quarantines a body that is not UTF-8 and keeps its bytes as base64', () => {
    const raw = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
    const message = buildQueueMessage(sori, raw, RECEIVED);
    expect(message).toMatchObject({
      kind: 'quarantine',
      raw_encoding: 'base64',
      record: { reason: 'body is not valid UTF-8' },
    });
    expect(Buffer.from(message.raw, 'base64')).toEqual(raw);
  });

  it('gives a redelivered unknown body the same quarantine id', () => {
    const raw = Buffer.from('{"event":"campaign.share"}');
    expect(buildQueueMessage(sori, raw, RECEIVED).record.id).toBe(
      buildQueueMessage(sori, raw, RECEIVED).record.id,
    );
    expect(buildQueueMessage(sori, raw, RECEIVED).record.id).toMatch(/^sori_q_[0-9a-f]{32}$/);
  });
});

describe('toAsciiJson', () => {
  it('escapes every non-ASCII character and parses back to the same value', () => {
    const value = { text: 'Fall 🍂 é \u0000 \u2028', lone: '\ud800' };
    const json = toAsciiJson(value);
    expect(json).toMatch(/^[\x20-\x7e]*$/);
    expect(JSON.parse(json)).toEqual(value);
  });
});
