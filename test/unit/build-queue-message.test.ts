import { describe, expect, it } from 'vitest';
import { INLINE_RAW_BYTES } from '../../lib/blobs/raw-store';
import type { QueueMessage } from '../../lib/events/event-record';
import type { Provider } from '../../lib/providers/provider';
import { sori } from '../../lib/providers/sori';
import { MAX_REASON_LENGTH } from '../../lib/providers/validation';
import { toAsciiJson } from '../../lib/queue/event-queue';
import {
  buildQueueMessage,
  exceedsDepth,
  MAX_JSON_DEPTH,
  MAX_QUEUE_MESSAGE_BYTES,
  MAX_RECORD_BYTES,
} from '../../lib/receive/build-queue-message';
import { itemBytes } from '../../lib/table/item-size';
import { toItem } from '../../lib/table/records-table';
import { soriBody, soriPayload } from '../support/deliveries';
import { filler, largestValueBytes, PROVIDER_FIELDS, withValue } from '../support/hostile-values';

const RECEIVED = '2026-01-01T00:00:00.000Z';

describe('buildQueueMessage', () => {
  it('carries the normalized record and the raw body byte for byte', () => {
    const body = soriBody('click');
    const message = buildQueueMessage(sori, Buffer.from(body), RECEIVED);
    expect(message.kind).toBe('event');
    expect(message.raw).toBe(body);
    expect(message.raw_encoding).toBe('utf8');
  });

  it('quarantines JSON nested deeper than the limit, and only that, at the boundary and with brackets in strings', () => {
    const nested = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
    for (let levels = MAX_JSON_DEPTH - 3; levels <= MAX_JSON_DEPTH + 2; levels++) {
      const body = JSON.stringify({ ...soriPayload('click'), metadata: JSON.parse(nested(levels)) });
      const tooDeep = exceedsDepth(JSON.parse(body), MAX_JSON_DEPTH);
      expect(tooDeep).toBe(levels >= MAX_JSON_DEPTH);
      const message = buildQueueMessage(sori, Buffer.from(body), RECEIVED);
      expect(message.kind === 'quarantine' && message.record.reason.includes('nested deeper')).toBe(tooDeep);
    }
    // Brackets inside strings are text, not nesting.
    const brackets = JSON.stringify({ ...soriPayload('click'), platform: '[{'.repeat(200) });
    expect(buildQueueMessage(sori, Buffer.from(brackets), RECEIVED).kind).toBe('event');
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

  it('gives a SORI retry, received later with a re-stamped timestamp, the same record id', () => {
    const first = soriPayload('click');
    const retry = { ...first, timestamp: '2025-10-14T05:26:33.500Z' };
    const a = buildQueueMessage(sori, Buffer.from(JSON.stringify(first)), RECEIVED);
    const b = buildQueueMessage(sori, Buffer.from(JSON.stringify(retry)), '2026-01-01T00:00:31.000Z');
    expect(a.kind).toBe('event');
    expect(b.record.id).toBe(a.record.id);
    expect(b.record.received_at).not.toBe(a.record.received_at);
  });

  it('gives a byte-identical redelivery of an unknown body the same quarantine id, whenever it arrives', () => {
    const raw = Buffer.from('{"event":"campaign.share","created_at":"2025-10-14T05:25:12.421Z"}');
    const first = buildQueueMessage(sori, raw, RECEIVED).record.id;
    expect(first).toMatch(/^sori_q_[0-9a-f]{32}$/);
    expect(buildQueueMessage(sori, raw, '2026-01-01T00:05:00.000Z').record.id).toBe(first);
  });

  it('gives an unknown body retried with a new timestamp another quarantine id: only its bytes identify it', () => {
    const body = (timestamp: string) =>
      Buffer.from(
        JSON.stringify({ event: 'campaign.share', created_at: '2025-10-14T05:25:12.421Z', timestamp }),
      );
    expect(buildQueueMessage(sori, body('2025-10-14T05:25:12.421Z'), RECEIVED).record.id).not.toBe(
      buildQueueMessage(sori, body('2025-10-14T05:25:42.421Z'), '2026-01-01T00:00:30.000Z').record.id,
    );
  });
});

describe('buildQueueMessage: quarantine reasons', () => {
  it('caps the reason any provider gives at 500 characters, cut between two UTF-16 units of a character', () => {
    // A stand-in provider: the real ones already keep their reasons short, and this is the guard behind them.
    const verbose: Provider = {
      ...sori,
      interpret: () => ({ ok: false, reason: `${'x'.repeat(498)}🎧 ${'y'.repeat(1e6)}` }),
    };
    const message = buildQueueMessage(verbose, Buffer.from('{}'), RECEIVED);
    expect(message.kind).toBe('quarantine');
    const reason = message.kind === 'quarantine' ? message.record.reason : '';
    expect(reason.length).toBeLessThanOrEqual(MAX_REASON_LENGTH);
    expect(reason).toBe(`${'x'.repeat(498)}…`);
  });
});

/** The message as the receive function sends it: a raw body over the inline limit goes by reference. */
const asSent = (message: QueueMessage, rawBytes: number): QueueMessage =>
  rawBytes > INLINE_RAW_BYTES
    ? { ...message, raw: '', raw_ref: `s3://raw-bodies/raw/x/${'0'.repeat(64)}` }
    : message;
/** DynamoDB's item limit, 400 KB counted as 400 × 1,024 bytes. */
const MAX_ITEM_BYTES = 400 * 1024;

describe('buildQueueMessage: sizes', () => {
  it('quarantines a normalized record over the record limit with a short reason, the raw body kept whole', () => {
    // A stand-in provider: the real ones cut their free-text fields, and this is the guard behind them.
    const bloated: Provider = {
      ...sori,
      interpret: (payload, receivedAt) => {
        const result = sori.interpret(payload, receivedAt);
        return result.ok
          ? { ok: true, record: { ...result.record, account_id: 'a'.repeat(300_000) } }
          : result;
      },
    };
    const raw = Buffer.from(soriBody('click'));
    const message = buildQueueMessage(bloated, raw, RECEIVED);
    expect(message).toMatchObject({
      kind: 'quarantine',
      record: { reason: `normalized record over ${MAX_RECORD_BYTES} bytes` },
      raw: raw.toString(),
    });
    expect(toAsciiJson(message).length).toBeLessThan(MAX_QUEUE_MESSAGE_BYTES);
  });

  describe.each(PROVIDER_FIELDS)('$provider.name $example', ({ provider, payload, paths }) => {
    // The largest value the body limit allows, and one that keeps the body just inline; in ASCII, and in a
    // two-byte letter that the queue's ASCII JSON writes as six (`\u00e9`).
    const sizes = [largestValueBytes(provider), INLINE_RAW_BYTES - 4096];
    it.each(paths)(
      'keeps the message within 256 KiB and the item within 400 KB with a huge value at %s',
      (path) => {
        for (const bytes of sizes) {
          for (const value of [filler(bytes), filler(bytes / 2, 'é')]) {
            const raw = Buffer.from(JSON.stringify(withValue(payload, path, value)));
            const message = asSent(buildQueueMessage(provider, raw, RECEIVED), raw.length);
            expect(toAsciiJson(message).length).toBeLessThanOrEqual(MAX_QUEUE_MESSAGE_BYTES);
            expect(itemBytes(toItem(message))).toBeLessThan(MAX_ITEM_BYTES);
            if (message.raw_ref === undefined)
              expect(Buffer.from(message.raw, message.raw_encoding).equals(raw)).toBe(true);
          }
        }
      },
    );
  });

  it('keeps a quarantined body of control characters, escaped sixfold in JSON, within 256 KiB', () => {
    const raw = Buffer.alloc(INLINE_RAW_BYTES, 0x01);
    const message = buildQueueMessage(sori, raw, RECEIVED);
    expect(message.kind).toBe('quarantine');
    expect(toAsciiJson(message).length).toBeLessThanOrEqual(MAX_QUEUE_MESSAGE_BYTES);
    expect(Buffer.from(message.raw, message.raw_encoding).equals(raw)).toBe(true);
  });

  it('carries an ordinary body as text', () => {
    const body = JSON.stringify({ ...soriPayload('click'), campaign_name: 'Fall 🍂 é' });
    expect(buildQueueMessage(sori, Buffer.from(body), RECEIVED)).toMatchObject({
      raw: body,
      raw_encoding: 'utf8',
    });
  });
});

describe('toAsciiJson', () => {
  it('escapes every non-ASCII character and parses back to the same value', () => {
    const value = { text: 'Fall 🍂 é \u0000 \u2028', lone: '\ud800' };
    const json = toAsciiJson(value);
    expect(json).toMatch(/^[\x20-\x7e]*$/);
    expect(JSON.parse(json)).toEqual(value);
  });

  it.each([
    ['DEL alone', 'a\u007fb'],
    ['one Latin-1 letter', 'café'],
    ['one lone surrogate', 'x\udfff'],
    ['the last BMP character', '\uffff'],
  ])('escapes a body whose only non-printable-ASCII character is %s', (_name, text) => {
    const json = toAsciiJson({ text });
    expect(json).toMatch(/^[\x20-\x7e]*$/);
    expect(JSON.parse(json)).toEqual({ text });
  });

  it('gives back plain JSON when every character is ASCII', () => {
    const value = { text: 'plain ~ text', n: 1 };
    expect(toAsciiJson(value)).toBe(JSON.stringify(value));
  });
});
