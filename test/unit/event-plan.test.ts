import { describe, expect, it } from 'vitest';
import {
  CURSOR_SLACK,
  cursorToken,
  type PagePlan,
  parseCursorToken,
  planDayRange,
  planEvents,
  planExport,
  planPage,
  takePage,
} from '../../lib/queries/event-plan';
import type { StoredEvent } from '../../lib/table/records-table';

const NOW = Date.parse('2026-03-10T12:00:00.000Z');
const event = (created_at: string, id: string) => ({ created_at, id }) as StoredEvent;

describe('the event query planner', () => {
  it('reads a campaign from its days and its index, without filtering on the campaign it is keyed by', () => {
    const plan = planEvents(
      { provider: 'sori', campaign: 'cmp_1', type: 'campaign.click', since: '2026-03-01T00:00:00.000Z' },
      'newest first',
      NOW,
    );
    expect(plan.bounds).toEqual({ since: '2026-03-01T00:00:00.000Z', until: '9999\uffff' });
    expect(plan.sources).toEqual({
      by: 'campaign',
      campaign: 'cmp_1',
      firstDay: '2026-03-01',
      lastDay: '9999\uffff',
      filters: [['event', 'campaign.click']],
    });
  });

  it('reads a device through its markers, filtering its partitions on the device but not its own index', () => {
    const { sources } = planEvents({ provider: 'sori', device: 'dev_1' }, 'oldest first', NOW);
    expect(sources).toEqual({
      by: 'device',
      device: 'dev_1',
      filters: [['device_id', 'dev_1']],
      indexFilters: [],
    });
  });

  it('reads a type day by day: the last 7 days newest first for a page, every day from since for an export', () => {
    const page = planEvents({ provider: 'sori', type: 'campaign.click' }, 'newest first', NOW);
    expect(page.sources).toMatchObject({
      by: 'type',
      filters: [],
      campaignFilters: [['event', 'campaign.click']],
    });
    expect(page.sources.by === 'type' && page.sources.days).toEqual([
      '2026-03-10',
      '2026-03-09',
      '2026-03-08',
      '2026-03-07',
      '2026-03-06',
      '2026-03-05',
      '2026-03-04',
    ]);
    const whole = planEvents(
      { provider: 'sori', type: 'campaign.click', since: '2026-03-08', until: '2026-03-09T23:59:59.999Z' },
      'oldest first',
      NOW,
    );
    expect(whole.sources.by === 'type' && whole.sources.days).toEqual(['2026-03-08', '2026-03-09']);
    expect(() => planEvents({ provider: 'sori', type: 'campaign.click' }, 'oldest first', NOW)).toThrow(
      'an export by type needs a first day (since)',
    );
  });

  it('reads no filter day by day for a page, and by a scan for an export', () => {
    const page = planEvents({ provider: 'sori', since: '2026-03-09' }, 'newest first', NOW);
    expect(page.sources).toEqual({ by: 'every type and campaign', days: ['2026-03-10', '2026-03-09'] });
    expect(planEvents({ provider: 'sori' }, 'oldest first', NOW).sources).toEqual({ by: 'scan' });
  });

  it('never plans a scan when asked not to: no filter, oldest first, reads every day from since, uncapped, and needs since', () => {
    const never = { scan: 'never' } as const;
    const range = planEvents(
      { provider: 'sori', since: '2026-03-08T10:00:00.000Z', until: '2026-03-10T09:00:00.000Z' },
      'oldest first',
      NOW,
      never,
    );
    expect(range.sources).toEqual({
      by: 'every type and campaign',
      days: ['2026-03-08', '2026-03-09', '2026-03-10'],
    });
    expect(range.bounds).toEqual({
      since: '2026-03-08T10:00:00.000Z',
      until: '2026-03-10T09:00:00.000Z\uffff',
    });
    const year = planEvents(
      { provider: 'sori', since: '2025-01-01', until: '2026-03-10' },
      'oldest first',
      NOW,
      never,
    );
    expect(year.sources.by === 'every type and campaign' && year.sources.days.length).toBe(434);
    expect(() => planEvents({ provider: 'sori' }, 'oldest first', NOW, never)).toThrow(
      'a reading of every day needs a first day (since)',
    );
    // Narrowed reads plan as they would without the option.
    const byType = { provider: 'sori', type: 'campaign.click', since: '2026-03-09' };
    expect(planEvents(byType, 'oldest first', NOW, never)).toEqual(planEvents(byType, 'oldest first', NOW));
    const byCampaign = { provider: 'sori', campaign: 'cmp_1', since: '2026-03-09' };
    expect(planEvents(byCampaign, 'oldest first', NOW, never)).toEqual(
      planEvents(byCampaign, 'oldest first', NOW),
    );
    const page = { provider: 'sori', since: '2026-03-09' };
    expect(planEvents(page, 'newest first', NOW, never)).toEqual(planEvents(page, 'newest first', NOW));
  });

  it('caps a day-by-day page at 366 days and says so, and lets a campaign read any range', () => {
    const wide = {
      providers: ['sori'],
      since: '2024-12-31T00:00:00.000Z',
      until: '2026-01-01T23:59:59.999Z',
    };
    expect(planPage({ ...wide, limit: 10 }, NOW)).toEqual({
      problem:
        'without --campaign or --device, query reads day by day, at most 366 days: narrow --since/--until (or use export)',
    });
    expect(planPage({ ...wide, campaign: 'cmp_1', limit: 10 }, NOW)).not.toHaveProperty('problem');
    expect(
      planPage({ providers: ['sori'], since: '2026-03-02', until: '2026-03-01', limit: 1 }, NOW),
    ).toEqual({
      problem: '--since is after --until',
    });
  });

  it('resumes a page below its cursor: nothing after the cursor is read, with room for events at its time', () => {
    const cursor = { created_at: '2026-03-05T10:00:00.000Z', id: 'evt_5' };
    const plan = planPage(
      {
        providers: ['sori', 'symphony'],
        campaign: 'cmp_1',
        until: '2026-03-09T00:00:00.000Z',
        limit: 2,
        cursor,
      },
      NOW,
    ) as PagePlan;
    expect(plan.queries.map((query) => [query.provider, query.until, query.limit])).toEqual([
      ['sori', cursor.created_at, 2 + CURSOR_SLACK],
      ['symphony', cursor.created_at, 2 + CURSOR_SLACK],
    ]);
    const page = takePage(plan, [
      event('2026-03-05T10:00:00.000Z', 'evt_6'),
      event('2026-03-05T10:00:00.000Z', 'evt_5'),
      event('2026-03-05T10:00:00.000Z', 'evt_4'),
      event('2026-03-04T00:00:00.000Z', 'evt_1'),
      event('2026-03-03T00:00:00.000Z', 'evt_0'),
    ]);
    expect(page.events.map((e) => e.id)).toEqual(['evt_4', 'evt_1']);
    expect(parseCursorToken(page.next ?? '')).toEqual({
      created_at: '2026-03-04T00:00:00.000Z',
      id: 'evt_1',
    });
    expect(takePage(plan, [event('2026-03-04T00:00:00.000Z', 'evt_1')]).next).toBeUndefined();
  });

  it('reads back only the cursors it wrote', () => {
    const cursor = { created_at: '2026-03-05T10:00:00.000Z', id: 'evt_5' };
    expect(parseCursorToken(cursorToken(cursor))).toEqual(cursor);
    expect(parseCursorToken('not a cursor')).toBeUndefined();
    expect(parseCursorToken(Buffer.from('[1,2]').toString('base64url'))).toBeUndefined();
  });

  it('plans an export per provider and refuses a type with no first day', () => {
    expect(planExport({ providers: ['sori'], type: 'campaign.click' })).toEqual({
      problem: 'export --type needs --since (every day from it is read)',
    });
    expect(planExport({ providers: ['sori', 'symphony'], campaign: 'cmp_1' })).toEqual([
      {
        provider: 'sori',
        campaign: 'cmp_1',
        device: undefined,
        type: undefined,
        since: undefined,
        until: undefined,
      },
      {
        provider: 'symphony',
        campaign: 'cmp_1',
        device: undefined,
        type: undefined,
        since: undefined,
        until: undefined,
      },
    ]);
  });

  it('plans the days of a reading of counters: the last 7 by default, a campaign whole, at most 366 across campaigns', () => {
    expect(planDayRange({ until: '2026-03-03' }, NOW)).toEqual({
      since: '2026-02-25',
      until: '2026-03-03',
      days: [
        '2026-03-03',
        '2026-03-02',
        '2026-03-01',
        '2026-02-28',
        '2026-02-27',
        '2026-02-26',
        '2026-02-25',
      ],
    });
    expect(planDayRange({ campaign: 'cmp_1' }, NOW)).toEqual({
      since: '0000-00-00',
      until: '2026-03-10',
      days: undefined,
    });
    expect(planDayRange({ since: '2025-03-08', until: '2026-03-09' }, NOW)).toEqual({
      problem: 'stats across campaigns covers at most 366 days',
    });
    expect(planDayRange({ since: '2025-03-10', until: '2026-03-10' }, NOW)).toHaveProperty('days');
    expect(planDayRange({ since: '2026-03-10', until: '2026-03-09' }, NOW)).toEqual({
      problem: '--since is after --until',
    });
  });
});
