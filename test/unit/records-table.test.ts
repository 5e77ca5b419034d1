import { describe, expect, it } from 'vitest';
import { sori } from '../../lib/providers/sori';
import { symphony } from '../../lib/providers/symphony';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { itemBytes } from '../../lib/table/item-size';
import {
  fromEventItem,
  fromQuarantineItem,
  itemKey,
  rawBytesOf,
  toItem,
} from '../../lib/table/records-table';
import { SORI_FIXTURES, soriBody } from '../support/deliveries';

const RECEIVED = '2026-11-22T12:00:00.000Z';
const layout = { shards: 4, retentionDays: 365 };
const INDEX_KEYS = ['gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'gsi3pk', 'gsi3sk'];

describe('records table items', () => {
  it.each(SORI_FIXTURES)(
    'stores the SORI %s example in one write unit (at most 1 KB), with no index entry',
    (name) => {
      const item = toItem(buildQueueMessage(sori, Buffer.from(soriBody(name)), RECEIVED), layout);
      expect(itemBytes(item)).toBeLessThanOrEqual(1024);
      expect(Object.keys(item).filter((key) => INDEX_KEYS.includes(key))).toEqual([]);
    },
  );

  it('gives back the exact raw bytes, a body that is not UTF-8 and a quarantined one included', () => {
    const bodies = [
      Buffer.from(soriBody('impression')),
      Buffer.from([0xef, 0xbb, 0xbf, ...Buffer.from(soriBody('click'))]),
      Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
      Buffer.from(JSON.stringify({ ...JSON.parse(soriBody('impression')), event: 'campaign.unknown' })),
    ];
    for (const body of bodies) {
      const message = buildQueueMessage(sori, body, RECEIVED);
      const item = toItem(message, layout);
      expect(rawBytesOf(item)?.equals(body)).toBe(true);
      if (message.kind === 'quarantine') {
        const stored = fromQuarantineItem(item);
        expect(Buffer.from(stored.raw, stored.raw_encoding)).toEqual(body);
      }
    }
    expect(bodies.map((body) => buildQueueMessage(sori, body, RECEIVED).kind)).toContain('quarantine');
  });

  it('reads back every field of the record it stored', () => {
    for (const name of SORI_FIXTURES) {
      const message = buildQueueMessage(sori, Buffer.from(soriBody(name)), RECEIVED);
      if (message.kind !== 'event') throw new Error(`the ${name} example is an event`);
      expect(fromEventItem(toItem(message, layout))).toEqual(message.record);
    }
  });

  it('keys an event the same whichever events its provider counts, so a retry across such a change is a duplicate', () => {
    const messages = SORI_FIXTURES.map((name) =>
      buildQueueMessage(sori, Buffer.from(soriBody(name)), RECEIVED),
    );
    const before = messages.map((message) => itemKey(message, layout));
    const counted = sori.counted;
    try {
      // A deploy where SORI counts every event, then one where it counts none.
      Object.assign(sori, {
        counted: Object.fromEntries(sori.events.map((event) => [event, 'impressions'])),
      });
      expect(messages.map((message) => itemKey(message, layout))).toEqual(before);
      Object.assign(sori, { counted: {} });
      expect(messages.map((message) => itemKey(message, layout))).toEqual(before);
    } finally {
      Object.assign(sori, { counted });
    }
  });

  it('places a campaign event under its campaign and day, another under its type and day, and keys by id an event whose time is its receipt', () => {
    const key = (provider: typeof sori, body: string, received = RECEIVED) =>
      itemKey(buildQueueMessage(provider, Buffer.from(body), received), layout).pk;
    expect(key(sori, soriBody('impression'))).toMatch(/^CAMPAIGN#sori#cmp_1234#2025-10-14#[0-3]$/);
    expect(key(sori, soriBody('authentication'))).toMatch(/^TYPE#sori#authentication#2025-10-14#[0-3]$/);
    const status = JSON.stringify({
      event: 'campaign.updated',
      id: 'c1',
      status: 'ACTIVE',
      type: 'x',
      provider: 'p',
    });
    // Symphony's payloads have no time: a retry received a second later is still the same item.
    expect(key(symphony, status)).toMatch(/^EVENT#/);
    expect(key(symphony, status, '2026-11-22T12:00:01.000Z')).toBe(key(symphony, status));
  });
});
