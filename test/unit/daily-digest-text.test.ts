import { describe, expect, it } from 'vitest';
import {
  type DigestFigures,
  digestChatNotification,
  digestMessage,
  digestSubject,
  digestText,
  previousUtcDay,
  TOP_CAMPAIGNS,
} from '../../lib/digest/daily-digest';
import type { DashboardCampaign, Delivery } from '../../lib/queries/dashboard';

const campaign = (
  id: string,
  impressions: number,
  clicks: number,
  extra: Partial<DashboardCampaign> = {},
): DashboardCampaign => ({
  provider: 'sori',
  campaign_id: id,
  day: '2026-03-01',
  campaign_name: `Campaign ${id}`,
  impressions,
  clicks,
  ctr: impressions > 0 ? clicks / impressions : null,
  unique_devices: Math.ceil(impressions / 2),
  ...extra,
});

const delivery = (extra: Partial<Delivery> = {}): Delivery => ({
  received: 1300,
  stored: 1250,
  duplicates: 40,
  quarantined: 10,
  refused: 3,
  dead_letters: 0,
  oldest_message_age_s: 0,
  by_provider: [
    { provider: 'sori', received: 1200, stored: 1160, duplicates: 30, quarantined: 10, refused: 2 },
    { provider: 'symphony', received: 100, stored: 90, duplicates: 10, quarantined: 0, refused: 1 },
  ],
  ...extra,
});

const figures = (campaigns: DashboardCampaign[], extra: Partial<DigestFigures> = {}): DigestFigures => ({
  day: '2026-03-01',
  campaigns,
  totals: {
    impressions: campaigns.reduce((sum, c) => sum + c.impressions, 0),
    clicks: campaigns.reduce((sum, c) => sum + c.clicks, 0),
    unique_devices: 789,
  },
  delivery: delivery(),
  ...extra,
});

describe('the daily digest text', () => {
  it("names the day, the day's totals with CTR and unique devices, and every delivery figure", () => {
    const text = digestText(figures([campaign('cmp_a', 1000, 40), campaign('cmp_b', 234, 16)]));
    expect(text).toContain('2026-03-01 (UTC)');
    expect(text).toContain('2 campaigns');
    expect(text).toContain('1,234 impressions');
    expect(text).toContain('56 clicks');
    expect(text).toContain('CTR 4.54%');
    expect(text).toContain('789 unique devices');
    expect(text).toMatch(/received 1,300\b/i);
    expect(text).toMatch(/stored 1,250\b/i);
    expect(text).toMatch(/duplicates 40\b/i);
    expect(text).toMatch(/quarantined 10\b/i);
    expect(text).toMatch(/dead letters 0\b/i);
    expect(text).toMatch(/sori: received 1,200, stored 1,160, duplicates 30, quarantined 10/);
    expect(text).toMatch(/symphony: received 100, stored 90, duplicates 10, quarantined 0/);
  });

  it('lists the top 10 campaigns by impressions, each with its counts, CTR and devices, and says how many more there were', () => {
    // Given in no order: the digest orders them.
    const campaigns = Array.from({ length: 13 }, (_, i) => campaign(`cmp_${i}`, (i * 7) % 13, i % 3));
    const text = digestText(figures(campaigns));
    const listed = [
      ...text.matchAll(/^\s*(\d+)\. Campaign (cmp_\d+) \(sori\/cmp_\d+\): (\d+) impressions/gm),
    ];
    expect(listed).toHaveLength(TOP_CAMPAIGNS);
    expect(listed.map((match) => Number(match[1]))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const impressions = listed.map((match) => Number(match[3]));
    expect(impressions).toEqual([...impressions].sort((a, b) => b - a));
    expect(impressions[0]).toBe(12);
    expect(text).toContain('and 3 more campaigns');
    const top = campaigns.find((c) => c.impressions === 12) as DashboardCampaign;
    expect(text).toContain(
      `Campaign ${top.campaign_id} (sori/${top.campaign_id}): 12 impressions, ${top.clicks} clicks, CTR ${((top.clicks / 12) * 100).toFixed(2)}%, 6 unique devices`,
    );
  });

  it('says so when no campaign counted anything, and writes n/a for a CTR without impressions', () => {
    const text = digestText(figures([]));
    expect(text).toContain('No campaign counted an impression or a click');
    expect(text).toContain('CTR n/a');
  });

  it('writes "unknown" for a figure no source could give, never 0', () => {
    const text = digestText(
      figures([campaign('cmp_a', 10, 1)], {
        delivery: delivery({ dead_letters: null, refused: null, received: null }),
      }),
    );
    expect(text).toMatch(/dead letters unknown/i);
    expect(text).toMatch(/refused unknown/i);
    expect(text).toMatch(/received unknown/i);
  });

  it("keeps a sender's campaign name on one line, without control characters, and cut to a readable length", () => {
    const name = `Evil\nname\u0007 ${'x'.repeat(300)}`;
    const text = digestText(figures([campaign('cmp_a', 10, 1, { campaign_name: name })]));
    const line = text.split('\n').find((l) => l.includes('(sori/cmp_a)')) as string;
    expect(line).toContain('Evil name');
    expect(line).not.toMatch(/\p{Cc}/u);
    expect(line.length).toBeLessThan(200);
  });
});

describe('the digest as published', () => {
  it("has a one-line ASCII subject under SNS's 100 characters naming the day", () => {
    const subject = digestSubject(figures([campaign('cmp_a', 1_234_567, 8_901)]));
    expect(subject).toContain('2026-03-01');
    expect(subject.length).toBeLessThanOrEqual(100);
    expect(subject).toMatch(/^[\x20-\x7e]+$/);
  });

  it('sends the text to e-mail and by default, and a chat custom notification with the same text to HTTPS subscribers (the chat integration)', () => {
    const input = figures([campaign('cmp_a', 10, 1)]);
    const message = digestMessage(input);
    expect(message.MessageStructure).toBe('json');
    const parts = JSON.parse(message.Message) as Record<string, string>;
    expect(parts.default).toBe(digestText(input));
    expect(parts.email).toBe(digestText(input));
    expect(parts.https).toBe(digestChatNotification(input));
    const chat = JSON.parse(parts.https as string);
    expect(chat).toMatchObject({
      version: '1.0',
      source: 'custom',
      content: { textType: 'client-markdown' },
    });
    expect(chat.content.title).toContain('2026-03-01');
    expect(chat.content.description).toContain('10 impressions');
    expect(message.Subject).toBe(digestSubject(input));
  });

  it("neutralises a campaign name's chat markup and mentions in the chat notification", () => {
    const input = figures([
      campaign('cmp_a', 10, 1, { campaign_name: '<!channel> *bold* @here [x](http://e.vil)' }),
    ]);
    const { content } = JSON.parse(digestChatNotification(input));
    expect(content.description).not.toContain('<!channel>');
    expect(content.description).not.toContain('@here');
    expect(content.description).not.toContain('[x](http');
    expect(content.description).not.toContain('*bold*');
  });
});

describe('the day a digest covers', () => {
  it('is the UTC day before the run, whatever the hour', () => {
    expect(previousUtcDay(new Date('2026-03-02T00:05:00Z'))).toBe('2026-03-01');
    expect(previousUtcDay(new Date('2026-03-02T23:59:59Z'))).toBe('2026-03-01');
    expect(previousUtcDay(new Date('2026-01-01T06:00:00Z'))).toBe('2025-12-31');
  });
});
