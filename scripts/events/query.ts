// `events query`: events, newest first, a page at a time.
import {
  type EventCursor,
  type PagePlan,
  parseCursorToken,
  planPage,
  takePage,
} from '../../lib/queries/event-plan';
import { RecordsRepository } from '../../lib/queries/records-repository';
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

/** The page's plan, its flags checked. */
function pagePlan(values: Values): PagePlan {
  const limit = parseLimit(values.limit);
  const since = parseTime('--since', values.since, false);
  const cursor = values.cursor === undefined ? undefined : parseCursor(values.cursor);
  const until = parseTime('--until', values.until, true);
  const plan = planPage({
    providers: providersOf(values.provider),
    campaign: values.campaign,
    device: values.device,
    type: values.type,
    since,
    until,
    limit,
    cursor,
  });
  if ('problem' in plan) throw new UsageError(plan.problem);
  return plan;
}

function parseCursor(token: string): EventCursor {
  const cursor = parseCursorToken(token);
  if (!cursor) throw new UsageError('--cursor is not one this tool printed');
  return cursor;
}

export const run = command(spec, async (values, _words, io) => {
  const plan = pagePlan(values);
  return withTable(where(values), async (target) => {
    const repository = new RecordsRepository(target.client, target.tableName, target.layout);
    const events: StoredEvent[] = [];
    for (const query of plan.queries) events.push(...(await repository.queryEvents(query)));
    const page = takePage(plan, events);
    if (page.next) line(io.stderr, `events: more may follow: --cursor ${page.next}`);
    print(io, page.events, values.json, [
      'created_at',
      'event',
      'campaign_id',
      'device_id',
      'platform',
      'id',
    ]);
    return 0;
  });
});
