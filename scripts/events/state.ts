// `events state`: a provider's current state of a campaign.
import { RecordsRepository } from '../../lib/queries/records-repository';
import { UsageError } from '../entry';
import { withTable } from '../local-target';
import { forTerminal } from '../terminal-text';
import { type CommandSpec, command } from './command';
import { line } from './io';
import { print } from './output';
import { WHERE, where } from './where';

export const spec: CommandSpec = {
  name: 'state',
  usage: `state        a provider's current state of a campaign (Symphony)
    --provider <name>  the provider (required)
    --campaign <id>    the campaign (required)
    --json             one JSON object per line`,
  flags: ['provider', 'campaign', 'json', ...WHERE],
};

export const run = command(spec, async (values, _words, io) => {
  const { provider, campaign } = values;
  if (!provider || !campaign) throw new UsageError('state needs --provider and --campaign');
  return withTable(where(values), async (target) => {
    const repository = new RecordsRepository(target.client, target.tableName, target.layout);
    const state = await repository.getState(provider, campaign);
    if (!state) {
      line(io.stderr, `events: no state for ${forTerminal(provider)} campaign ${forTerminal(campaign)}`);
      return 1;
    }
    print(io, [state], values.json, Object.keys(state));
    return 0;
  });
});
