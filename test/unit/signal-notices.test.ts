import { describe, expect, it } from 'vitest';
import {
  type CampaignSignalsChange,
  campaignNotices,
  loginNotices,
  NOTICE_FIELDS,
  noticeId,
  takesNotice,
} from '../../lib/signals/signal-notices';
import { DEFAULT_SIGNAL_THRESHOLDS } from '../../lib/signals/thresholds';
import { fromNoticeItem, noticeItem, noticeSortKey } from '../../lib/table/notice-items';
import type { CampaignSignals, LoginSignals } from '../../lib/table/signal-attributes';

const T = DEFAULT_SIGNAL_THRESHOLDS;
const NOW = Date.parse('2026-03-01T12:00:00.000Z');
const KEY = { provider: 'sori', campaignId: 'cmp_1', day: '2026-03-01' };
const campaign = (signals: Partial<CampaignSignals> = {}): CampaignSignals => ({
  orphans: new Set(),
  orphansOver: 0,
  bursts: new Set(),
  burstsFull: false,
  ...signals,
});
const logins = (signals: Partial<LoginSignals> = {}): LoginSignals => ({
  accounts: new Set(),
  countries: new Set(),
  full: false,
  ...signals,
});
const change = (over: Partial<CampaignSignalsChange>): CampaignSignalsChange => ({
  key: KEY,
  before: campaign(),
  after: campaign(),
  figuresBefore: { impressions: 0, clicks: 0 },
  figuresAfter: { impressions: 0, clicks: 0 },
  ...over,
});

describe('the notices a campaign-day write raises', () => {
  it('are none when its signals and CTR side do not change, whatever it already held', () => {
    const held = campaign({
      orphans: new Set(['2026-03-01T10:00:00.000Z act_1']),
      bursts: new Set(['2026-03-01T10:00 dev_1']),
    });
    const figures = { impressions: 200, clicks: 100 };
    expect(
      campaignNotices(
        change({ before: held, after: held, figuresBefore: figures, figuresAfter: figures }),
        T,
        NOW,
      ),
    ).toEqual([]);
  });

  it('raise each click without an impression added, with its activity, time and window, and clear each taken off', () => {
    const before = campaign({ orphans: new Set(['2026-03-01T09:00:00.000Z act_gone']) });
    const after = campaign({
      orphans: new Set(['2026-03-01T10:00:00.000Z act_new']),
      orphansOver: 4,
    });
    const notices = campaignNotices(change({ before, after }), T, NOW);
    expect(notices.map((n) => [n.signal, n.state, n.activity_id, n.at])).toEqual([
      ['clicks_without_impression', 'raised', 'act_new', '2026-03-01T10:00:00.000Z'],
      ['clicks_without_impression', 'cleared', 'act_gone', '2026-03-01T09:00:00.000Z'],
    ]);
    expect(notices[0]).toMatchObject({
      origin: 'signal',
      provider: 'sori',
      campaign_id: 'cmp_1',
      day: '2026-03-01',
      subject: '2026-03-01T10:00:00.000Z act_new',
      device_id: '',
      threshold_name: 'SIGNAL_IMPRESSION_MINUTES',
      threshold: '10',
      raised_at: '2026-03-01T12:00:00.000Z',
    });
  });

  it('raise each device-minute burst added, with its device and minute, and nothing for flags past the bound', () => {
    const before = campaign({ bursts: new Set(['2026-03-01T10:00 dev_1']) });
    const after = campaign({
      bursts: new Set(['2026-03-01T10:00 dev_1', '2026-03-01T10:01 dev 2']),
      burstsFull: true,
    });
    const notices = campaignNotices(change({ before, after }), T, NOW);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({
      signal: 'click_bursts',
      state: 'raised',
      device_id: 'dev 2',
      at: '2026-03-01T10:01',
      threshold_name: 'SIGNAL_CLICKS_PER_MINUTE',
      threshold: '10',
    });
  });

  it('raise a high CTR when the write crosses the threshold with enough impressions, not when it stays over, under, or has too few impressions', () => {
    const crossing = (before: [number, number], after: [number, number]) =>
      campaignNotices(
        change({
          figuresBefore: { impressions: before[0], clicks: before[1] },
          figuresAfter: { impressions: after[0], clicks: after[1] },
        }),
        T,
        NOW,
      );
    const [raised, ...others] = crossing([100, 20], [100, 21]);
    expect(others).toEqual([]);
    expect(raised).toMatchObject({
      signal: 'high_ctr',
      state: 'raised',
      subject: '',
      impressions: '100',
      clicks: '21',
      threshold_name: 'SIGNAL_CTR',
      threshold: '0.2',
    });
    // Under the minimum of impressions a few clicks say nothing; over already: raised before.
    expect(crossing([50, 10], [99, 90])).toEqual([]);
    expect(crossing([100, 30], [101, 40])).toEqual([]);
    expect(crossing([100, 10], [110, 12])).toEqual([]);
    // Back under the threshold then over again: the same notice, which its key writes once.
    const again = crossing([200, 30], [200, 41]);
    expect(again[0]?.notice_id).toBe(raised?.notice_id);
  });
});

describe('the notices a provider-day write raises', () => {
  it('raise each device newly shared by too many accounts or hopping countries, with no campaign', () => {
    const notices = loginNotices(
      {
        provider: 'sori',
        day: '2026-03-01',
        before: logins({ accounts: new Set(['dev_old']) }),
        after: logins({ accounts: new Set(['dev_old', 'dev_s']), countries: new Set(['dev_x']), full: true }),
      },
      T,
      NOW,
    );
    expect(notices.map((n) => [n.signal, n.device_id, n.subject, n.campaign_id, n.threshold])).toEqual([
      ['shared_devices', 'dev_s', 'dev_s', '', '3'],
      ['country_hops', 'dev_x', 'dev_x', '', '60'],
    ]);
  });
});

describe("a notice's identity and item", () => {
  it('is the same for the same signal raised at another time, and differs by day, signal, state, provider, campaign and subject', () => {
    const parts = {
      day: '2026-03-01',
      signal: 'click_bursts' as const,
      state: 'raised' as const,
      provider: 'sori',
      campaign_id: 'cmp_1',
      subject: '2026-03-01T10:00 dev_1',
    };
    const [first] = campaignNotices(
      change({ after: campaign({ bursts: new Set([parts.subject]) }) }),
      T,
      NOW,
    );
    const [later] = campaignNotices(
      change({ after: campaign({ bursts: new Set([parts.subject]) }) }),
      T,
      NOW + 3_600_000,
    );
    expect(first?.notice_id).toBe(noticeId(parts));
    expect(later?.notice_id).toBe(first?.notice_id);
    expect(later?.raised_at).not.toBe(first?.raised_at);
    const ids = new Set(
      [
        parts,
        { ...parts, day: '2026-03-02' },
        { ...parts, signal: 'shared_devices' as const },
        { ...parts, state: 'cleared' as const },
        { ...parts, provider: 'adreform' },
        { ...parts, campaign_id: 'cmp_2' },
        { ...parts, subject: '2026-03-01T10:00 dev_2' },
        // Fields that would run together if they were joined: JSON keeps them apart.
        { ...parts, campaign_id: 'cmp_1#x', subject: '' },
      ].map(noticeId),
    );
    expect(ids.size).toBe(8);
    expect(first?.notice_id).toMatch(/^sig_[0-9a-f]{32}$/);
  });

  it('stores every field as a string under a key of its day and signal, at most a few hundred bytes of key even for 1 KB values, and reads back whole', () => {
    const long = 'd'.repeat(1024);
    const [notice] = loginNotices(
      {
        provider: 'sori',
        day: '2026-03-01',
        before: logins(),
        after: logins({ countries: new Set([long]) }),
      },
      T,
      NOW,
    );
    if (!notice) throw new Error('no notice');
    const item = noticeItem(notice);
    expect(item.pk).toEqual({ S: 'SIGNAL#2026-03-01' });
    expect(item.sk?.S).toBe(noticeSortKey(notice));
    expect(item.sk?.S).toMatch(/^country_hops#raised#[0-9a-f]{32}$/);
    expect(item.kind).toEqual({ S: 'signal' });
    // Kept a week after it was raised.
    expect(Number(item.expires_at?.N)).toBe(NOW / 1000 + 7 * 86_400);
    for (const field of NOTICE_FIELDS) expect(item[field]).toEqual({ S: notice[field] });
    expect(fromNoticeItem(item)).toEqual(notice);
  });
});

describe('which destinations take a notice', () => {
  it('none without signals, every signal with true, the listed ones with a list, of the providers named', () => {
    const notice = { signal: 'high_ctr' as const, provider: 'sori' };
    expect(takesNotice(undefined, undefined, notice)).toBe(false);
    expect(takesNotice(false, undefined, notice)).toBe(false);
    expect(takesNotice(true, undefined, notice)).toBe(true);
    expect(takesNotice(['high_ctr'], [], notice)).toBe(true);
    expect(takesNotice(['click_bursts'], undefined, notice)).toBe(false);
    expect(takesNotice(true, ['adreform'], notice)).toBe(false);
    expect(takesNotice(true, ['sori'], notice)).toBe(true);
  });
});
