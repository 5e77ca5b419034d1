import * as v from 'valibot';
import { afterEach, describe, expect, it } from 'vitest';
import { QueueMessageSchema } from '../../lib/events/event-record';
import { toAsciiJson } from '../../lib/queue/event-queue';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { PROVIDER_FIELDS, STRUCTURAL_VALUES, withValue } from '../support/hostile-values';

// A sender's values are data: a value (or a member name inside free-form metadata) such as `__proto__`,
// `constructor` or one holding the unit separator is carried as it came, never taken for structure.

const RECEIVED = '2026-01-01T00:00:00.000Z';
const STRUCTURAL_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'];

/** The message as the process function reads it off the queue. */
const throughQueue = (message: unknown) => v.parse(QueueMessageSchema, JSON.parse(toAsciiJson(message)));

afterEach(() => {
  // Nothing a delivery held may have reached the prototype every object shares.
  expect(Object.keys(Object.prototype)).toEqual([]);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});

describe.each(PROVIDER_FIELDS)('$provider.name $example', ({ provider, payload, paths }) => {
  it.each(paths)('carries each structural value at %s as data, unchanged through the queue', (path) => {
    for (const value of STRUCTURAL_VALUES) {
      const raw = Buffer.from(JSON.stringify(withValue(payload, path, value)));
      const message = buildQueueMessage(provider, raw, RECEIVED);
      expect(Object.getPrototypeOf(message.record)).toBe(Object.prototype);
      expect(throughQueue(message)).toEqual(message);
    }
  });

  it('refuses each structural name as its event name, with a reason', () => {
    const field = provider.name === 'adreform' ? 'topic' : provider.name === 'optimizely' ? 'type' : 'event';
    const eventField = 'event_type' in payload && !('event' in payload) ? 'event_type' : field;
    for (const name of STRUCTURAL_NAMES) {
      const message = buildQueueMessage(
        provider,
        Buffer.from(JSON.stringify({ ...payload, [eventField]: name })),
        RECEIVED,
      );
      expect(message.kind).toBe('quarantine');
      expect(message.kind === 'quarantine' && message.record.reason).toMatch(
        new RegExp(`^unknown ${eventField}`),
      );
    }
  });
});

describe('free-form metadata', () => {
  it.each([
    ['sori', 'impression', 'metadata'],
    ['symphony', 'campaign-updated', 'metadata'],
  ])('of %s keeps members named like structure as members, through the queue', (name, example) => {
    const fields = PROVIDER_FIELDS.find((f) => f.provider.name === name && f.example === example);
    if (!fields) throw new Error(`no example ${name} ${example}`);
    const members = STRUCTURAL_NAMES.map((member) => `"${member}":{"polluted":true}`).join(',');
    const text = JSON.stringify({ ...fields.payload, metadata: { session: 's' } }).replace(
      '"metadata":{"session":"s"}',
      `"metadata":{${members},"a\\u001fb":"\\u001f"}`,
    );
    const message = buildQueueMessage(fields.provider, Buffer.from(text), RECEIVED);
    if (message.kind !== 'event') throw new Error(message.record.reason);
    const received = throughQueue(message);
    expect(received).toEqual(message);
    const stored = received.kind === 'event' ? received.record.metadata : null;
    const metadata = (name === 'symphony' ? stored?.metadata : stored) as Record<string, unknown>;
    expect(Object.keys(metadata).sort()).toEqual([...STRUCTURAL_NAMES, 'a\u001fb'].sort());
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(metadata, '__proto__')?.value).toEqual({ polluted: true });
  });
});
