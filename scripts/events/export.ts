// `events export`: every matching event, no row cap, streamed page by page.
import { planExport } from '../../lib/queries/event-plan';
import { RecordsRepository } from '../../lib/queries/records-repository';
import { UsageError } from '../entry';
import { exportEvents } from '../export-events';
import { withTable } from '../local-target';
import { parseTime, providersOf } from './arguments';
import { type CommandSpec, command } from './command';
import { WHERE, where } from './where';

export const spec: CommandSpec = {
  name: 'export',
  usage: `export       every matching event, no row cap, streamed page by page (progress on stderr)
    --format <f>       csv (a header row, one column per record field) or jsonl (required)
    --out <file>       write to a file instead of stdout
    --campaign <id>, --device <id>, --provider <name>, --since <ISO>, --until <ISO>   as for query
    --type <event>     events of one type, every day from --since (required with --type)`,
  flags: ['format', 'out', 'campaign', 'device', 'type', 'provider', 'since', 'until', ...WHERE],
};

export const run = command(spec, async (values) => {
  const format = values.format;
  if (format !== 'csv' && format !== 'jsonl')
    throw new UsageError('export needs --format csv or --format jsonl');
  const queries = planExport({
    providers: providersOf(values.provider),
    campaign: values.campaign,
    device: values.device,
    type: values.type,
    since: parseTime('--since', values.since, false),
    until: parseTime('--until', values.until, true),
  });
  if ('problem' in queries) throw new UsageError(queries.problem);
  return withTable(where(values), async (target) => {
    const repository = new RecordsRepository(target.client, target.tableName, target.layout);
    await exportEvents(repository, queries, { format, out: values.out });
    return 0;
  });
});
