import type { StoredEvent } from '../table/records-table';

/** Filters of `npm run events -- query`; every one optional, combined with AND. */
export interface EventQuery {
  provider: string;
  campaign?: string | undefined;
  device?: string | undefined;
  type?: string | undefined;
  /** Inclusive lower bound on `created_at`, ISO 8601. */
  since?: string | undefined;
  /** Inclusive upper bound on `created_at`, ISO 8601. */
  until?: string | undefined;
  limit: number;
}

const DAY_MS = 86_400_000;
/** How far back `--type` looks when no `--since` is given, in days. */
export const TYPE_QUERY_DEFAULT_DAYS = 7;
/**
 * The most days one `--type` query walks, newest first: a year and its leap day, as long as records are kept
 * by default. Each day is one more partition read, so a wide range is cut rather than read without end.
 */
export const TYPE_QUERY_MAX_DAYS = 366;

/** An attribute an event must have, and its value: a filter applied within the partitions read. */
export type Filter = [attribute: string, value: string];

/** The bounds a read puts on `created_at`. */
export interface TimeBounds {
  /** Lower bound on `created_at`. */
  since: string;
  /** Upper bound on `created_at`, `\uffff`-terminated so that a date includes its whole day. */
  until: string;
}

/**
 * Which partitions hold the events a query asks for, each with the filters left to apply within them:
 * - `campaign`: the campaign's days (its counter items between `firstDay` and `lastDay` say which have events),
 *   then its events keyed by id alone, from the campaign index;
 * - `device`: the partition families the device's markers name, then its events keyed by id, from the device
 *   index (`indexFilters`, the device being the index's key);
 * - `type`: for each of `days`, the type's partitions, the campaigns that counted it that day (`campaignFilters`)
 *   and its events keyed by id, from the type-and-day index;
 * - `every type and campaign`: for each of `days`, every event type's partitions and index entries, and every
 *   campaign of the day;
 * - `scan`: the whole table, filtered (an export with no filter, which reads everything anyway).
 */
export type EventSources =
  | { by: 'campaign'; campaign: string; firstDay: string; lastDay: string; filters: Filter[] }
  | { by: 'device'; device: string; filters: Filter[]; indexFilters: Filter[] }
  | { by: 'type'; type: string; days: string[]; filters: Filter[]; campaignFilters: Filter[] }
  | { by: 'every type and campaign'; days: string[] }
  | { by: 'scan' };

/** How one provider's events are read: from where, within which times, in which order. */
export interface EventPlan {
  provider: string;
  bounds: TimeBounds;
  /** Newest first for a page of results (older days cannot add to a full page), oldest first for an export. */
  order: 'newest first' | 'oldest first';
  sources: EventSources;
}

const without = (filters: Filter[], attribute: string) => filters.filter(([name]) => name !== attribute);

/** How a plan may read, beyond what the query asks for. */
export interface PlanOptions {
  /**
   * `'never'`: a query that names no campaign, device or type is read day by day, oldest first, like a type,
   * rather than by a scan of the whole table (a replay reads a range day by day so that it can resume at any
   * partition). Default `'when nothing narrows'`: an export with no filter reads everything anyway.
   */
  scan?: 'when nothing narrows' | 'never';
}

/**
 * Plans the reads of a query: a campaign or a device names its own partitions; a type, or no filter, is read
 * day by day (newest first: the last {@link TYPE_QUERY_DEFAULT_DAYS} days unless `since` says otherwise, at most
 * {@link TYPE_QUERY_MAX_DAYS}; oldest first: every day from `since`). No filter, oldest first, is a scan unless
 * `options.scan` is `'never'`. Nothing is read here.
 * @throws when a reading oldest first, by type or day by day with no filter, has no first day (every day from it
 *   would be read).
 */
export function planEvents(
  query: Omit<EventQuery, 'limit'>,
  order: EventPlan['order'],
  now = Date.now(),
  options: PlanOptions = {},
): EventPlan {
  const since = query.since ?? '0000';
  const until = `${query.until ?? '9999'}\uffff`;
  const filters: Filter[] = [];
  if (query.type) filters.push(['event', query.type]);
  if (query.device) filters.push(['device_id', query.device]);
  if (query.campaign) filters.push(['campaign_id', query.campaign]);
  const plan = (sources: EventSources): EventPlan => ({
    provider: query.provider,
    bounds: { since, until },
    order,
    sources,
  });
  if (query.campaign) {
    const rest = without(filters, 'campaign_id');
    return plan({
      by: 'campaign',
      campaign: query.campaign,
      firstDay: since.slice(0, 10),
      lastDay: until.slice(0, 10),
      filters: rest,
    });
  }
  if (query.device) {
    return plan({ by: 'device', device: query.device, filters, indexFilters: without(filters, 'device_id') });
  }
  const type = query.type;
  if (!type) {
    if (order === 'newest first')
      return plan({ by: 'every type and campaign', days: daysNewestFirst(query.since, query.until, now) });
    if (options.scan !== 'never') return plan({ by: 'scan' });
    if (!query.since) throw new Error('a reading of every day needs a first day (since)');
    return plan({ by: 'every type and campaign', days: daysOldestFirst(query.since, query.until, now) });
  }
  if (order === 'oldest first' && !query.since)
    throw new Error('an export by type needs a first day (since)');
  const days =
    order === 'newest first'
      ? daysNewestFirst(query.since, query.until, now)
      : daysOldestFirst(since, query.until, now);
  const rest = without(filters, 'event');
  return plan({ by: 'type', type, days, filters: rest, campaignFilters: [...rest, ['event', type]] });
}

/** Where a page of results ended: the last event printed, in newest-first order. */
export interface EventCursor {
  created_at: string;
  id: string;
}

/** Events at the cursor's own time may come again: room for this many, dropped after reading. */
export const CURSOR_SLACK = 100;

/** The token that resumes a page after `event`. */
export const cursorToken = (event: EventCursor): string =>
  Buffer.from(JSON.stringify([event.created_at, event.id])).toString('base64url');

/** @returns the cursor a {@link cursorToken} holds, or `undefined` when `token` is not one. */
export function parseCursorToken(token: string): EventCursor | undefined {
  try {
    const [created_at, id] = JSON.parse(Buffer.from(token, 'base64url').toString()) as unknown[];
    if (typeof created_at === 'string' && typeof id === 'string') return { created_at, id };
  } catch {}
  return undefined;
}

/** `true` when `event` comes after the cursor in newest-first order. */
const isAfter = (event: EventCursor, cursor: EventCursor) =>
  event.created_at < cursor.created_at || (event.created_at === cursor.created_at && event.id < cursor.id);

/** What a page of events asks for: filters, every one optional, over one or more providers. */
export interface PageRequest {
  providers: readonly string[];
  campaign?: string | undefined;
  device?: string | undefined;
  type?: string | undefined;
  /** ISO date-times, as for {@link EventQuery}. */
  since?: string | undefined;
  until?: string | undefined;
  limit: number;
  cursor?: EventCursor | undefined;
}

/** The queries of one page, one per provider, and how their results become the page. */
export interface PagePlan {
  queries: EventQuery[];
  limit: number;
  cursor: EventCursor | undefined;
}

/**
 * Plans a page: a cursor continues below the last event printed, so nothing after its `created_at` is read, and
 * each provider's query reads enough past it to cover events that share its time.
 * @returns the plan, or the problem with the request in one line (`--since` and `--until` named as the CLI's
 *   flags).
 */
export function planPage(request: PageRequest, now = Date.now()): PagePlan | { problem: string } {
  const { since, cursor, limit } = request;
  const until =
    cursor && (!request.until || cursor.created_at < request.until) ? cursor.created_at : request.until;
  if (since && until && since > until) return { problem: '--since is after --until' };
  if (!request.campaign && !request.device) {
    // By type, or with no filter, events are read one day at a time; past this many days, say so instead of
    // returning the newest days only.
    const last = Date.parse(until ?? new Date(now).toISOString());
    const first = Date.parse(since ?? new Date(last - (TYPE_QUERY_DEFAULT_DAYS - 1) * DAY_MS).toISOString());
    if (last - first >= TYPE_QUERY_MAX_DAYS * DAY_MS) {
      return {
        problem: `without --campaign or --device, query reads day by day, at most ${TYPE_QUERY_MAX_DAYS} days: narrow --since/--until (or use export)`,
      };
    }
  }
  const queries = request.providers.map((provider) => ({
    provider,
    campaign: request.campaign,
    device: request.device,
    type: request.type,
    since,
    until,
    limit: cursor ? limit + CURSOR_SLACK : limit,
  }));
  return { queries, limit, cursor };
}

/**
 * The page from every provider's results: newest first, those after the cursor, at most `limit`, and the token
 * of the next page when there may be one (the page is full).
 */
export function takePage(plan: PagePlan, events: StoredEvent[]): { events: StoredEvent[]; next?: string } {
  const { cursor, limit } = plan;
  const page = [...events]
    .sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id))
    .filter((event) => !cursor || isAfter(event, cursor))
    .slice(0, limit);
  const last = page[page.length - 1];
  return page.length === limit && last ? { events: page, next: cursorToken(last) } : { events: page };
}

/**
 * Plans an export: every provider's events, no row cap.
 * @returns the queries, or the problem with the request in one line (the CLI's flags named).
 */
export function planExport(
  request: Omit<PageRequest, 'limit' | 'cursor'>,
): Omit<EventQuery, 'limit'>[] | { problem: string } {
  const { since, until } = request;
  if (request.type && !since) return { problem: 'export --type needs --since (every day from it is read)' };
  if (since && until && since > until) return { problem: '--since is after --until' };
  return request.providers.map((provider) => ({
    provider,
    campaign: request.campaign,
    device: request.device,
    type: request.type,
    since,
    until,
  }));
}

/** The days a reading of counters covers, first and last included, and each day when it reads day by day. */
export interface DayRangePlan {
  since: string;
  until: string;
  /** Newest first; `undefined` for one campaign, whose counter items are read as one range. */
  days: string[] | undefined;
}

/**
 * Plans the days of a reading of counters (`events stats`): by default the last {@link TYPE_QUERY_DEFAULT_DAYS}
 * days up to today, or one campaign's whole life. Across campaigns the counters are read day by day, so at most
 * {@link TYPE_QUERY_MAX_DAYS} days.
 * @param request `since` and `until` as UTC days, `YYYY-MM-DD`, already checked.
 * @returns the plan, or the problem with the request in one line (the CLI's flags named).
 */
export function planDayRange(
  request: { campaign?: string | undefined; since?: string | undefined; until?: string | undefined },
  now = Date.now(),
): DayRangePlan | { problem: string } {
  const until = request.until ?? new Date(now).toISOString().slice(0, 10);
  const since =
    request.since ??
    (request.campaign
      ? '0000-00-00'
      : new Date(Date.parse(until) - (TYPE_QUERY_DEFAULT_DAYS - 1) * DAY_MS).toISOString().slice(0, 10));
  if (since > until) return { problem: '--since is after --until' };
  if (request.campaign) return { since, until, days: undefined };
  if (Date.parse(until) - Date.parse(since) >= TYPE_QUERY_MAX_DAYS * DAY_MS)
    return { problem: `stats across campaigns covers at most ${TYPE_QUERY_MAX_DAYS} days` };
  return { since, until, days: daysNewestFirst(since, until, now) };
}

/** The UTC days from `since` to `until` (default: the last seven days up to today), newest first. */
export function daysNewestFirst(
  since: string | undefined,
  until: string | undefined,
  now = Date.now(),
): string[] {
  const end = until ? Date.parse(until) : now;
  const start = since ? Date.parse(since) : end - (TYPE_QUERY_DEFAULT_DAYS - 1) * DAY_MS;
  const days: string[] = [];
  const first = Math.floor(start / DAY_MS);
  for (let day = Math.floor(end / DAY_MS); day >= first && days.length < TYPE_QUERY_MAX_DAYS; day--) {
    days.push(new Date(day * DAY_MS).toISOString().slice(0, 10));
  }
  return days;
}

/** Every UTC day from `since` to `until` (default: today), oldest first, with no cap. */
export function daysOldestFirst(since: string, until: string | undefined, now = Date.now()): string[] {
  const first = Math.floor(Date.parse(since) / DAY_MS);
  const last = Math.floor((until ? Date.parse(until) : now) / DAY_MS);
  const days: string[] = [];
  for (let day = first; day <= last; day++) days.push(new Date(day * DAY_MS).toISOString().slice(0, 10));
  return days;
}
