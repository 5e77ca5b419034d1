// `events query`: events, newest first, a page at a time.
import {
  type EventQuery,
  RecordsRepository,
  TYPE_QUERY_MAX_DAYS,
} from '../../lib/queries/records-repository';
import type { StoredEvent } from '../../lib/table/records-table';
import { UsageError } from '../entry';
import { withTable } from '../local-target';
import { parseLimit, parseTime, providersOf } from './arguments';
import { type CommandSpec, command, type Values } from './command';
import { line } from './io';
import { print } from './output';
import { WHERE, where } from './where';

export const spec: CommandSpec = {
  name: 'query',
  usage: `query        events, newest first
    --campaign <id>    events of one campaign
    --device <id>      events of one device
    --type <event>     events of one type (e.g. campaign.click), day by day
    --provider <name>  one provider (default: all)
    --since <ISO>      created at or after (date or date-time)
    --until <ISO>      created at or before
    --limit <n>        at most n events (default 100); when there may be more, stderr gives a --cursor
    --cursor <token>   the next page: the events after the last one printed
    --json             one JSON object per line
  Without --campaign or --device, days are read one by one (the last 7 unless --since says otherwise, at
  most 366).`,
  flags: ['campaign', 'device', 'type', 'provider', 'since', 'until', 'limit', 'cursor', 'json', ...WHERE],
};

/** Where a page of `query` ended: the last event printed, newest first order. */
interface Cursor {
  created_at: string;
  id: string;
}
/** Events at the cursor's own time may come again: room for this many, dropped after reading. */
const CURSOR_SLACK = 100;
const makeCursor = (event: Cursor) =>
  Buffer.from(JSON.stringify([event.created_at, event.id])).toString('base64url');
function parseCursor(token: string): Cursor {
  try {
    const [created_at, id] = JSON.parse(Buffer.from(token, 'base64url').toString()) as unknown[];
    if (typeof created_at === 'string' && typeof id === 'string') return { created_at, id };
  } catch {}
  throw new UsageError('--cursor is not one this tool printed');
}
/** `true` when `event` comes after the cursor in the order events are printed (newest first). */
const isAfter = (event: Cursor, cursor: Cursor) =>
  event.created_at < cursor.created_at || (event.created_at === cursor.created_at && event.id < cursor.id);

/** What a query asks for, its flags checked. */
interface PageRequest {
  limit: number;
  cursor: Cursor | undefined;
  queries: Omit<EventQuery, 'limit'>[];
}

function pageRequest(values: Values): PageRequest {
  const limit = parseLimit(values.limit);
  const since = parseTime('--since', values.since, false);
  const cursor = values.cursor === undefined ? undefined : parseCursor(values.cursor);
  // A cursor continues below the last event printed: nothing after its created_at can follow.
  const requestedUntil = parseTime('--until', values.until, true);
  const until =
    cursor && (!requestedUntil || cursor.created_at < requestedUntil) ? cursor.created_at : requestedUntil;
  if (since && until && since > until) throw new UsageError('--since is after --until');
  if (!values.campaign && !values.device) {
    // By type, or with no filter, events are read one day at a time; past this many days, say so instead of
    // returning the newest days only.
    const last = Date.parse(until ?? new Date().toISOString());
    const first = Date.parse(since ?? new Date(last - 6 * 86_400_000).toISOString());
    if (last - first >= TYPE_QUERY_MAX_DAYS * 86_400_000) {
      throw new UsageError(
        `without --campaign or --device, query reads day by day, at most ${TYPE_QUERY_MAX_DAYS} days: narrow --since/--until (or use export)`,
      );
    }
  }
  const queries = providersOf(values.provider).map((provider) => ({
    provider,
    campaign: values.campaign,
    device: values.device,
    type: values.type,
    since,
    until,
  }));
  return { limit, cursor, queries };
}

/** The page: every provider's events newest first, those after the cursor, at most `limit`. */
async function readPage(repository: RecordsRepository, request: PageRequest): Promise<StoredEvent[]> {
  const { limit, cursor } = request;
  const events: StoredEvent[] = [];
  for (const query of request.queries) {
    events.push(
      ...(await repository.queryEvents({ ...query, limit: cursor ? limit + CURSOR_SLACK : limit })),
    );
  }
  events.sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id));
  return events.filter((event) => !cursor || isAfter(event, cursor)).slice(0, limit);
}

export const run = command(spec, async (values, _words, io) => {
  const request = pageRequest(values);
  return withTable(where(values), async (target) => {
    const page = await readPage(
      new RecordsRepository(target.client, target.tableName, target.layout),
      request,
    );
    const last = page[page.length - 1];
    if (page.length === request.limit && last) {
      line(io.stderr, `events: more may follow: --cursor ${makeCursor(last)}`);
    }
    print(io, page, values.json, ['created_at', 'event', 'campaign_id', 'device_id', 'platform', 'id']);
    return 0;
  });
});
