import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { providerNames } from '../lib/providers';
import type { CampaignStats } from '../lib/queries/campaign-stats';
import type { Activity } from './activity';

const PAGE = join(import.meta.dirname, 'dashboard', 'index.html');

/**
 * Serves the local dashboard: the page at `/` and its data at `/api/dashboard?day=YYYY-MM-DD` (default: today,
 * UTC): every campaign's exact counters for the day, events stored per minute, and the latest events.
 * @returns `false` for any other path.
 */
export function createDashboard(stats: CampaignStats, activity: Activity) {
  return async (request: IncomingMessage, response: ServerResponse): Promise<boolean> => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (request.method !== 'GET') return false;
    if (url.pathname === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      response.end(await readFile(PAGE));
      return true;
    }
    if (url.pathname === '/api/dashboard') {
      const requested = url.searchParams.get('day') ?? '';
      const day = /^\d{4}-\d{2}-\d{2}$/.test(requested) ? requested : new Date().toISOString().slice(0, 10);
      const campaigns = (
        await Promise.all(providerNames().map((provider) => stats.dayStats(provider, day)))
      ).flat();
      response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      response.end(JSON.stringify({ day, campaigns, ...activity.snapshot() }));
      return true;
    }
    return false;
  };
}
