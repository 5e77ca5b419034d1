/**
 * The dashboard page's App breakdown in a real browser, served by the local dashboard server (the page and
 * `/api/dashboard` as `npm start` serves them) over a table where events of two apps and of the default app were
 * stored and folded, and a day folded before events were counted by app.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueueMessage } from '../../lib/events/event-record';
import { sori } from '../../lib/providers/sori';
import { DashboardReader } from '../../lib/queries/dashboard';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { counterItemKey, type TableLayout } from '../../lib/table/records-table';
import { createDashboard } from '../../local/dashboard';
import { soriPayload } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';
import { storeAndFold } from '../support/store-and-fold';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const LAYOUT: TableLayout = { shards: 1, retentionDays: null };
const WAIT = { timeout: 40_000, interval: 100 };
const { dynamodb } = localClients();
/** Folded before events were counted by app. */
const BEFORE = '2025-11-04';
const DAY = '2025-11-05';

let sent = 0;
function event(kind: 'impression' | 'click', at: string, app?: string): QueueMessage {
  const body = { ...soriPayload(kind), activity_id: `act_page_apps_${++sent}`, created_at: at };
  return buildQueueMessage(
    sori,
    Buffer.from(JSON.stringify(body)),
    `${at.slice(0, 10)}T23:00:00.000Z`,
    app ? { app } : undefined,
  );
}

// Chromium comes from Debian (`apt-get install chromium`), which .ci/run installs; without it this suite is
// skipped, as the other browser suites are.
describe.skipIf(!existsSync(CHROMIUM))('the dashboard page by app, in a real browser', () => {
  let browser: Browser;
  let server: Server;
  let origin: string;

  beforeAll(async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb, LAYOUT);
    await storeAndFold(writer, counters, [event('impression', `${BEFORE}T08:00:00.000Z`, 'agency-a')]);
    // As a fold of the earlier code left the day: no app breakdown.
    const key = counterItemKey({ provider: 'sori', campaignId: 'cmp_1234', day: BEFORE });
    const { Item = {} } = await dynamodb.send(new GetItemCommand({ TableName: tableName, Key: key }));
    const apps = Object.keys(Item).filter((name) => name.startsWith('b\u001fapp\u001f'));
    expect(apps).toHaveLength(1);
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: key,
        UpdateExpression: 'REMOVE #app',
        ExpressionAttributeNames: { '#app': apps[0] as string },
      }),
    );
    await storeAndFold(writer, counters, [
      event('impression', `${DAY}T08:00:00.000Z`, 'agency-a'),
      event('impression', `${DAY}T08:01:00.000Z`, 'agency-a'),
      event('click', `${DAY}T08:02:00.000Z`, 'agency-a'),
      event('impression', `${DAY}T09:00:00.000Z`, 'agency-b'),
      event('impression', `${DAY}T10:00:00.000Z`),
    ]);
    const serve = createDashboard(new DashboardReader(dynamodb, tableName, LAYOUT));
    server = createServer((request, response) => {
      void serve(request, response).then((served) => {
        if (!served) response.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--headless',
        '--disable-gpu',
        '--disable-background-networking',
        '--no-first-run',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  /** A table body's rows, each its non-empty cells joined by ` | `. */
  const rows = (page: Page, id: string) =>
    page.evaluate(
      `[...document.querySelectorAll('#${id} tr')].map((tr) => [...tr.cells].map((td) => td.textContent.trim()).filter(Boolean).join(' | '))`,
    ) as Promise<string[]>;

  it('shows an App table, one row per app, and drills down to one app clicked in it', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(String(error)));
    try {
      await page.goto(`${origin}/?day=${DAY}&tz=UTC`);
      await expect
        .poll(() => rows(page, 'by-app'), WAIT)
        .toEqual(['agency-a | 2 | 1 | 50.0 %', 'agency-b | 1 | 0 | 0.0 %', 'default | 1 | 0 | 0.0 %']);
      await page.locator('#by-app a.drill', { hasText: 'agency-a' }).click();
      await expect.poll(() => new URL(page.url()).searchParams.get('breakdown'), WAIT).toBe('app');
      expect(new URL(page.url()).searchParams.get('value')).toBe('agency-a');
      await expect.poll(() => page.locator('#kpi-impressions').textContent(), WAIT).toBe('2');
      expect(await page.locator('#kpi-clicks').textContent()).toBe('1');
      expect(await page.locator('#filters .chip[data-filter="app"]').textContent()).toBe('App: agency-a×');
      expect(await rows(page, 'by-app')).toEqual(['agency-a | 2 | 1 | 50.0 %']);
      expect(await rows(page, 'by-platform')).toEqual(['not available for this filter']);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('says "not available for this filter" for a range with a day counted before apps, never a zero', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(String(error)));
    try {
      await page.goto(`${origin}/?from=${BEFORE}&to=${DAY}&tz=UTC`);
      await expect
        .poll(() => rows(page, 'by-app'), WAIT)
        .toEqual([
          'not available for this filter: days of this range were counted before events were counted by app',
        ]);
      // The other breakdowns are whole.
      expect(await rows(page, 'by-platform')).toEqual(['Android | 5 | 1 | 20.0 %']);
      await page.goto(`${origin}/?from=${BEFORE}&to=${DAY}&tz=UTC&breakdown=app&value=agency-a`);
      await expect
        .poll(() => page.locator('#kpi-impressions').textContent(), WAIT)
        .toBe('not available for this filter');
      expect(await page.locator('#kpi-clicks').textContent()).toBe('not available for this filter');
      expect(await rows(page, 'campaigns')).toEqual([
        'not available for this filter: days of this range were counted before events were counted by app',
      ]);
      expect(await page.locator('#filter-note').textContent()).toContain(
        `Days counted before events were counted by app (${BEFORE}) are not known under this filter`,
      );
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
