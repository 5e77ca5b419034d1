/**
 * The dashboard page over ranges, read as its users read it at 1280 px and on a 390 px phone: a 30-day range
 * with its daily trend and the period before, the key numbers and their change, a drill-down by campaign and by
 * breakdown value, the delivery health panel, the time zone, the address that keeps all of it.
 *
 * The page is served here as it is served, under the Content-Security-Policy the deployed function gives it,
 * beside a stand-in `/api/dashboard` that answers contract-shaped JSON computed from the query it is sent (every
 * figure known in advance, nulls where the contract allows them). The API itself is tested against the stored
 * records elsewhere; this file tests what the page asks and shows. The last test reads the real local stack.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContextOptions, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servedPage } from '../../functions/campaign-dashboard/page';
import { type LocalStack, startLocalStack } from '../../local/local-stack';
import { hexSignature, memoryLogger, soriPayload } from '../support/deliveries';
import { runTool } from '../support/events-cli';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const RESULTS = join(import.meta.dirname, '../../test-results');
const PAGE = join(import.meta.dirname, '../../functions/campaign-dashboard/page/index.html');
const WIDE = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
const DAY_MS = 86_400_000;
const SIGN_IN = { signInUrl: 'https://sign-in.example.invalid', clientId: 'range-client', redirectPath: '/' };

const today = () => new Date().toISOString().slice(0, 10);
const addDays = (day: string, n: number) =>
  new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
const daysOf = (from: string, to: string) => {
  const days: string[] = [];
  for (let day = from; day <= to; day = addDays(day, 1)) days.push(day);
  return days;
};
const number = new Intl.NumberFormat('en-US');
const shortDay = (day: string) =>
  new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', month: 'short', day: 'numeric' }).format(
    new Date(`${day}T00:00:00Z`),
  );

// ---- The stand-in API: figures derived from the day and the filter only, so the test knows them all. ----

type Breakdown = 'platform' | 'country' | 'material';
interface Filter {
  provider: string | null;
  campaign: string | null;
  breakdown: Breakdown | null;
  value: string | null;
}

const CAMPAIGNS = [
  {
    provider: 'sori',
    campaign_id: 'cmp_spring',
    campaign_name: 'Spring sale, north-west region launch week',
    share: 0.5,
  },
  { provider: 'sori', campaign_id: 'cmp_autumn', campaign_name: 'Autumn sale', share: 0.3 },
  { provider: 'symphony', campaign_id: 'cmp_kiosk', campaign_name: null, share: 0.2 },
];
const BREAKDOWN_ROWS: Record<Breakdown, { key: string; name?: string | null; share: number }[]> = {
  platform: [
    { key: 'Android', share: 0.6 },
    { key: 'iOS', share: 0.4 },
  ],
  country: [
    { key: 'United States', share: 0.7 },
    { key: 'United Kingdom of Great Britain and Northern Ireland', share: 0.3 },
  ],
  material: [
    { key: 'mat_hero_1200x628', name: 'Homepage hero banner 1200×628, second version', share: 0.55 },
    { key: 'mat_5678', name: 'Audio Spot 15s', share: 0.45 },
  ],
};

/** The part of all traffic a filter keeps. */
function shareOf(filter: Filter): number {
  const campaign = filter.campaign
    ? (CAMPAIGNS.find((c) => c.campaign_id === filter.campaign)?.share ?? 0)
    : 1;
  const value = filter.breakdown
    ? (BREAKDOWN_ROWS[filter.breakdown].find((r) => r.key === filter.value)?.share ?? 0)
    : 1;
  return campaign * value;
}

/** One day's figures: a weekly wave and a slow rise, so that a period and the one before differ. */
function dayFigures(day: string, filter: Filter) {
  const n = Math.round(Date.parse(`${day}T00:00:00Z`) / DAY_MS);
  const share = shareOf(filter);
  const impressions = Math.round((900 + ((n * 37) % 400) + (n % 90) * 3) * share);
  const clicks = Math.round(impressions * (0.02 + ((n * 7) % 5) / 1000));
  return {
    day,
    impressions,
    clicks,
    ctr: impressions > 0 ? clicks / impressions : null,
    unique_devices: filter.breakdown ? null : Math.round(impressions * 0.6),
  };
}

function sumOf(days: ReturnType<typeof dayFigures>[]) {
  const impressions = days.reduce((t, d) => t + d.impressions, 0);
  const clicks = days.reduce((t, d) => t + d.clicks, 0);
  return { impressions, clicks };
}

/** What the contract's `/api/dashboard` answers for `from`..`to` and a filter. */
function answer(from: string, to: string, tz: string, filter: Filter) {
  const n = daysOf(from, to).length;
  const daily = daysOf(from, to).map((day) => dayFigures(day, filter));
  const totals = sumOf(daily);
  const before = { from: addDays(from, -n), to: addDays(from, -1) };
  const previousTotals = sumOf(daysOf(before.from, before.to).map((day) => dayFigures(day, filter)));
  const devices = (impressions: number) => (filter.breakdown ? null : Math.round(impressions * 0.45));
  const campaigns = CAMPAIGNS.filter((c) => !filter.campaign || c.campaign_id === filter.campaign).map(
    (c) => {
      const part = filter.campaign ? 1 : c.share;
      const impressions = Math.round(totals.impressions * part);
      const clicks = Math.round(totals.clicks * part);
      return {
        provider: c.provider,
        campaign_id: c.campaign_id,
        day: to,
        campaign_name: c.campaign_name,
        impressions,
        clicks,
        ctr: impressions > 0 ? clicks / impressions : null,
        unique_devices: devices(impressions),
      };
    },
  );
  const rows = (breakdown: Breakdown) => {
    if (filter.breakdown && filter.breakdown !== breakdown) return [];
    return BREAKDOWN_ROWS[breakdown]
      .filter((r) => !filter.breakdown || r.key === filter.value)
      .map((r) => {
        const part = filter.breakdown ? 1 : r.share;
        return {
          key: r.key,
          ...(breakdown === 'material' ? { name: r.name ?? null } : {}),
          impressions: Math.round(totals.impressions * part),
          clicks: Math.round(totals.clicks * part),
        };
      });
  };
  const hourly = Array.from({ length: 24 }, (_, hour) => ({
    hour,
    impressions: filter.breakdown ? 0 : Math.round((totals.impressions * (hour + 1)) / 300),
    clicks: filter.breakdown ? 0 : Math.round((totals.clicks * (hour + 1)) / 300),
  }));
  const latest = [
    { at: '23:05:07.250', campaign: CAMPAIGNS[0], event: 'campaign.click' },
    { at: '09:30:00.000', campaign: CAMPAIGNS[1], event: 'campaign.impression' },
  ]
    .filter((e) => !filter.campaign || e.campaign?.campaign_id === filter.campaign)
    .map((e, i) => ({
      id: `sori_event_${i}`,
      provider: e.campaign?.provider,
      event: e.event,
      campaign_id: e.campaign?.campaign_id,
      campaign_name: e.campaign?.campaign_name,
      device_id: `device_${i}`,
      platform: 'Android',
      created_at: `${to}T${e.at}Z`,
      geolocation: { viewer_country: 'United States', viewer_region: null, viewer_city: null },
    }));
  return {
    day: to,
    from,
    to,
    tz,
    days_in: 'UTC',
    filter,
    campaigns,
    totals: { ...totals, unique_devices: devices(totals.impressions) },
    hourly,
    hourly_available: !filter.breakdown,
    breakdowns: { platform: rows('platform'), country: rows('country'), material: rows('material') },
    latest,
    daily,
    previous: {
      ...before,
      ...previousTotals,
      ctr: previousTotals.impressions > 0 ? previousTotals.clicks / previousTotals.impressions : null,
      unique_devices: devices(previousTotals.impressions),
    },
    delivery: {
      received: 5234,
      stored: 5098,
      duplicates: 122,
      quarantined: 14,
      refused: null,
      dead_letters: 2,
      oldest_message_age_s: null,
      by_provider: [
        { provider: 'sori', received: 4100, stored: 3990, duplicates: 100, quarantined: 10, refused: null },
        { provider: 'symphony', received: 1134, stored: 1108, duplicates: 22, quarantined: 4, refused: null },
      ],
    },
  };
}

interface StandIn {
  origin: string;
  /** Every `/api/dashboard` query the page sent, in order. */
  asked: URLSearchParams[];
  close(): Promise<void>;
}

/**
 * The page at `/` under the deployed function's Content-Security-Policy (with `signedIn`, the page as the
 * function serves it, its sign-in settings in it), and the stand-in API.
 */
async function startStandIn(html: string, signedIn = false): Promise<StandIn> {
  const served = servedPage(html, SIGN_IN);
  const asked: URLSearchParams[] = [];
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/') {
      response
        .writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy': served.contentSecurityPolicy,
        })
        .end(signedIn ? served.body : html);
      return;
    }
    if (url.pathname === '/api/dashboard') {
      asked.push(url.searchParams);
      const q = url.searchParams;
      const filter: Filter = {
        provider: q.get('provider'),
        campaign: q.get('campaign'),
        breakdown: q.get('breakdown') as Breakdown | null,
        value: q.get('value'),
      };
      const to = q.get('to') ?? today();
      const body = answer(q.get('from') ?? to, to, q.get('tz') ?? 'UTC', filter);
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      return;
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    asked,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Element boxes as the page lays them out, read in the page (the test's TypeScript has no DOM types). */
interface Box {
  left: number;
  right: number;
  top: number;
  bottom: number;
}
const boxes = (page: Page, selector: string) =>
  page.evaluate(
    `[...document.querySelectorAll(${JSON.stringify(selector)})].map((e) => { const r = e.getBoundingClientRect(); return { left: r.left, right: r.right, top: r.top, bottom: r.bottom }; })`,
  ) as Promise<Box[]>;
const texts = (page: Page, selector: string) => page.locator(selector).allTextContents();

/** Whether the page sent a query with exactly these parameters (and no filter it was not given). */
function sent(standIn: StandIn, expected: Record<string, string>) {
  return standIn.asked.some((q) => {
    const names = new Set([...q.keys()]);
    for (const name of ['provider', 'campaign', 'breakdown', 'value'])
      if (names.has(name) && !(name in expected)) return false;
    return Object.entries(expected).every(([name, value]) => q.get(name) === value);
  });
}

// Chromium comes from Debian (`apt-get install chromium`), which .ci/run installs; without it this suite is
// skipped, as the other browser suites are.
describe.skipIf(!existsSync(CHROMIUM))('the dashboard over ranges, in a real browser', () => {
  let browser: Browser;
  let html: string;

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--headless',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
      ],
    });
    html = await readFile(PAGE, 'utf8');
    await mkdir(RESULTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** A page on the stand-in, in a browser set to Berlin time; every CSP violation or page error it reports. */
  async function open(
    standIn: StandIn,
    viewport: { width: number; height: number },
    path = '/',
    options: BrowserContextOptions = {},
  ) {
    const context = await browser.newContext({
      viewport,
      locale: 'en-US',
      timezoneId: 'Europe/Berlin',
      ...options,
    });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(String(error)));
    await page.goto(`${standIn.origin}${path}`);
    return { page, problems };
  }

  /** The Y labels of a chart, bottom first, read as numbers (`12K` is 12000, `2.5 %` is 2.5). */
  async function yTicks(page: Page, chart: string) {
    const labels = (await page.evaluate(
      `[...document.querySelectorAll('#${chart} text.y-tick')].sort((a, b) => Number(b.getAttribute('y')) - Number(a.getAttribute('y'))).map((t) => t.textContent)`,
    )) as string[];
    const unit: Record<string, number> = { '': 1, K: 1e3, M: 1e6 };
    const values = labels.map((label) => {
      const [, digits = '', suffix = ''] = /^([\d.,]+)\s?([KM%]?)$/.exec(label) ?? [];
      return Number(digits.replace(/,/g, '')) * (suffix === '%' ? 1 : (unit[suffix] ?? Number.NaN));
    });
    return { labels, values };
  }

  /** Each trend chart's axes: distinct labels, evenly spaced from 0 past the highest point, day labels apart. */
  async function expectNiceAxes(page: Page, highest: Record<string, number>) {
    for (const chart of ['trend-impressions', 'trend-clicks', 'trend-ctr']) {
      const { labels, values } = await yTicks(page, chart);
      const all = labels.join(' ');
      expect(labels.length, `${chart}: ${all}`).toBeGreaterThanOrEqual(2);
      expect(labels.length, `${chart}: ${all}`).toBeLessThanOrEqual(6);
      expect(new Set(labels).size, `${chart}: ${all}`).toBe(labels.length);
      expect(values[0], `${chart}: ${all}`).toBe(0);
      const step = (values[1] ?? 0) - (values[0] ?? 0);
      expect(step, `${chart}: ${all}`).toBeGreaterThan(0);
      values.forEach((v, i) => {
        expect(v, `${chart}: ${all}`).toBeCloseTo(i * step, 6);
      });
      expect(values.at(-1), `${chart}: ${all}`).toBeGreaterThanOrEqual(highest[chart] ?? 0);
      const days = await texts(page, `#${chart} text.x-tick`);
      expect(days.length, chart).toBeGreaterThanOrEqual(2);
      expect(new Set(days).size, `${chart}: ${days.join(' ')}`).toBe(days.length);
      const spans = (await boxes(page, `#${chart} text.x-tick`)).sort((a, b) => a.left - b.left);
      spans.slice(1).forEach((span, i) => {
        expect(span.left, `${chart}: day labels overlap`).toBeGreaterThanOrEqual(spans[i]?.right ?? 0);
      });
      const [svg] = await boxes(page, `#${chart}`);
      for (const span of spans) {
        expect(span.left, chart).toBeGreaterThanOrEqual(svg?.left ?? 0);
        expect(span.right, chart).toBeLessThanOrEqual((svg?.right ?? 0) + 0.5);
      }
    }
  }

  it('shows 30 days at 1280 px: asks the API for the 30 UTC days up to today in the browser’s zone, draws each day beside the same day of the 30 days before, with distinct, evenly spaced axis labels, no clipped column, and keeps the range over a reload', async () => {
    const standIn = await startStandIn(html);
    const { page, problems } = await open(standIn, WIDE);
    const to = today();
    const from = addDays(to, -29);
    await expect
      .poll(() => sent(standIn, { from: to, to, tz: 'Europe/Berlin' }), { timeout: 15_000 })
      .toBe(true);
    await page.locator('button[data-range="30d"]').click();
    await expect.poll(() => sent(standIn, { from, to, tz: 'Europe/Berlin' }), { timeout: 15_000 }).toBe(true);
    expect(new URL(page.url()).search).toBe('?range=30d');
    expect(await page.locator('button[data-range="30d"]').getAttribute('aria-pressed')).toBe('true');
    expect(await page.locator('#range-from').inputValue()).toBe(from);
    expect(await page.locator('#day-picker').inputValue()).toBe(to);

    // The period before, for its days: asked once, with the same zone.
    const before = { from: addDays(from, -30), to: addDays(from, -1) };
    await expect
      .poll(() => sent(standIn, { ...before, tz: 'Europe/Berlin' }), { timeout: 15_000 })
      .toBe(true);
    const none: Filter = { provider: null, campaign: null, breakdown: null, value: null };
    const now = answer(from, to, 'Europe/Berlin', none);
    await expect
      .poll(() => page.locator('#kpi-impressions').textContent(), { timeout: 15_000 })
      .toBe(number.format(now.totals.impressions));
    expect(await page.locator('#day').textContent()).toMatch(/ \(30 UTC days\)$/);

    // 30 days drawn, each with the figure of that day and of the same day of the period before.
    await expect.poll(() => page.locator('#trend-impressions circle.current').count()).toBe(30);
    await expect
      .poll(() => page.locator('#trend-impressions path.previous').getAttribute('d'), { timeout: 15_000 })
      .toMatch(/^M[\d.]+ [\d.]+(L[\d.]+ [\d.]+){29}$/);
    expect(await page.locator('#trend-impressions path.current').getAttribute('d')).toMatch(
      /^M[\d.]+ [\d.]+(L[\d.]+ [\d.]+){29}$/,
    );
    const thatDay = (day: string) => dayFigures(day, none);
    for (const i of [0, 17, 29]) {
      const day = addDays(from, i);
      const earlier = addDays(before.from, i);
      expect(await page.locator(`#trend-impressions rect.hit[data-day="${day}"] title`).textContent()).toBe(
        `${shortDay(day)}: impressions ${number.format(thatDay(day).impressions)}; ${shortDay(earlier)}, the period before: ${number.format(thatDay(earlier).impressions)}; ${number.format(thatDay(day).unique_devices ?? 0)} unique devices`,
      );
      expect(await page.locator(`#trend-clicks rect.hit[data-day="${day}"] title`).textContent()).toContain(
        `clicks ${number.format(thatDay(day).clicks)}; ${shortDay(earlier)}, the period before: ${number.format(thatDay(earlier).clicks)}`,
      );
    }
    const dashed = await page.evaluate(
      `getComputedStyle(document.querySelector('#trend-impressions path.previous')).strokeDasharray`,
    );
    expect(dashed).not.toBe('none');
    expect(await page.locator('#previous-range').textContent()).toBe(
      `the 30 days before, ${shortDay(before.from)} – ${shortDay(before.to)}`,
    );

    // The key numbers and their change against the period before.
    const change = (a: number, b: number) =>
      `${a > b ? '▲' : a < b ? '▼' : '±'} ${Math.abs(((a - b) / b) * 100).toFixed(1)} % vs the 30 days before`;
    expect(await page.locator('#delta-impressions').textContent()).toBe(
      change(now.totals.impressions, now.previous.impressions),
    );
    expect(await page.locator('#delta-clicks').textContent()).toBe(
      change(now.totals.clicks, now.previous.clicks),
    );
    expect(await page.locator('#kpi-devices').textContent()).toBe(
      number.format(now.totals.unique_devices ?? 0),
    );

    const days = now.daily;
    await expectNiceAxes(page, {
      'trend-impressions': Math.max(...days.map((d) => d.impressions)),
      'trend-clicks': Math.max(...days.map((d) => d.clicks)),
      'trend-ctr': Math.max(...days.map((d) => (d.ctr ?? 0) * 100)),
    });

    // No table keeps a column out of sight: nothing scrolls sideways, every cell ends inside its panel.
    const hidden = await page.evaluate(
      `[...document.querySelectorAll('main .scroll, main table')].filter((e) => e.scrollWidth > e.clientWidth).map((e) => e.closest('section').querySelector('h2').textContent)`,
    );
    expect(hidden).toEqual([]);
    for (const section of [
      '#delivery-panel',
      'section:has(#campaigns)',
      'section:has(#by-country)',
      'section:has(#by-material)',
    ]) {
      const [panel] = await boxes(page, section);
      for (const cell of await boxes(page, `${section} tr > :last-child`)) {
        expect(cell.right, section).toBeLessThanOrEqual((panel?.right ?? 0) + 0.5);
      }
    }
    await page.screenshot({ path: join(RESULTS, 'dashboard-range-30d-1280.png'), fullPage: true });

    // A reload shows the same range, from the address alone.
    const count = standIn.asked.length;
    await page.reload();
    await expect
      .poll(() => standIn.asked.slice(count).some((q) => q.get('from') === from && q.get('to') === to), {
        timeout: 15_000,
      })
      .toBe(true);
    expect(await page.locator('button[data-range="30d"]').getAttribute('aria-pressed')).toBe('true');
    expect(problems).toEqual([]);
    await page.context().close();
    await standIn.close();
  });

  it('puts the key numbers and their change against the period before on the first screen of a 390 px phone, with the 30-day trend inside the screen’s width and nothing to scroll sideways', async () => {
    const standIn = await startStandIn(html);
    const { page, problems } = await open(standIn, PHONE, '/?range=30d');
    await expect
      .poll(() => page.locator('#trend-impressions circle.current').count(), { timeout: 15_000 })
      .toBe(30);
    await expect
      .poll(() => page.locator('#trend-impressions path.previous').count(), { timeout: 15_000 })
      .toBe(1);
    const first = await page.evaluate(`document.querySelector('main').firstElementChild.className`);
    expect(first).toBe('kpis');
    for (const selector of ['.kpi span', '.kpi strong', '.kpi .delta']) {
      const found = await boxes(page, selector);
      expect(found, selector).toHaveLength(4);
      for (const box of found) {
        expect(box.left, selector).toBeGreaterThanOrEqual(0);
        expect(box.right, selector).toBeLessThanOrEqual(PHONE.width);
        expect(box.bottom, selector).toBeLessThanOrEqual(PHONE.height);
      }
    }
    for (const delta of await texts(page, '.kpi .delta'))
      expect(delta).toMatch(/^[▲▼±] \d+\.\d\d? (%|pt) vs the 30 days before$/);
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width);
    const scrollers = await page.evaluate(
      `[...document.querySelectorAll('main .scroll, main table')].filter((e) => e.scrollWidth > e.clientWidth).length`,
    );
    expect(scrollers).toBe(0);
    for (const cell of await boxes(page, 'main td, main th, main svg')) {
      expect(cell.left).toBeGreaterThanOrEqual(0);
      expect(cell.right).toBeLessThanOrEqual(PHONE.width);
    }
    const days = answer(addDays(today(), -29), today(), 'UTC', {
      provider: null,
      campaign: null,
      breakdown: null,
      value: null,
    }).daily;
    await expectNiceAxes(page, {
      'trend-impressions': Math.max(...days.map((d) => d.impressions)),
      'trend-clicks': Math.max(...days.map((d) => d.clicks)),
      'trend-ctr': Math.max(...days.map((d) => (d.ctr ?? 0) * 100)),
    });
    await page.screenshot({ path: join(RESULTS, 'dashboard-range-30d-390.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.context().close();
    await standIn.close();
  });

  it('filters everything by a campaign clicked in its table: the query carries provider and campaign, a chip names it and clears it, and Back goes to where it was', async () => {
    const standIn = await startStandIn(html);
    const { page, problems } = await open(standIn, WIDE, '/?range=7d');
    const to = today();
    const from = addDays(to, -6);
    const link = page.locator('tr[data-campaign="cmp_spring"] a.drill');
    await expect.poll(() => link.count(), { timeout: 15_000 }).toBe(1);
    await link.click();
    await expect
      .poll(() => sent(standIn, { from, to, provider: 'sori', campaign: 'cmp_spring' }), { timeout: 15_000 })
      .toBe(true);
    const query = new URL(page.url()).searchParams;
    expect([query.get('range'), query.get('provider'), query.get('campaign')]).toEqual([
      '7d',
      'sori',
      'cmp_spring',
    ]);
    const chip = page.locator('#filters .chip[data-filter="campaign"]');
    await expect.poll(() => chip.isVisible()).toBe(true);
    expect(await chip.textContent()).toBe('Campaign: Spring sale, north-west region launch week (sori)×');
    const filtered = answer(from, to, 'Europe/Berlin', {
      provider: 'sori',
      campaign: 'cmp_spring',
      breakdown: null,
      value: null,
    });
    await expect
      .poll(() => page.locator('#kpi-impressions').textContent(), { timeout: 15_000 })
      .toBe(number.format(filtered.totals.impressions));
    await expect.poll(() => page.locator('#campaigns tr').count()).toBe(1);
    // Under a campaign filter every panel is cut by it: hours, breakdowns and devices are shown.
    expect(await page.locator('#hourly').isVisible()).toBe(true);
    expect(await page.locator('#kpi-devices').textContent()).toBe(
      number.format(filtered.totals.unique_devices ?? 0),
    );
    await page.screenshot({ path: join(RESULTS, 'dashboard-range-campaign-1280.png'), fullPage: true });

    const count = standIn.asked.length;
    await chip.locator('button').click();
    await expect.poll(() => chip.count()).toBe(0);
    await expect
      .poll(() => standIn.asked.slice(count).some((q) => !q.has('campaign') && q.get('from') === from))
      .toBe(true);
    expect(new URL(page.url()).search).toBe('?range=7d');
    await expect.poll(() => page.locator('#campaigns tr').count()).toBe(3);
    // Back: the campaign filter again, from the browser's history.
    await page.goBack();
    await expect.poll(() => chip.isVisible()).toBe(true);
    expect(new URL(page.url()).searchParams.get('campaign')).toBe('cmp_spring');
    expect(problems).toEqual([]);
    await page.context().close();
    await standIn.close();
  });

  it('filters by a breakdown value clicked in its table, and says “not available for this filter”, never 0, where the counters cannot be cut by it: hours, the other breakdowns, unique devices (at 1280 and 390 px)', async () => {
    const standIn = await startStandIn(html);
    for (const [viewport, name] of [
      [WIDE, '1280'],
      [PHONE, '390'],
    ] as const) {
      const { page, problems } = await open(standIn, viewport, '/?range=30d');
      const country = page.locator('#by-country a.drill', { hasText: 'United States' });
      await expect.poll(() => country.count(), { timeout: 15_000 }).toBe(1);
      await country.click();
      await expect
        .poll(
          () =>
            sent(standIn, {
              from: addDays(today(), -29),
              to: today(),
              breakdown: 'country',
              value: 'United States',
            }),
          { timeout: 15_000 },
        )
        .toBe(true);
      const chip = page.locator('#filters .chip[data-filter="country"]');
      await expect.poll(() => chip.textContent()).toBe('Country: United States×');
      await expect
        .poll(() => page.locator('#kpi-devices').textContent(), { timeout: 15_000 })
        .toBe('not available for this filter');
      expect(await page.locator('#hourly-na').isVisible()).toBe(true);
      expect(await page.locator('#hourly').isVisible()).toBe(false);
      expect(await texts(page, '#by-platform td:first-child')).toEqual(['not available for this filter']);
      expect(await texts(page, '#by-material td:first-child')).toEqual(['not available for this filter']);
      expect(await texts(page, '#by-country td:first-child')).toEqual(['United States']);
      // Each campaign's devices and the total's: a dash that says why, not a zero.
      const devices = page.locator('#campaign-table tr > td:nth-child(6)');
      expect(await devices.allTextContents()).toEqual(['—', '—', '—', '—']);
      expect(await devices.first().locator('span').getAttribute('title')).toMatch(
        /^Not available for this filter/,
      );
      expect(await page.locator('#delta-devices').textContent()).toBe('');
      expect(await page.locator('#filter-note').textContent()).toContain(
        'the hourly chart, the other breakdowns and unique devices are not available for this filter',
      );
      const [first] = await boxes(page, '.kpi strong');
      expect(first?.bottom).toBeLessThanOrEqual(viewport.height);
      expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(viewport.width);
      await page.screenshot({ path: join(RESULTS, `dashboard-range-country-${name}.png`), fullPage: true });
      expect(problems).toEqual([]);
      await page.context().close();
    }
    await standIn.close();
  });

  it('shows delivery health for the range: each figure, a row per provider, “—” with the reason for a figure the API cannot give, and the events commands that list the quarantined and dead-lettered deliveries', async () => {
    const standIn = await startStandIn(html);
    const { page, problems } = await open(standIn, WIDE, '/?range=30d');
    const figure = (id: string) => page.locator(`#delivery-${id}`).textContent();
    await expect.poll(() => figure('received'), { timeout: 15_000 }).toBe('5,234');
    expect(await figure('stored')).toBe('5,098');
    expect(await figure('duplicates')).toBe('122');
    expect(await figure('quarantined')).toBe('14');
    expect(await figure('dead-letters')).toBe('2');
    expect(await figure('refused')).toBe('—');
    expect(await page.locator('#delivery-refused span').getAttribute('title')).toMatch(
      /^Not known: refusals/,
    );
    expect(await figure('oldest')).toBe('—');
    expect(await page.locator('#delivery-oldest span').getAttribute('title')).toMatch(
      /^Not known: the events queue/,
    );
    expect(await texts(page, '#delivery-providers tr:first-child td')).toEqual([
      'sori',
      '4,100',
      '3,990',
      '100',
      '10',
      '—',
    ]);
    expect(await page.locator('#delivery-providers tr').count()).toBe(2);
    expect(await page.locator('#cli-quarantine').textContent()).toBe('npm run -s events -- quarantine');
    expect(await page.locator('#cli-reprocess').textContent()).toBe(
      'npm run -s events -- reprocess --dry-run',
    );
    expect(await page.locator('#cli-dlq').textContent()).toBe('npm run -s events -- dlq list');
    await page
      .locator('#delivery-panel')
      .screenshot({ path: join(RESULTS, 'dashboard-range-delivery-1280.png') });
    expect(problems).toEqual([]);
    await page.context().close();

    // On a phone the per-provider rows are labelled cards, inside the screen.
    const phone = await open(standIn, PHONE, '/?range=30d');
    await expect
      .poll(() => phone.page.locator('#delivery-providers tr').count(), { timeout: 15_000 })
      .toBe(2);
    for (const cell of await boxes(phone.page, '#delivery-panel td, #delivery-panel code')) {
      expect(cell.left).toBeGreaterThanOrEqual(0);
      expect(cell.right).toBeLessThanOrEqual(PHONE.width);
    }
    await phone.page
      .locator('#delivery-panel')
      .screenshot({ path: join(RESULTS, 'dashboard-range-delivery-390.png') });
    await phone.page.context().close();
    await standIn.close();
  });

  it('names the deployed stack’s form of the commands when served by the deployed function, signed in, with no Content-Security-Policy violation', async () => {
    const standIn = await startStandIn(html, true);
    const context = await browser.newContext({ viewport: WIDE, locale: 'en-US' });
    // Signed in already: a token this tab got a minute ago (the stand-in API does not check it).
    await context.addInitScript(
      `sessionStorage.setItem('campaign-inbox.tokens', JSON.stringify({ accessToken: 'token', expiresAt: Date.now() + 3600000, signedInAt: Date.now() - 60000 }))`,
    );
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(String(error)));
    await page.goto(`${standIn.origin}/?range=7d`);
    await expect
      .poll(() => page.locator('#delivery-received').textContent(), { timeout: 15_000 })
      .toBe('5,234');
    expect(await page.locator('#cli-quarantine').textContent()).toBe(
      'npx campaign-inbox events quarantine --stack <stack name>',
    );
    expect(await page.locator('#cli-reprocess').textContent()).toBe(
      'npx campaign-inbox events reprocess --dry-run --stack <stack name>',
    );
    expect(await page.locator('#cli-dlq').textContent()).toBe(
      'npx campaign-inbox events dlq list --stack <stack name>',
    );
    await expect.poll(() => page.locator('#trend-impressions circle.current').count()).toBe(7);
    expect(problems).toEqual([]);
    await context.close();
    await standIn.close();
  });

  it('shows times in the zone picked on the page (the browser’s by default), sends it, keeps it over a reload, and says that days are cut in UTC', async () => {
    const standIn = await startStandIn(html);
    const { page, problems } = await open(standIn, WIDE, '/?from=2025-10-01&to=2025-10-14');
    await expect
      .poll(() => sent(standIn, { from: '2025-10-01', to: '2025-10-14', tz: 'Europe/Berlin' }), {
        timeout: 15_000,
      })
      .toBe(true);
    await expect
      .poll(() => texts(page, '#latest td:first-child'), { timeout: 15_000 })
      .toEqual(['Oct 15, 01:05:07', 'Oct 14, 11:30:00']);
    expect(await page.locator('#zone').textContent()).toBe(
      'Days are cut in UTC: the counters are kept per UTC day. Times are shown in Europe/Berlin.',
    );
    expect(await page.locator('button[data-range="custom"]').getAttribute('aria-pressed')).toBe('true');
    expect(await page.locator('#day').textContent()).toBe('Oct 1, 2025 – Oct 14, 2025 (14 UTC days)');

    await page.locator('#tz').selectOption('Asia/Tokyo');
    await expect
      .poll(() => sent(standIn, { from: '2025-10-01', to: '2025-10-14', tz: 'Asia/Tokyo' }), {
        timeout: 15_000,
      })
      .toBe(true);
    await expect
      .poll(() => texts(page, '#latest td:first-child'))
      .toEqual(['Oct 15, 08:05:07', 'Oct 14, 18:30:00']);
    expect(await page.locator('#latest-time').textContent()).toBe('Created at (Asia/Tokyo)');
    await expect
      .poll(() => page.locator('#status').textContent())
      .toMatch(/^updated \d\d:\d\d:\d\d Asia\/Tokyo$/);
    expect(new URL(page.url()).searchParams.get('tz')).toBe('Asia/Tokyo');
    await page.reload();
    await expect
      .poll(() => texts(page, '#latest td:first-child'), { timeout: 15_000 })
      .toEqual(['Oct 15, 08:05:07', 'Oct 14, 18:30:00']);
    expect(await page.locator('#tz').inputValue()).toBe('Asia/Tokyo');
    expect(await page.locator('#zone').textContent()).toBe(
      'Days are cut in UTC: the counters are kept per UTC day. Times are shown in Asia/Tokyo.',
    );
    expect(problems).toEqual([]);
    await page.context().close();
    await standIn.close();
  });

  it('asks for a custom range picked in its date inputs, moves the other end along when one passes it, cuts a range longer than 92 days, and reads the first version’s ?day= link as that one day', async () => {
    const standIn = await startStandIn(html);
    const { page, problems } = await open(standIn, WIDE, '/?day=2025-10-14');
    await expect
      .poll(() => sent(standIn, { from: '2025-10-14', to: '2025-10-14' }), { timeout: 15_000 })
      .toBe(true);
    expect(await page.locator('#day').textContent()).toBe('Tue, Oct 14, 2025 (UTC)');
    expect(await page.locator('#day-picker').inputValue()).toBe('2025-10-14');
    // The first version's address is not rewritten until something is picked.
    expect(new URL(page.url()).search).toBe('?day=2025-10-14');

    await page.locator('#range-from').fill('2025-09-01');
    await expect
      .poll(() => sent(standIn, { from: '2025-09-01', to: '2025-10-14' }), { timeout: 15_000 })
      .toBe(true);
    expect(new URL(page.url()).search).toBe('?from=2025-09-01&to=2025-10-14');
    // A start after the end: the end moves to it.
    await page.locator('#range-from').fill('2025-11-02');
    await expect
      .poll(() => sent(standIn, { from: '2025-11-02', to: '2025-11-02' }), { timeout: 15_000 })
      .toBe(true);
    // An end 120 days after the start: the start moves up, to make the range 92 days.
    await page.locator('#day-picker').fill('2026-03-01');
    await expect
      .poll(() => sent(standIn, { from: '2025-11-30', to: '2026-03-01' }), { timeout: 15_000 })
      .toBe(true);
    expect(await page.locator('#range-from').inputValue()).toBe('2025-11-30');
    await expect
      .poll(() => page.locator('#trend-impressions rect.hit').count(), { timeout: 15_000 })
      .toBe(92);
    expect(standIn.asked.every((q) => !q.has('day'))).toBe(true);
    expect(problems).toEqual([]);
    await page.context().close();
    await standIn.close();
  });

  it('asks nothing while the tab is out of sight, and asks at once when it is back', async () => {
    const standIn = await startStandIn(html);
    const context = await browser.newContext({ viewport: WIDE, locale: 'en-US' });
    const page = await context.newPage();
    // The page's clock runs only when the test says: its refresh timer fires exactly as often as the time run.
    await page.clock.install();
    await page.goto(`${standIn.origin}/`);
    await expect.poll(() => standIn.asked.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(1);
    await expect.poll(() => page.locator('#kpi-impressions').textContent()).not.toBe('–');
    // Visible: a refresh every 2 s of the page's time (today's range is live).
    const loaded = standIn.asked.length;
    await page.clock.runFor(4_100);
    await expect.poll(() => standIn.asked.length, { timeout: 15_000 }).toBeGreaterThan(loaded);
    // No request on its way (the page's own flag), so that coming back in sight asks at once.
    await expect.poll(() => page.evaluate('inFlight'), { timeout: 15_000 }).toBe(0);
    await page.evaluate(
      `Object.defineProperty(document, 'hidden', { configurable: true, get: () => true }); document.dispatchEvent(new Event('visibilitychange'))`,
    );
    const before = standIn.asked.length;
    await page.clock.runFor(60_000);
    expect(standIn.asked.length).toBe(before);
    await page.evaluate(
      `Object.defineProperty(document, 'hidden', { configurable: true, get: () => false }); document.dispatchEvent(new Event('visibilitychange'))`,
    );
    await expect.poll(() => standIn.asked.length, { timeout: 15_000 }).toBe(before + 1);
    await context.close();
    await standIn.close();
  });

  /** The local stack as `npm start` runs it, on a data folder of its own (the events tool finds it there). */
  async function withLocalStack(
    run: (stack: LocalStack, post: (body: string) => Promise<string>, dataDir: string) => Promise<void>,
  ) {
    const dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-range-'));
    const secret = 'sk_browser_range';
    const stack = await startLocalStack({
      port: 0,
      dataDir,
      secret,
      layout: { shards: 2, retentionDays: null },
      logger: memoryLogger().logger,
    });
    const post = async (body: string) => {
      const response = await fetch(stack.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-sori-signature': hexSignature(body, secret) },
        body,
      });
      expect(response.status).toBe(202);
      return body;
    };
    try {
      await run(stack, post, dataDir);
    } finally {
      await stack.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }

  /** Runs a command as the delivery panel shows it (`npm run -s events -- …`) on the stack's data folder. */
  async function runShown(page: Page, id: string, dataDir: string) {
    const shown = String(await page.locator(`#${id}`).textContent());
    expect(shown.startsWith('npm run -s events -- '), shown).toBe(true);
    const run = await runTool('events', shown.slice('npm run -s events -- '.length).split(' '), {
      DATA_DIR: dataDir,
    });
    expect(run.code, `${shown}: ${run.stderr}`).toBe(0);
    return run;
  }

  it('reads a 30-day range from the real local stack: the days with events, their sum, exact unique devices, a campaign drill-down, the deliveries received, stored and dropped as duplicates, and the events commands it shows run on that stack', async () => {
    await withLocalStack(async (stack, post, dataDir) => {
      const to = today();
      const days = [addDays(to, -20), addDays(to, -3)];
      let sentCount = 0;
      const deliver = async (
        day: string,
        campaign: string,
        device: string,
        event = 'campaign.impression',
      ) => {
        sentCount += 1;
        const at = `${day}T10:00:0${sentCount % 10}.000Z`;
        const payload = {
          ...soriPayload('impression'),
          event,
          activity_id: `act_range_${sentCount}`,
          device_id: device,
          created_at: at,
          timestamp: at,
          campaign: {
            id: campaign,
            name: campaign === 'cmp_range' ? 'Range campaign' : 'Other campaign',
            tags: [],
            image: null,
          },
        };
        return post(JSON.stringify(payload));
      };
      // The same two devices on both days: 4 impressions, 1 click, 2 unique devices over the range.
      for (const day of days) {
        await deliver(day, 'cmp_range', 'device_a');
        await deliver(day, 'cmp_range', 'device_b');
      }
      const click = await deliver(days[1] ?? to, 'cmp_range', 'device_a', 'campaign.click');
      await deliver(days[1] ?? to, 'cmp_other', 'device_z');
      // SORI's retry of the click: 7 deliveries received today, 6 stored, 1 dropped as a duplicate.
      await post(click);
      await stack.foldNow();

      const context = await browser.newContext({ viewport: WIDE, locale: 'en-US', timezoneId: 'UTC' });
      const page = await context.newPage();
      await page.goto(`http://127.0.0.1:${stack.port}/?range=30d`);
      await expect
        .poll(() => page.locator('tr[data-campaign="cmp_range"] td').allTextContents(), { timeout: 20_000 })
        .toEqual(['Range campaigncmp_range', 'sori', '4', '1', '25.0 %', '2']);
      expect(await page.locator('#kpi-impressions').textContent()).toBe('5');
      expect(await page.locator('#kpi-devices').textContent()).toBe('3');
      await expect.poll(() => page.locator('#trend-impressions circle.current').count()).toBe(30);
      for (const [day, impressions] of [
        [days[0], 2],
        [days[1], 3],
        [addDays(to, -10), 0],
      ] as const) {
        expect(
          await page.locator(`#trend-impressions rect.hit[data-day="${day}"] title`).textContent(),
        ).toMatch(new RegExp(`^${shortDay(day ?? to)}: impressions ${impressions}(;|$)`));
      }
      await expect
        .poll(() => page.locator('#delivery-received').textContent(), { timeout: 15_000 })
        .toBe('7');
      expect(await page.locator('#delivery-stored').textContent()).toBe('6');
      expect(await page.locator('#delivery-duplicates').textContent()).toBe('1');
      expect((await texts(page, '#delivery-providers tr td')).slice(0, 4)).toEqual(['sori', '7', '6', '1']);

      await page.locator('tr[data-campaign="cmp_range"] a.drill').click();
      await expect.poll(() => page.locator('#campaigns tr').count(), { timeout: 15_000 }).toBe(1);
      await expect.poll(() => page.locator('#kpi-impressions').textContent(), { timeout: 15_000 }).toBe('4');
      expect(await page.locator('#kpi-devices').textContent()).toBe('2');
      await page.screenshot({ path: join(RESULTS, 'dashboard-range-local-stack-1280.png'), fullPage: true });

      for (const id of ['cli-quarantine', 'cli-reprocess', 'cli-dlq']) await runShown(page, id, dataDir);
      await context.close();
    });
  });

  it('counts an authentic delivery quarantined on receipt among the range’s received and quarantined deliveries, which the quarantine command it shows lists, on the real local stack', async () => {
    await withLocalStack(async (stack, post, dataDir) => {
      await post(JSON.stringify({ event: 'campaign.share', account_id: 'acc_range' }));
      await stack.foldNow();
      const context = await browser.newContext({ viewport: WIDE, locale: 'en-US', timezoneId: 'UTC' });
      const page = await context.newPage();
      await page.goto(`http://127.0.0.1:${stack.port}/`);
      const run = await runShown(page, 'cli-quarantine', dataDir);
      expect(run.stdout).toContain('unknown event "campaign.share"');
      await expect
        .poll(() => page.locator('#delivery-quarantined').textContent(), { timeout: 15_000 })
        .toBe('1');
      expect(await page.locator('#delivery-received').textContent()).toBe('1');
      expect((await texts(page, '#delivery-providers tr td')).slice(0, 5)).toEqual([
        'sori',
        '1',
        '0',
        '0',
        '1',
      ]);
      await context.close();
    });
  });
});
