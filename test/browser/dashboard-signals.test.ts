/**
 * The dashboard's signals panel in a real browser: the page, served under the deployed function's
 * Content-Security-Policy, beside an `/api/dashboard` answered by the dashboard's reader over a table where a
 * burst of each fraud pattern was stored and folded (the batches journal their signal facts through
 * `JournalingCounters`, test/support/signal-journal.ts).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servedPage } from '../../functions/campaign-dashboard/page';
import { EventWriter } from '../../lib/ingest/event-writer';
import { storeBatch } from '../../lib/ingest/store-batch';
import { DashboardReader, parseDashboardQuery } from '../../lib/queries/dashboard';
import type { TableLayout } from '../../lib/table/records-table';
import { createTestTable, localClients } from '../support/local-aws';
import {
  JournalingCounters,
  SIGNAL_DAY,
  signalEvent,
  TEST_THRESHOLDS,
  viewed,
} from '../support/signal-journal';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PAGE = join(import.meta.dirname, '../../functions/campaign-dashboard/page/index.html');
const SIGN_IN = {
  signInUrl: 'https://sign-in.example.invalid',
  clientId: 'signals-client',
  redirectPath: '/',
};
const LAYOUT: TableLayout = { shards: 1, retentionDays: null };
const WAIT = { timeout: 40_000, interval: 100 };
const { dynamodb } = localClients();

/** The page and the reader's answers, on one origin. */
async function serve(html: string, reader: DashboardReader) {
  const served = servedPage(html, SIGN_IN);
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/') {
      response
        .writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy': served.contentSecurityPolicy,
        })
        .end(html);
      return;
    }
    if (url.pathname === '/api/dashboard') {
      const parsed = parseDashboardQuery(url.searchParams, SIGNAL_DAY);
      if (!parsed.ok) {
        response.writeHead(400).end(parsed.message);
        return;
      }
      reader.read(parsed.query).then(
        (board) => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(board)),
        () => response.writeHead(500).end(),
      );
      return;
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// Chromium comes from Debian (`apt-get install chromium`), which .ci/run installs; without it this suite is
// skipped, as the other browser suites are.
describe.skipIf(!existsSync(CHROMIUM))('the dashboard signals panel, in a real browser', () => {
  let browser: Browser;

  beforeAll(async () => {
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
  });

  it('lists one row per thing that raised a signal, and says so when nothing did', async () => {
    const { tableName } = await createTestTable(dynamodb, LAYOUT);
    const writer = new EventWriter(dynamodb, tableName, LAYOUT);
    const counters = new JournalingCounters(dynamodb, tableName, LAYOUT);
    const batches = [
      [signalEvent('click', { at: '11:00:00.000', device: 'o_dev', activity: 'o_act' })],
      ...Array.from({ length: 4 }, (_, i) => viewed(`b_act_${i}`, 'b_dev', '12:00', 'cmp_b')),
      ['s_acc_1', 's_acc_2', 's_acc_3'].map((account, i) =>
        signalEvent('authentication', { at: `14:0${i}:00.000`, device: 's_dev', account }),
      ),
    ];
    for (const batch of batches) {
      counters.batch = batch;
      await storeBatch(writer, counters, batch);
    }
    await counters.repair();
    const standIn = await serve(
      await readFile(PAGE, 'utf8'),
      new DashboardReader(dynamodb, tableName, LAYOUT, undefined, TEST_THRESHOLDS),
    );
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(String(error)));
    try {
      await page.goto(`${standIn.origin}/?day=${SIGNAL_DAY}`);
      const cells = async () =>
        (
          await page.locator('#signals tr').evaluateAll((rows) => rows.map((r) => r.textContent ?? ''))
        ).sort();
      await expect.poll(() => page.locator('#signals tr').count(), WAIT).toBe(3);
      const rows = await cells();
      expect(rows[0]).toMatch(/^Clicks in bursts\s*sori\s*cmp_b\s*2025-10-14\s*b_dev\s*1\s*12:00$/);
      expect(rows[1]).toMatch(/^Clicks without an impression\s*sori\s*cmp_a\s*2025-10-14\s*–\s*1\s*o_act$/);
      expect(rows[2]).toMatch(/^Device in many accounts\s*sori\s*–\s*2025-10-14\s*s_dev\s*1/);
      await page.goto(`${standIn.origin}/?day=2020-01-01`);
      await expect
        .poll(() => page.locator('#signals tr').allTextContents(), WAIT)
        .toEqual([expect.stringContaining('no signal raised in this range')]);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
      await standIn.close();
    }
  });
});
