import { parseArgs } from 'node:util';
import { providerNames } from '../lib/providers';
import { redriveMessages } from '../lib/queue/redrive';
import { type EventQuery, RecordsRepository } from '../lib/records/records-repository';
import type { StoredEvent } from '../lib/records/records-table';
import { resolveQueueTarget, resolveTableTarget } from './local-target';

const USAGE = `Usage: npm run events -- <command> [options]

Commands:
  query        events, newest first
    --campaign <id>    events of one campaign
    --device <id>      events of one device
    --type <event>     events of one type (e.g. campaign.click), day by day
    --provider <name>  one provider (default: all)
    --since <ISO>      created at or after (date or date-time)
    --until <ISO>      created at or before
    --limit <n>        at most n events (default 100)
  quarantine   authentic deliveries the schemas did not understand, with the reason
    --limit <n>        at most n records (default 100)
  redrive      move the dead-letter queue's messages back to the events queue (after a fix)

Common options:
  --json               one JSON object per line instead of a table
  --stack <name>       the deployed stack (tables and queues from its outputs)
  --endpoint <url>     DynamoDB endpoint (env EVENTS_ENDPOINT); default: the local stack on DATA_DIR
  --table <name>       records table (env EVENTS_TABLE)
`;

class UsageError extends Error {}

function parseTime(flag: string, value: string | undefined, endOfDay: boolean): string | undefined {
  if (value === undefined) return undefined;
  const dayOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const ms = Date.parse(dayOnly ? `${value}T00:00:00.000Z` : value);
  if (Number.isNaN(ms))
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

function printTable(rows: Record<string, unknown>[], columns: string[]) {
  const cell = (value: unknown) => (value === null || value === undefined ? '-' : String(value));
  const widths = columns.map((column) =>
    Math.max(column.length, ...rows.map((row) => cell(row[column]).length)),
  );
  const line = (values: string[]) =>
    values
      .map((value, i) => value.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  console.log(line(columns));
  for (const row of rows) console.log(line(columns.map((column) => cell(row[column]))));
  console.log(`(${rows.length} ${rows.length === 1 ? 'row' : 'rows'})`);
}

const print = (rows: object[], json: boolean, columns: string[]) => {
  if (json) for (const row of rows) console.log(JSON.stringify(row));
  else printTable(rows as Record<string, unknown>[], columns);
};

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
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  if (command === 'redrive') {
    const target = await resolveQueueTarget({ stack: values.stack });
    try {
      const { moved, failed } = await redriveMessages(target.client, target.dlqUrl, target.queueUrl);
      console.log(
        `redrive: ${moved} moved back to the events queue${failed ? `, ${failed} refused (still in the DLQ)` : ''}`,
      );
      return failed === 0 ? 0 : 1;
    } finally {
      target.close();
    }
  }
  if (command !== 'query' && command !== 'quarantine') {
    throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
  const limit = parseLimit(values.limit);
  const since = parseTime('--since', values.since, false);
  const until = parseTime('--until', values.until, true);
  if (values.provider && !providerNames().includes(values.provider)) {
    throw new UsageError(
      `unknown provider ${JSON.stringify(values.provider)}; known: ${providerNames().join(', ')}`,
    );
  }

  const target = await resolveTableTarget({
    endpoint: values.endpoint,
    table: values.table,
    stack: values.stack,
  });
  try {
    const repository = new RecordsRepository(target.client, target.tableName);
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
        limit,
      };
      events.push(...(await repository.queryEvents(query)));
    }
    events.sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id));
    print(events.slice(0, limit), values.json, [
      'created_at',
      'event',
      'campaign_id',
      'device_id',
      'platform',
      'id',
    ]);
    return 0;
  } finally {
    await target.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`events: ${message}`);
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`\n${USAGE}`);
      process.exitCode = 2;
      return;
    }
    process.exitCode = 1;
  },
);
