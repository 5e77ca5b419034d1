import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CampaignStats } from '../../lib/queries/campaign-stats';
import { type LocalStack, startLocalStack } from '../../local/local-stack';
import { hexSignature, memoryLogger, soriPayload } from '../support/deliveries';
import { eventually } from '../support/local-aws';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SECRET = 'sk_browser_test';
const SCREENSHOT = join(import.meta.dirname, '../../test-results/dashboard.png');
/**
 * How long the page may take to show what it is waited for: its first page load, then a refresh after the
 * stack has stored and counted a delivery, on a busy 2-core machine (a poll's own default is 1 s).
 */
const WAIT = { timeout: 40_000 };

// Chromium comes from Debian (`apt-get install chromium`), which .ci/run installs; a machine with only
// Node.js (the README's Quick start) has none, and this suite is then skipped rather than failed.
// Each test waits for the page several times (see WAIT): room for all of them on a busy machine.
describe.skipIf(!existsSync(CHROMIUM))('local dashboard in a real browser', { timeout: 240_000 }, () => {
  let stack: LocalStack;
  let browser: Browser;

  // A stack of its own for each test: they look at a whole day's numbers, and one stops its stack.
  beforeEach(async () => {
    stack = await startLocalStack({
      port: 0,
      secret: SECRET,
      layout: { shards: 3, retentionDays: null },
      logger: memoryLogger().logger,
    });
  });

  afterEach(async () => {
    await stack?.stop();
  });

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
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  async function deliver(
    event: 'campaign.impression' | 'campaign.click',
    campaign: string,
    device: string,
    n: number,
  ) {
    const payload = {
      ...soriPayload('impression'),
      event,
      activity_id: `act_browser_${campaign}_${device}_${n}`,
      device_id: device,
      created_at: new Date().toISOString(),
      campaign: {
        id: campaign,
        name: campaign === 'cmp_live' ? 'Live campaign' : campaign,
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
    return body;
  }

  it("shows today's exact counts by campaign, hour, platform, country and material, changing as events arrive, and the day's latest events", async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    await page.goto(`http://127.0.0.1:${stack.port}/`);
    await expect.poll(() => page.locator('#no-campaigns').isVisible(), WAIT).toBe(true);

    for (let n = 0; n < 4; n++) await deliver('campaign.impression', 'cmp_live', `device_${n % 3}`, n);
    const click = await deliver('campaign.click', 'cmp_live', 'device_0', 0);
    await deliver('campaign.impression', 'cmp_other', 'device_9', 0);
    // SORI's retry of the click: must not move any number.
    await fetch(stack.webhookUrl, {
      method: 'POST',
      headers: { 'x-sori-signature': hexSignature(click, SECRET) },
      body: click,
    });

    const row = page.locator('tr[data-campaign="cmp_live"] td');
    await expect
      .poll(async () => row.allTextContents(), WAIT)
      .toEqual(['Live campaigncmp_live', 'sori', '4', '1', '25.0 %', '3']);
    await expect
      .poll(() => page.locator('#totals td').allTextContents(), WAIT)
      .toEqual(['Total', '', '5', '1', '20.0 %', '4']);
    const today = new Date().toISOString().slice(0, 10);
    const counters = new CampaignStats(stack.dynamodb, stack.tableName);
    const exact = await eventually(
      async () => {
        const rows = await counters.dayStats('sori', today);
        return rows.length === 2 ? rows : undefined;
      },
      WAIT.timeout,
      "the day's counters",
    );
    expect(exact.map((r) => [r.campaign_id, r.impressions, r.clicks, r.unique_devices])).toEqual([
      ['cmp_live', 4, 1, 3],
      ['cmp_other', 1, 0, 1],
    ]);
    await expect.poll(() => page.locator('#latest tr').count(), WAIT).toBe(6);
    // 24 hours, a bar each for impressions and clicks; this hour's bars carry the day's counts.
    await expect.poll(() => page.locator('#hourly rect').count(), WAIT).toBe(48);
    const hour = new Date().getUTCHours();
    await expect
      .poll(() => page.locator(`#hourly rect[data-hour="${hour}"] title`).allTextContents(), WAIT)
      .toEqual([expect.stringMatching(/impressions: 5$/), expect.stringMatching(/clicks: 1$/)]);
    await expect
      .poll(() => page.locator('#by-platform td').allTextContents(), WAIT)
      .toEqual(['Android', '5', '1', '20.0 %']);
    await expect
      .poll(() => page.locator('#by-country td').allTextContents(), WAIT)
      .toEqual(['United States', '5', '1', '20.0 %']);
    await expect
      .poll(() => page.locator('#by-material td').allTextContents(), WAIT)
      .toEqual(['Audio Spot 15smat_5678', '5', '1', '20.0 %']);

    await mkdir(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // Another day: nothing there.
    await page.fill('#day-picker', '2020-01-01');
    await page.dispatchEvent('#day-picker', 'change');
    await expect.poll(() => page.locator('#no-campaigns').isVisible(), WAIT).toBe(true);
    await page.close();
  });

  it('fits a 390 px wide phone screen without scrolling the page sideways', async () => {
    await deliver('campaign.impression', 'cmp_live', 'device_0', 0);
    await deliver('campaign.click', 'cmp_live', 'device_0', 0);
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await page.goto(`http://127.0.0.1:${stack.port}/`);
    await expect.poll(() => page.locator('tr[data-campaign="cmp_live"]').count(), WAIT).toBe(1);
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await page.screenshot({ path: SCREENSHOT.replace('.png', '-today-390.png'), fullPage: true });
    await page.close();
  });

  it('says clearly when the stack is unreachable, and keeps the last numbers marked as stale', async () => {
    await deliver('campaign.impression', 'cmp_live', 'device_0', 0);
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    await page.goto(`http://127.0.0.1:${stack.port}/`);
    await expect.poll(() => page.locator('tr[data-campaign="cmp_live"]').count(), WAIT).toBe(1);
    await stack.stop();
    await expect.poll(() => page.locator('#banner').isVisible(), WAIT).toBe(true);
    expect(await page.locator('#status').textContent()).toBe('stack unreachable');
    await page.close();
  });
});
