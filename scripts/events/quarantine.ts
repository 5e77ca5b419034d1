// `events quarantine`: authentic deliveries the schemas did not understand, with the reason.
import { RecordsRepository } from '../../lib/queries/records-repository';
import { withTable } from '../local-target';
import { parseLimit } from './arguments';
import { type CommandSpec, command } from './command';
import { print } from './output';
import { WHERE, where } from './where';

export const spec: CommandSpec = {
  name: 'quarantine',
  usage: `quarantine   authentic deliveries the schemas did not understand, with the reason
    --limit <n>        at most n records (default 100)
    --json             one JSON object per line`,
  flags: ['limit', 'json', ...WHERE],
};

export const run = command(spec, async (values, _words, io) => {
  const limit = parseLimit(values.limit);
  return withTable(where(values), async (target) => {
    const repository = new RecordsRepository(target.client, target.tableName, target.layout);
    print(io, await repository.listQuarantine(limit), values.json, [
      'received_at',
      'provider',
      'reason',
      'id',
    ]);
    return 0;
  });
});
