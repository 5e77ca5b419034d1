/**
 * The app as a breakdown of the counters: what the fold reads of a record, how a counter item gives it back, and
 * the bound on how many apps a campaign-day keeps.
 */
import { describe, expect, it } from 'vitest';
import type { EventRecord } from '../../lib/events/event-record';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { itemBytes } from '../../lib/table/item-size';
import {
  BREAKDOWN_LIMITS,
  BREAKDOWNS,
  BreakdownBudget,
  counterAttributesOf,
  counterFieldsOf,
  fromCounterItem,
  OTHER_VALUE,
} from '../../lib/table/records-table';
import { soriPayload } from '../support/deliveries';

function record(app?: string): EventRecord {
  const message = buildQueueMessage(
    sori,
    Buffer.from(JSON.stringify(soriPayload('impression'))),
    '2025-10-14T23:00:00.000Z',
    app ? { app } : undefined,
  );
  if (message.kind !== 'event') throw new Error('the example impression is an event');
  return message.record;
}

describe('the app breakdown', () => {
  it('is the fifth breakdown, read from the record’s app, a record that names none counted under the default app', () => {
    expect(BREAKDOWNS).toEqual(['hour', 'platform', 'country', 'material', 'app']);
    expect(counterFieldsOf(record('agency-a')).at(-1)).toBe('agency-a');
    expect(counterFieldsOf(record()).at(-1)).toBe('default');
    // A record received before records named their app.
    const { app: _, ...older } = record();
    expect(counterFieldsOf(older).at(-1)).toBe('default');
    // The other fields keep their places: a journal of the earlier layout reads the same.
    expect(counterFieldsOf(record('agency-a')).slice(0, 5)).toEqual(counterFieldsOf(older).slice(0, 5));
  });

  it('is given back by a counter item per app and event type, beside the other breakdowns', () => {
    const attributes = [...counterAttributesOf(record('agency-a')), ...counterAttributesOf(record())];
    const item = fromCounterItem(Object.fromEntries(attributes.map((name) => [name, { N: '1' }])));
    expect({ ...item.breakdowns.app }).toEqual({
      'agency-a': { 'campaign.impression': 1 },
      default: { 'campaign.impression': 1 },
    });
    expect(Object.keys(item.breakdowns.platform)).toHaveLength(1);
  });

  it('keeps BREAKDOWN_LIMITS.app apps per campaign-day and counts any later one as "(other)"', () => {
    // Placed through one budget, as a fold places a campaign-day's events.
    const budget = new BreakdownBudget();
    const apps = Array.from({ length: BREAKDOWN_LIMITS.app + 2 }, (_, i) => `app-${i}`);
    const placed = apps.map((app) => {
      const attribute = counterAttributesOf(record(app)).at(-1) as string;
      return Object.keys(fromCounterItem({ [budget.place(attribute)]: { N: '1' } }).breakdowns.app)[0];
    });
    expect(placed.slice(0, BREAKDOWN_LIMITS.app)).toEqual(apps.slice(0, BREAKDOWN_LIMITS.app));
    expect(placed.slice(BREAKDOWN_LIMITS.app)).toEqual([OTHER_VALUE, OTHER_VALUE]);
    // A counter item that already counts an app keeps counting it under its name.
    const known = new BreakdownBudget([counterAttributesOf(record('app-99')).at(-1) as string]);
    const again = counterAttributesOf(record('app-99')).at(-1) as string;
    expect(known.place(again)).toBe(again);
  });

  it('leaves a counter item at every breakdown limit, apps included, far below DynamoDB’s 400 KB item limit', () => {
    // The worst a sender can do: every breakdown full of the longest values, plus "(other)", five event types,
    // counts of twelve digits. An app's name is at most 32 bytes; other values are cut at 64.
    const events = [
      'campaign.impression',
      'campaign.click',
      'campaign.authentication',
      'admin.material.created',
      'campaign.conversion',
    ];
    const item: Record<string, { N: string }> = {};
    for (const breakdown of BREAKDOWNS) {
      const values = Array.from({ length: BREAKDOWN_LIMITS[breakdown] }, (_, i) =>
        breakdown === 'hour'
          ? String(i).padStart(2, '0')
          : String(i).padStart(breakdown === 'app' ? 32 : 64, 'x'),
      );
      for (const value of breakdown === 'hour' ? values : [...values, OTHER_VALUE]) {
        for (const event of events)
          item[`b\u001f${breakdown}\u001f${value}\u001f${event}`] = { N: '123456789012' };
      }
    }
    const bytes = itemBytes(item);
    expect(bytes).toBeGreaterThan(80_000);
    expect(bytes).toBeLessThan(90_000);
  });
});
