import { describe, expect, it } from 'vitest';
import type { QueueMessage } from '../../lib/events/event-record';
import { eventItem } from '../../lib/ingest/event-writer';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import * as counterItems from '../../lib/table/counter-items';
import {
  COUNTED_AS_ATTRIBUTE,
  countedAsAttribute,
  countedAsOf,
  DEFAULT_LAYOUT,
  toItem,
} from '../../lib/table/records-table';
import { soriBody } from '../support/deliveries';

const message = (name: 'impression' | 'click' | 'authentication') =>
  buildQueueMessage(sori, Buffer.from(soriBody(name)), '2026-01-01T00:00:00.000Z') as QueueMessage & {
    kind: 'event';
  };

describe('what an event item says it counted as, beside the event item it is part of', () => {
  it('is written as impressions, clicks or none, and read back as the kind or null', () => {
    expect(countedAsAttribute('impressions')).toEqual({ [COUNTED_AS_ATTRIBUTE]: { S: 'impressions' } });
    expect(countedAsAttribute('clicks')).toEqual({ [COUNTED_AS_ATTRIBUTE]: { S: 'clicks' } });
    expect(countedAsAttribute(undefined)).toEqual({ [COUNTED_AS_ATTRIBUTE]: { S: 'none' } });
    expect(countedAsOf(countedAsAttribute('impressions'))).toBe('impressions');
    expect(countedAsOf(countedAsAttribute('clicks'))).toBe('clicks');
    expect(countedAsOf(countedAsAttribute(undefined))).toBeNull();
    expect(countedAsOf({ [COUNTED_AS_ATTRIBUTE]: { S: 'something else' } })).toBeNull();
  });

  it('is unknown (undefined) for an item stored before items said, and the stored event item says it', () => {
    expect(COUNTED_AS_ATTRIBUTE).toBe('counted_as');
    expect(countedAsOf(toItem(message('impression'), DEFAULT_LAYOUT))).toBeUndefined();
    expect(countedAsOf(eventItem(message('impression'), DEFAULT_LAYOUT))).toBe('impressions');
    expect(countedAsOf(eventItem(message('click'), DEFAULT_LAYOUT))).toBe('clicks');
    expect(countedAsOf(eventItem(message('authentication'), DEFAULT_LAYOUT))).toBeNull();
  });

  it('has one home, the records table’s module: the counter items’ module does not export it too', () => {
    const exported = Object.keys(counterItems);
    expect(exported).toContain('countedKindsOfItem');
    expect(exported).not.toContain('countedAsOf');
    expect(exported).not.toContain('COUNTED_AS_ATTRIBUTE');
    expect(exported).not.toContain('countedAsAttribute');
  });
});
