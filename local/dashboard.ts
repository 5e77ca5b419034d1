import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DASHBOARD_PAGE_FILE } from '../functions/campaign-dashboard/page-file';
import { type DashboardReader, parseDashboardQuery } from '../lib/queries/dashboard';
import type { Activity } from './activity';

const PAGE = DASHBOARD_PAGE_FILE;

/** The names the dashboard answers to: it listens on 127.0.0.1, so a browser reaches it by one of these. */
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * `true` when the request names this machine in its `Host`. A web page that points a name of its own at
 * 127.0.0.1 (DNS rebinding) sends that name, and is refused: else it could read the data, which `--stack`
 * fetches with the user's AWS credentials.
 */
function fromThisMachine(request: IncomingMessage): boolean {
  const host = request.headers.host ?? '';
  return LOCAL_HOSTS.has(host.replace(/:\d+$/, '').toLowerCase());
}

/**
 * Serves the dashboard: the page at `/` and its data at `/api/dashboard` (a range of UTC days, by default today,
 * and its filters, as `parseDashboardQuery` reads them; a bad parameter answers 400 saying which and why). With
 * `activity` (the local stack), the data also carries the events stored per minute by this process. A request
 * whose `Host` is not this machine's name answers 403.
 * @returns `false` for any other path.
 */
export function createDashboard(reader: DashboardReader, activity?: Activity) {
  return async (request: IncomingMessage, response: ServerResponse): Promise<boolean> => {
    const raw = request.url ?? '/';
    // `//other.example/…` parsed against a base would name another host and read as `/`: the page would then
    // build its links from that path, to the other host.
    if (!raw.startsWith('/') || raw.startsWith('//')) return false;
    const url = new URL(raw, 'http://127.0.0.1');
    if (request.method !== 'GET') return false;
    if ((url.pathname === '/' || url.pathname === '/api/dashboard') && !fromThisMachine(request)) {
      response.writeHead(403, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ message: 'the dashboard answers only to 127.0.0.1 or localhost' }));
      return true;
    }
    if (url.pathname === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      response.end(await readFile(PAGE));
      return true;
    }
    if (url.pathname === '/api/dashboard') {
      const parsed = parseDashboardQuery(url.searchParams, new Date().toISOString().slice(0, 10));
      if (!parsed.ok) {
        response.writeHead(400, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ message: parsed.message }));
        return true;
      }
      const dashboard = await reader.read(parsed.query);
      const perMinute = activity ? { perMinute: activity.snapshot().perMinute } : {};
      response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      response.end(JSON.stringify({ ...dashboard, ...perMinute }));
      return true;
    }
    return false;
  };
}
