import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { CampaignCounters } from '../lib/ingest/campaign-counters';
import { EventWriter } from '../lib/ingest/event-writer';
import { reprocessQuarantine } from '../lib/ingest/reprocess';
import { providerNames } from '../lib/providers';
import { type CampaignDayStats, CampaignStats } from '../lib/queries/campaign-stats';
import {
  daysNewestFirst,
  type EventQuery,
  RecordsRepository,
  TYPE_QUERY_MAX_DAYS,
} from '../lib/queries/records-repository';
import { peekDeadLetters, purgeDeadLetters } from '../lib/queue/dead-letters';
import { moveDeadLetters, redriveMessages } from '../lib/queue/redrive';
import type { StoredEvent } from '../lib/table/records-table';
import { requireRegion } from './aws-region';
import { invocation, isEntry, reportFailure, runAsEntry, UsageError } from './entry';
import { exportEvents } from './export-events';
import { dataDir, resolveQueueTarget, withTable } from './local-target';
import { readRawBodiesBucket } from './stack-outputs';
import { forTerminal } from './terminal-text';

const COMMON = `Where the data is:
  --stack <name>       the deployed stack (tables and queues from its outputs)
  --endpoint <url>     DynamoDB endpoint (env EVENTS_ENDPOINT); default: the local stack on DATA_DIR
  --table <name>       records table (env EVENTS_TABLE)
  --region <name>      the AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, else your AWS profile's)`;
const WHERE = ['stack', 'endpoint', 'table', 'region'];

/** Each command's usage and the flags it takes; any other flag is refused. */
const COMMANDS: Record<string, { usage: string; flags: string[] }> = {
  query: {
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
  },
  quarantine: {
    usage: `quarantine   authentic deliveries the schemas did not understand, with the reason
    --limit <n>        at most n records (default 100)
    --json             one JSON object per line`,
    flags: ['limit', 'json', ...WHERE],
  },
  stats: {
    usage: `stats        exact counters, one row per provider, campaign and day
    --campaign <id>    one campaign, day by day (without it: every campaign of every provider, summed over the
                       days, most impressions first)
    --provider <name>  one provider (default: all)
    --since <day>      first UTC day (default: 6 days before --until)
    --until <day>      last UTC day (default: today)
    --json             one JSON object per line`,
    flags: ['campaign', 'provider', 'since', 'until', 'json', ...WHERE],
  },
  state: {
    usage: `state        a provider's current state of a campaign (Symphony)
    --provider <name>  the provider (required)
    --campaign <id>    the campaign (required)
    --json             one JSON object per line`,
    flags: ['provider', 'campaign', 'json', ...WHERE],
  },
  redrive: {
    usage: `redrive      move the dead-letter queue's messages back to the events queue (after a fix)
    --stack <name>     the deployed stack's queues (default: the local stack on DATA_DIR)`,
    flags: ['stack', 'region'],
  },
  reprocess: {
    usage: `reprocess    runs quarantined deliveries again through the current provider code (after a fix):
                     what parses now is stored once and counted once, its entry marked resolved; an entry
                     whose raw body is not where and as this stack keeps it is left as it is, its row says
                     why, and the exit code is 1
    --reason <text>    only those whose reason contains the text
    --since <ISO>      only those received at or after
    --id <id>          only this one
    --dry-run          say what would happen, write nothing
    --json             one JSON object per line`,
    flags: ['reason', 'since', 'id', 'dry-run', 'json', ...WHERE],
  },
  dlq: {
    usage: `dlq          the dead-letter queue, looked at without taking anything off it
    dlq list           each message: id, sent at, receive count, provider, event, record id, size, and
                       why it is there (when the consumer said)
    dlq show <id>      one message's whole body
    dlq purge          delete every message (asks first; --yes to skip the question)
    --stack <name>     the deployed stack's DLQ (default: the local stack on DATA_DIR)
    --json             one JSON object per line`,
    flags: ['stack', 'region', 'json', 'yes'],
  },
  export: {
    usage: `export       every matching event, no row cap, streamed page by page (progress on stderr)
    --format <f>       csv (a header row, one column per record field) or jsonl (required)
    --out <file>       write to a file instead of stdout
    --campaign <id>, --device <id>, --provider <name>, --since <ISO>, --until <ISO>   as for query
    --type <event>     events of one type, every day from --since (required with --type)`,
    flags: ['format', 'out', 'campaign', 'device', 'type', 'provider', 'since', 'until', ...WHERE],
  },
};

const usage = () => `Usage: ${invocation('events')} <command> [options]${cliNote()}

Commands:
${Object.values(COMMANDS)
  .map((command) => `  ${command.usage}`)
  .join('\n')}

${COMMON}

Data goes to stdout, messages to stderr. Exit codes: 0 done, 1 failed, 2 usage error.
"${invocation('events')} <command> --help" shows one command.`;

/** Through npm, `-s` keeps npm's banner off stdout; the CLI has none. */
const cliNote = () => (invocation('events').startsWith('npm') ? '     (-s: no npm banner on stdout)' : '');

const commandUsage = (name: string) =>
  `Usage: ${invocation('events')} ${name} [options]\n\n  ${COMMANDS[name]?.usage}\n\n${COMMON}`;

/** Every flag any command takes, for "did you mean". */
const ALL_FLAGS = [...new Set(Object.values(COMMANDS).flatMap((command) => command.flags)), 'help'];

/** Levenshtein distance, for suggesting the flag a typo meant. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] as number;
      row[j] = Math.min(
        (row[j] as number) + 1,
        (row[j - 1] as number) + 1,
        previous + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      previous = current;
    }
  }
  return row[b.length] as number;
}

/** The parser's "Unknown option '--campain'" with the nearest known flag, when one is near. */
function withSuggestion(message: string): string {
  const unknown = /Unknown option '--([^']+)'/.exec(message)?.[1];
  if (!unknown) return message.split('\n')[0] ?? message;
  const [best] = ALL_FLAGS.map((flag) => ({ flag, d: distance(unknown, flag) })).sort((x, y) => x.d - y.d);
  return best && best.d <= 2
    ? `unknown flag --${unknown}; did you mean --${best.flag}?`
    : `unknown flag --${unknown}`;
}

/** Where a page of `query` ended: the last event printed, newest first order. */
interface Cursor {
  created_at: string;
  id: string;
}
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

/** `true` when `YYYY-MM-DD` names a real calendar day (Date.parse takes `2025-02-30` as 2 March). */
function isCalendarDay(day: string): boolean {
  const ms = Date.parse(`${day}T00:00:00.000Z`);
  return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 10) === day;
}

function parseTime(flag: string, value: string | undefined, endOfDay: boolean): string | undefined {
  if (value === undefined) return undefined;
  const dayOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const ms = Date.parse(dayOnly ? `${value}T00:00:00.000Z` : value);
  const day = /^(\d{4}-\d{2}-\d{2})T/.exec(value)?.[1] ?? value.slice(0, 10);
  if (Number.isNaN(ms) || !/^\d{4}-\d{2}-\d{2}/.test(value) || !isCalendarDay(day))
    throw new UsageError(`${flag} must be an ISO 8601 date or date-time, got ${JSON.stringify(value)}`);
  return new Date(dayOnly && endOfDay ? ms + 86_399_999 : ms).toISOString();
}

function parseLimit(value: string | undefined): number {
  if (value === undefined) return 100;
  const limit = Number(value);
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new UsageError(`--limit must be a positive integer, got ${value}`);
  return limit;
}

/**
 * How a table shows a value: CTR as a percentage (as the dashboard does), times to the second, long ids cut,
 * and what a terminal would act on escaped (values come from senders).
 */
function shown(column: string, value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (column === 'ctr' && typeof value === 'number') return `${(value * 100).toFixed(1)} %`;
  if ((column === 'created_at' || column === 'received_at') && typeof value === 'string')
    return forTerminal(value.replace('T', ' ').replace(/\.\d+Z$|Z$/, ''));
  if (column === 'id' && typeof value === 'string' && value.length > 20)
    return `${forTerminal(value.slice(0, 19))}…`;
  return forTerminal(typeof value === 'object' ? JSON.stringify(value) : String(value));
}

function printTable(rows: Record<string, unknown>[], columns: string[]) {
  const numeric = columns.map(
    (column) =>
      rows.length > 0 && rows.every((row) => typeof row[column] === 'number' || row[column] === null),
  );
  const widths = columns.map((column) =>
    Math.max(forTerminal(column).length, ...rows.map((row) => shown(column, row[column]).length)),
  );
  const line = (values: string[]) =>
    values
      .map((value, i) => (numeric[i] ? value.padStart(widths[i] ?? 0) : value.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  console.log(line(columns.map(forTerminal)));
  for (const row of rows) console.log(line(columns.map((column) => shown(column, row[column]))));
  console.log(`(${rows.length} ${rows.length === 1 ? 'row' : 'rows'})`);
}

const print = (rows: object[], json: boolean, columns: string[]) => {
  if (json) for (const row of rows) console.log(JSON.stringify(row));
  else printTable(rows as Record<string, unknown>[], columns);
};

function parseDay(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || !isCalendarDay(value)) {
    throw new UsageError(`${flag} must be a day, YYYY-MM-DD, got ${JSON.stringify(value)}`);
  }
  return value;
}

const STATS_COLUMNS = ['provider', 'campaign_id', 'day', 'impressions', 'clicks', 'unique_devices', 'ctr'];
const formatCtr = (row: { ctr: number | null }) => ({
  ...row,
  ctr: row.ctr === null ? null : Number(row.ctr.toFixed(4)),
});

async function stats(values: {
  campaign?: string | undefined;
  provider?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  json: boolean;
  endpoint?: string | undefined;
  table?: string | undefined;
  stack?: string | undefined;
  region?: string | undefined;
}): Promise<number> {
  const until = parseDay('--until', values.until) ?? new Date().toISOString().slice(0, 10);
  const since =
    parseDay('--since', values.since) ??
    (values.campaign
      ? '0000-00-00'
      : new Date(Date.parse(until) - 6 * 86_400_000).toISOString().slice(0, 10));
  if (since > until) throw new UsageError('--since is after --until');
  if (!values.campaign && Date.parse(until) - Date.parse(since) >= TYPE_QUERY_MAX_DAYS * 86_400_000) {
    throw new UsageError(`stats across campaigns covers at most ${TYPE_QUERY_MAX_DAYS} days`);
  }
  return withTable(
    { endpoint: values.endpoint, table: values.table, stack: values.stack, region: values.region },
    async (target) => {
      const counters = new CampaignStats(target.client, target.tableName);
      const providers = values.provider ? [values.provider] : providerNames();
      if (values.campaign) {
        const rows: CampaignDayStats[] = [];
        for (const provider of providers)
          rows.push(...(await counters.campaignStats(provider, values.campaign, since, until)));
        rows.sort((a, b) => a.day.localeCompare(b.day) || a.provider.localeCompare(b.provider));
        print(rows.map(formatCtr), values.json, STATS_COLUMNS);
        return 0;
      }
      // Every campaign over the range, per provider: daily counters summed; unique_devices is the sum of each
      // day's uniques.
      const rows = await counters.rangeStats(providers, daysNewestFirst(since, until));
      print(rows.map(formatCtr), values.json, [
        'provider',
        'campaign_id',
        'since',
        'until',
        'impressions',
        'clicks',
        'unique_devices',
        'ctr',
      ]);
      return 0;
    },
  );
}

async function deadLetters(
  action: string | undefined,
  id: string | undefined,
  values: { stack?: string | undefined; region?: string | undefined; json: boolean; yes: boolean },
): Promise<number> {
  if (action !== 'list' && action !== 'show' && action !== 'purge') {
    throw new UsageError('dlq needs list, show <id> or purge');
  }
  if (action === 'show' && !id) throw new UsageError('dlq show needs a message id (from dlq list)');
  if (action === 'purge' && !values.yes) {
    if (!process.stdin.isTTY)
      throw new UsageError('dlq purge deletes every dead letter: add --yes to confirm');
    const answer = await createInterface({ input: process.stdin, output: process.stderr }).question(
      'Delete every message in the dead-letter queue? Type "yes": ',
    );
    if (answer.trim() !== 'yes') {
      console.error('events: nothing deleted');
      return 1;
    }
  }
  const target = await resolveQueueTarget({ stack: values.stack, region: values.region });
  try {
    if (action === 'purge') {
      await purgeDeadLetters(target.client, target.dlqUrl);
      console.error('events: the dead-letter queue is purged');
      return 0;
    }
    const letters = await peekDeadLetters(target.client, target.dlqUrl);
    if (action === 'show') {
      const letter = letters.find((candidate) => candidate.message_id === id);
      if (!letter) {
        console.error(`events: no message ${forTerminal(String(id))} in the dead-letter queue`);
        return 1;
      }
      if (values.json) console.log(JSON.stringify(letter));
      else console.log(forTerminal(letter.body));
      return 0;
    }
    const rows = values.json ? letters : letters.map(({ body: _, ...row }) => row);
    print(rows, values.json, [
      'message_id',
      'sent_at',
      'receive_count',
      'provider',
      'event',
      'record_id',
      'bytes',
      'reason',
    ]);
    return 0;
  } finally {
    target.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      campaign: { type: 'string' },
      device: { type: 'string' },
      type: { type: 'string' },
      provider: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean', default: false },
      endpoint: { type: 'string' },
      table: { type: 'string' },
      stack: { type: 'string' },
      region: { type: 'string' },
      format: { type: 'string' },
      out: { type: 'string' },
      cursor: { type: 'string' },
      yes: { type: 'boolean', default: false },
      reason: { type: 'string' },
      id: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const command = positionals[0];
  // Its own commands only: `toString` or `constructor` are what every object inherits, not commands.
  if (command !== undefined && !Object.hasOwn(COMMANDS, command))
    throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  if (values.help || !command) {
    if (values.help) console.log(command ? commandUsage(command) : usage());
    else console.error(usage());
    return values.help ? 0 : 2;
  }
  const extra =
    command === 'dlq'
      ? positionals.slice(command === 'dlq' && positionals[1] === 'show' ? 3 : 2)
      : positionals.slice(1);
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
  const allowed = new Set(['help', ...(COMMANDS[command]?.flags ?? [])]);
  for (const [flag, value] of Object.entries(values)) {
    if (value !== undefined && value !== false && !allowed.has(flag)) {
      throw new UsageError(`--${flag} does not apply to ${command}`);
    }
  }
  if (command === 'redrive') {
    const target = await resolveQueueTarget({ stack: values.stack, region: values.region });
    try {
      if (values.stack) {
        // In AWS, SQS moves the messages itself; this only starts the task and reports its progress.
        const arnOf = async (queueUrl: string) =>
          (
            await target.client.send(
              new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
            )
          ).Attributes?.QueueArn ?? '';
        const result = await moveDeadLetters(
          target.client,
          { deadLetterQueueArn: await arnOf(target.dlqUrl), queueArn: await arnOf(target.queueUrl) },
          {
            onProgress: (moved, toMove) =>
              console.error(`redrive: ${moved}${toMove === undefined ? '' : ` of ${toMove}`} moved`),
          },
        );
        console.error(
          `redrive: ${result.status.toLowerCase()}, ${result.moved} moved back to the events queue${result.failureReason ? ` (${result.failureReason})` : ''}`,
        );
        return result.status === 'COMPLETED' ? 0 : 1;
      }
      // The local SQS-API server has no move task: the same move as a receive, send and delete loop.
      const { moved, failed } = await redriveMessages(target.client, target.dlqUrl, target.queueUrl);
      console.error(
        `redrive: ${moved} moved back to the events queue${failed ? `, ${failed} refused (still in the DLQ)` : ''}`,
      );
      return failed === 0 ? 0 : 1;
    } finally {
      target.close();
    }
  }
  if (command === 'reprocess') {
    const since = parseTime('--since', values.since, false);
    // Raw bodies are read only where this stack keeps them: its bucket in AWS, the data folder locally.
    const rawBucket = values.stack
      ? await readRawBodiesBucket(values.stack, await requireRegion(values.region))
      : undefined;
    return withTable(
      { endpoint: values.endpoint, table: values.table, stack: values.stack, region: values.region },
      async (target) => {
        const outcomes = await reprocessQuarantine(
          {
            client: target.client,
            tableName: target.tableName,
            repository: new RecordsRepository(target.client, target.tableName, target.layout),
            writer: new EventWriter(target.client, target.tableName, target.layout),
            counters: new CampaignCounters(target.client, target.tableName, target.layout),
          },
          { reason: values.reason, since, id: values.id },
          { dryRun: values['dry-run'], fileRoot: values.stack ? undefined : dataDir(), rawBucket },
        );
        print(outcomes, values.json, ['id', 'provider', 'result', 'record_id', 'reason']);
        if (values['dry-run']) console.error('events: dry run, nothing written');
        const skipped = outcomes.filter((outcome) => outcome.result === 'skipped').length;
        if (skipped === 0) return 0;
        console.error(
          `events: ${skipped} left quarantined as it was: ${skipped === 1 ? 'its raw body' : 'their raw bodies'} could not be used (see reason)`,
        );
        return 1;
      },
    );
  }
  if (command === 'dlq') return deadLetters(positionals[1], positionals[2], values);
  if (command === 'stats') return stats(values);
  if (command === 'state') {
    const { provider, campaign } = values;
    if (!provider || !campaign) throw new UsageError('state needs --provider and --campaign');
    return withTable(
      { endpoint: values.endpoint, table: values.table, stack: values.stack, region: values.region },
      async (target) => {
        const state = await new RecordsRepository(target.client, target.tableName, target.layout).getState(
          provider,
          campaign,
        );
        if (!state) {
          console.error(`events: no state for ${forTerminal(provider)} campaign ${forTerminal(campaign)}`);
          return 1;
        }
        print([state], values.json, Object.keys(state));
        return 0;
      },
    );
  }
  if (command === 'export') {
    if (values.format !== 'csv' && values.format !== 'jsonl')
      throw new UsageError('export needs --format csv or --format jsonl');
    if (values.limit !== undefined)
      throw new UsageError('export has no --limit: it writes every matching event');
    const format = values.format;
    if (values.type && !values.since)
      throw new UsageError('export --type needs --since (every day from it is read)');
    const since = parseTime('--since', values.since, false);
    const until = parseTime('--until', values.until, true);
    if (since && until && since > until) throw new UsageError('--since is after --until');
    if (values.provider && !providerNames().includes(values.provider)) {
      throw new UsageError(
        `unknown provider ${JSON.stringify(values.provider)}; known: ${providerNames().join(', ')}`,
      );
    }
    return withTable(
      { endpoint: values.endpoint, table: values.table, stack: values.stack, region: values.region },
      async (target) => {
        const repository = new RecordsRepository(target.client, target.tableName, target.layout);
        const queries = (values.provider ? [values.provider] : providerNames()).map((provider) => ({
          provider,
          campaign: values.campaign,
          device: values.device,
          type: values.type,
          since,
          until,
        }));
        await exportEvents(repository, queries, { format, out: values.out });
        return 0;
      },
    );
  }
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
  if (values.provider && !providerNames().includes(values.provider)) {
    throw new UsageError(
      `unknown provider ${JSON.stringify(values.provider)}; known: ${providerNames().join(', ')}`,
    );
  }

  return withTable(
    { endpoint: values.endpoint, table: values.table, stack: values.stack, region: values.region },
    async (target) => {
      const repository = new RecordsRepository(target.client, target.tableName, target.layout);
      if (command === 'quarantine') {
        const records = await repository.listQuarantine(limit);
        print(records, values.json, ['received_at', 'provider', 'reason', 'id']);
        return 0;
      }
      const events: StoredEvent[] = [];
      for (const provider of values.provider ? [values.provider] : providerNames()) {
        const query: EventQuery = {
          provider,
          campaign: values.campaign,
          device: values.device,
          type: values.type,
          since,
          until,
          // Events at the cursor's own time may come again: room for them, dropped below.
          limit: cursor ? limit + CURSOR_SLACK : limit,
        };
        events.push(...(await repository.queryEvents(query)));
      }
      events.sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id));
      const page = events.filter((event) => !cursor || isAfter(event, cursor)).slice(0, limit);
      const last = page[page.length - 1];
      if (page.length === limit && last) {
        console.error(`events: more may follow: --cursor ${makeCursor(last)}`);
      }
      print(page, values.json, ['created_at', 'event', 'campaign_id', 'device_id', 'platform', 'id']);
      return 0;
    },
  );
}

/** The tool: runs one command. @returns the exit code (0 done, 1 failed, 2 usage error). */
export async function run(argv: string[]): Promise<number> {
  try {
    return await main(argv);
  } catch (error) {
    return reportFailure('events', error, withSuggestion);
  }
}

if (isEntry(import.meta.url)) runAsEntry(run);
