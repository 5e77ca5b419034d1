/**
 * The local dashboard read as its users read it, at 1280 px and on a 390 px phone: the chart's axis, tables
 * that show every column, the totals first on a phone, materials by name and times in UTC. One day in the past
 * (`?day=`), so that every time and count is known in advance.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Browser, type BrowserContextOptions, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/local-stack';
import { hexSignature, memoryLogger, soriPayload } from '../support/deliveries';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SECRET = 'sk_browser_readability';
const DAY = '2025-10-14';
const RESULTS = join(import.meta.dirname, '../../test-results');
const WIDE = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

interface Delivery {
  event?: 'campaign.impression' | 'campaign.click';
  campaign?: { id: string; name: string };
  material?: { id: string; name: string | null };
  device?: string;
  country?: string;
  platform?: string;
  /** Time of day on {@link DAY}, `HH:MM:SS.mmm` (UTC). */
  at: string;
}

/** Element boxes as the page lays them out, read in the page (the test's TypeScript has no DOM types). */
interface Box {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

// Chromium comes from Debian (`apt-get install chromium`), which .ci/run installs; without it this suite is
// skipped, as the other browser suites are.
describe.skipIf(!existsSync(CHROMIUM))('the local dashboard, read at 1280 px and on a phone', () => {
  let stack: LocalStack;
  let browser: Browser;
  let sent = 0;

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
    await mkdir(RESULTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
  });

  // A stack of its own for each test: each one reads a whole day's numbers.
  beforeEach(async () => {
    stack = await startLocalStack({
      port: 0,
      secret: SECRET,
      layout: { shards: 2, retentionDays: null },
      logger: memoryLogger().logger,
    });
  });
  afterEach(async () => {
    await stack?.stop();
  });

  async function deliver(delivery: Delivery) {
    sent += 1;
    const base = soriPayload('impression');
    const payload = {
      ...base,
      event: delivery.event ?? 'campaign.impression',
      activity_id: `act_readability_${sent}`,
      device_id: delivery.device ?? `device_${sent}`,
      platform: delivery.platform ?? 'Android',
      created_at: `${DAY}T${delivery.at}Z`,
      timestamp: `${DAY}T${delivery.at}Z`,
      geolocation: {
        viewer_country: delivery.country ?? 'United States',
        viewer_region: null,
        viewer_city: null,
      },
      campaign: {
        ...(delivery.campaign ?? { id: 'cmp_autumn', name: 'Autumn sale' }),
        tags: [],
        image: null,
      },
      material: {
        ...(delivery.material ?? { id: 'mat_5678', name: 'Audio Spot 15s' }),
        tags: [],
        image: null,
      },
    };
    const body = JSON.stringify(payload);
    const response = await fetch(stack.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-sori-signature': hexSignature(body, SECRET) },
      body,
    });
    expect(response.status).toBe(202);
  }

  /** A day of a few campaigns, materials, countries and platforms, long names among them. */
  async function deliverDay() {
    const campaigns = [
      { id: 'cmp_autumn', name: 'Autumn sale' },
      { id: 'cmp_winter_2025_launch', name: 'Winter collection launch, north-west region' },
    ];
    const materials = [
      { id: 'mat_5678', name: 'Audio Spot 15s' },
      { id: 'mat_hero_1200x628', name: 'Homepage hero banner 1200×628, second version' },
    ];
    const countries = ['United States', 'United Kingdom of Great Britain and Northern Ireland'];
    const platforms = ['Android', 'iOS'];
    for (let i = 0; i < 12; i++) {
      await deliver({
        campaign: campaigns[i % 2],
        material: materials[i % 2],
        country: countries[i % 2],
        platform: platforms[i % 2],
        device: `device_${i % 5}`,
        at: `${String(8 + (i % 4)).padStart(2, '0')}:1${i % 10}:0${i % 10}.000`,
        ...(i % 3 === 0 ? { event: 'campaign.click' as const } : {}),
      });
    }
  }

  async function open(
    viewport: { width: number; height: number },
    options: BrowserContextOptions = {},
    query = '',
  ) {
    const context = await browser.newContext({ viewport, locale: 'en-US', ...options });
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${stack.port}/?day=${DAY}${query}`);
    return page;
  }

  /** Waits for the counters to be folded and the page to show `impressions` impressions in total. */
  async function shows(page: Page, impressions: string) {
    await stack.foldNow();
    await expect
      .poll(() => page.locator('#kpi-impressions').textContent(), { timeout: 15_000 })
      .toBe(impressions);
  }

  const boxes = (page: Page, selector: string) =>
    page.evaluate(
      `[...document.querySelectorAll(${JSON.stringify(selector)})].map((e) => { const r = e.getBoundingClientRect(); return { left: r.left, right: r.right, top: r.top, bottom: r.bottom }; })`,
    ) as Promise<Box[]>;

  /** The Y axis labels, bottom first, with the height each stands at. */
  const yAxis = (page: Page) =>
    page.evaluate(
      `[...document.querySelectorAll('#hourly text[text-anchor="end"]')].map((t) => ({ label: t.textContent, y: Number(t.getAttribute('y')) })).sort((a, b) => b.y - a.y)`,
    ) as Promise<{ label: string; y: number }[]>;

  it('labels the hourly chart’s Y axis with whole, distinct, evenly spaced numbers from 0 past the highest bar, drawn on the bars’ own scale', async () => {
    const page = await open(WIDE);
    for (const [count, highest] of [
      [2, 2],
      [5, 7],
    ] as const) {
      for (let i = 0; i < count; i++) await deliver({ at: `09:0${i}:00.000` });
      await shows(page, String(highest));
      const labels = await yAxis(page);
      const values = labels.map((l) => Number(l.label.replace(/,/g, '')));
      expect(values.every(Number.isInteger), labels.map((l) => l.label).join(' ')).toBe(true);
      expect(new Set(values).size, values.join(' ')).toBe(values.length);
      expect(values[0]).toBe(0);
      const step = (values[1] ?? 0) - (values[0] ?? 0);
      expect(step).toBeGreaterThan(0);
      expect(values).toEqual(values.map((_, i) => i * step));
      expect(values.at(-1)).toBeGreaterThanOrEqual(highest);
      expect(values.length, values.join(' ')).toBeLessThanOrEqual(6);
      // The impressions bar of hour 9 is as high, against the axis from 0 to its top label, as its count is.
      const bar = (await page.evaluate(
        `Number(document.querySelector('#hourly rect[data-hour="9"][data-kind="impressions"]').getAttribute('height'))`,
      )) as number;
      const axisHeight = (labels[0]?.y ?? 0) - (labels.at(-1)?.y ?? 0);
      expect(bar / axisHeight).toBeCloseTo(highest / (values.at(-1) ?? 1), 2);
    }
    await page.context().close();
  });

  it('labels the Y axis with whole, distinct, evenly spaced numbers from 0 past the highest bar for busiest hours from none to over a million', async () => {
    const page = await open(WIDE);
    await expect.poll(() => page.locator('#no-campaigns').isVisible(), { timeout: 15_000 }).toBe(true);
    const highests = [
      0, 1, 3, 4, 5, 6, 9, 10, 11, 19, 26, 99, 101, 999, 1001, 4321, 12_345, 99_999, 1_234_567,
    ];
    // The page's own drawing of a day whose busiest hour has `highest` impressions, read in the same task
    // (before a refresh can draw the real day again).
    const drawn = (await page.evaluate(
      `${JSON.stringify(highests)}.map((highest) => {
        renderHourly(Array.from({ length: 24 }, (_, hour) => ({ hour, impressions: hour === 9 ? highest : 0, clicks: 0 })));
        return [...document.querySelectorAll('#hourly text[text-anchor="end"]')]
          .sort((a, b) => Number(b.getAttribute('y')) - Number(a.getAttribute('y')))
          .map((t) => t.textContent);
      })`,
    )) as string[][];
    const unit: Record<string, number> = { '': 1, K: 1e3, M: 1e6, B: 1e9 };
    drawn.forEach((labels, i) => {
      const highest = highests[i] ?? 0;
      const values = labels.map((label) => {
        const [, digits = '', suffix = ''] = /^([\d.,]+)([KMB]?)$/.exec(label) ?? [];
        return Number(digits.replace(/,/g, '')) * (unit[suffix] ?? Number.NaN);
      });
      const step = (values[1] ?? 0) - (values[0] ?? 0);
      expect(step, `${highest}: ${labels.join(' ')}`).toBeGreaterThan(0);
      expect(values, `${highest}: ${labels.join(' ')}`).toEqual(values.map((_, i) => i * step));
      expect(new Set(labels).size, `${highest}: ${labels.join(' ')}`).toBe(labels.length);
      expect(values.every(Number.isInteger), `${highest}: ${labels.join(' ')}`).toBe(true);
      expect(values.at(-1), `${highest}: ${labels.join(' ')}`).toBeGreaterThanOrEqual(highest);
      expect(labels.length, `${highest}: ${labels.join(' ')}`).toBeLessThanOrEqual(6);
    });
    await page.context().close();
  });

  it('shows each breakdown table whole at 1280 px: its CTR column inside its panel, nothing hidden to the side', async () => {
    await deliverDay();
    const page = await open(WIDE);
    await shows(page, '8');
    for (const id of ['by-platform', 'by-country', 'by-material']) {
      const [panel] = await boxes(page, `section:has(#${id})`);
      const hidden = (await page.evaluate(
        `[...document.querySelectorAll('section:has(#${id}) .scroll, section:has(#${id}) table')].filter((e) => e.scrollWidth > e.clientWidth).length`,
      )) as number;
      expect(hidden, id).toBe(0);
      const cells = await boxes(page, `section:has(#${id}) tr > :last-child`);
      expect(cells.length, id).toBeGreaterThan(1);
      for (const cell of cells) {
        expect(cell.right, id).toBeLessThanOrEqual((panel?.right ?? 0) + 0.5);
        expect(cell.left, id).toBeGreaterThanOrEqual(panel?.left ?? 0);
      }
    }
    await page.screenshot({ path: join(RESULTS, 'dashboard-1280.png'), fullPage: true });
    await page.context().close();
  });

  it('puts the totals first on a 390 px phone and shows every campaign’s and the total’s numbers without scrolling sideways', async () => {
    await deliverDay();
    const page = await open(PHONE);
    await shows(page, '8');
    // The totals come before anything else of the day, within the first screen.
    const first = await page.evaluate(`document.querySelector('main').firstElementChild.className`);
    expect(first).toBe('kpis');
    for (const kpi of await boxes(page, '.kpi strong')) {
      expect(kpi.left).toBeGreaterThanOrEqual(0);
      expect(kpi.right).toBeLessThanOrEqual(PHONE.width);
      expect(kpi.bottom).toBeLessThanOrEqual(PHONE.height);
    }
    // No table keeps part of itself out of view to the side: every cell of every table is on the screen.
    const scrollers = (await page.evaluate(
      `[...document.querySelectorAll('main .scroll, main table')].filter((e) => e.scrollWidth > e.clientWidth).length`,
    )) as number;
    expect(scrollers).toBe(0);
    for (const cell of await boxes(page, 'main td, main th')) {
      expect(cell.left).toBeGreaterThanOrEqual(0);
      expect(cell.right).toBeLessThanOrEqual(PHONE.width);
    }
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width);
    // In the campaigns' table, the total comes first.
    const [total] = await boxes(page, '#totals tr');
    const rows = await boxes(page, '#campaigns tr');
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row.top).toBeGreaterThan(total?.top ?? Number.POSITIVE_INFINITY);
    await page.screenshot({ path: join(RESULTS, 'dashboard-390.png'), fullPage: true });
    await page.context().close();
  });

  it('names each material by the name its events carry, its id beside it, and by its id alone when no event names it', async () => {
    await deliver({ at: '10:00:00.000', material: { id: 'mat_5678', name: 'Audio Spot 15s' } });
    await deliver({ at: '10:00:01.000', material: { id: 'mat_5678', name: 'Audio Spot 15s' } });
    await deliver({ at: '10:00:02.000', material: { id: 'mat_unnamed', name: null } });
    const page = await open(WIDE);
    await shows(page, '3');
    await expect
      .poll(() => page.locator('#by-material td:first-child').allTextContents())
      .toEqual(['Audio Spot 15smat_5678', 'mat_unnamed']);
    await expect
      .poll(() => page.locator('#by-material tr:first-child td').allTextContents())
      .toEqual(['Audio Spot 15smat_5678', '2', '0', '0.0 %']);
    await page.context().close();
  });

  it('shows event times as UTC clock times, not ISO strings, with UTC picked in a browser set to another zone, and says on the page that days are cut in UTC', async () => {
    await deliver({ at: '23:05:07.250', event: 'campaign.click' });
    await deliver({ at: '09:30:00.000' });
    const page = await open(WIDE, { timezoneId: 'America/Los_Angeles' }, '&tz=UTC');
    await shows(page, '1');
    await expect
      .poll(() => page.locator('#latest td:first-child').allTextContents())
      .toEqual(['Oct 14, 23:05:07', 'Oct 14, 09:30:00']);
    expect(await page.locator('#latest time').first().getAttribute('datetime')).toBe(`${DAY}T23:05:07.250Z`);
    expect(await page.locator('main').textContent()).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:/);
    expect(await page.locator('#day').textContent()).toBe('Tue, Oct 14, 2025 (UTC)');
    expect(await page.locator('#zone').textContent()).toBe(
      'Days are cut in UTC: the counters are kept per UTC day. Times are shown in UTC.',
    );
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/^updated \d\d:\d\d:\d\d UTC$/);
    await page.context().close();
  });
});
