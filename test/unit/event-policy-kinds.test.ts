import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { type QueueMessage, QueueMessageSchema } from '../../lib/events/event-record';
import { eventItem } from '../../lib/ingest/event-writer';
import type { Provider } from '../../lib/providers/provider';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { withPolicy } from '../../lib/receive/event-policy';
import { countedAsOf, DEFAULT_LAYOUT } from '../../lib/table/records-table';
import { soriBody } from '../support/deliveries';

const RECEIVED = '2026-01-01T00:00:00.000Z';
const message = (name: 'impression' | 'click' | 'authentication', provider: Provider = sori) =>
  buildQueueMessage(provider, Buffer.from(soriBody(name)), RECEIVED) as QueueMessage & { kind: 'event' };

describe('the policy an event is received with', () => {
  it('says what a counted event counts as, and which impression types a click is matched with; nothing for an event not counted', () => {
    expect(message('impression').policy).toMatchObject({ counted: true, counted_as: 'impressions' });
    expect(message('impression').policy?.pairs_with).toBeUndefined();
    expect(message('click').policy).toMatchObject({
      counted: true,
      counted_as: 'clicks',
      pairs_with: ['campaign.impression'],
    });
    const login = message('authentication').policy;
    expect(login?.counted).toBe(false);
    expect(login && 'counted_as' in login).toBe(false);
  });

  it('is completed from the provider’s current code for a message sent before policies said as what an event counts (it still parses)', () => {
    const sent = message('click');
    const { counted_as: _as, pairs_with: _pairs, ...earlier } = sent.policy ?? { counted: false };
    const queued = v.parse(QueueMessageSchema, JSON.parse(JSON.stringify({ ...sent, policy: earlier })));
    const completed = withPolicy(queued);
    expect(completed.kind === 'event' && completed.policy).toEqual(sent.policy);
    // A policy that says keeps its word, whatever the provider's code says now.
    const swapped = message('click', {
      ...sori,
      counted: { 'campaign.impression': 'clicks', 'campaign.click': 'impressions' },
    });
    expect(withPolicy(swapped)).toBe(swapped);
  });

  it('is kept on the stored record: what it counts as, or that it counts as nothing', () => {
    expect(countedAsOf(eventItem(message('impression'), DEFAULT_LAYOUT))).toBe('impressions');
    expect(countedAsOf(eventItem(message('click'), DEFAULT_LAYOUT))).toBe('clicks');
    expect(countedAsOf(eventItem(message('authentication'), DEFAULT_LAYOUT))).toBeNull();
  });
});
