// `events reprocess`: quarantined deliveries run again through the current provider code, after a fix.
import { CampaignCounters } from '../../lib/ingest/campaign-counters';
import { EventWriter } from '../../lib/ingest/event-writer';
import { reprocessQuarantine } from '../../lib/ingest/reprocess';
import { RecordsRepository } from '../../lib/queries/records-repository';
import { requireRegion } from '../aws-region';
import { dataDir, withTable } from '../local-target';
import { readRawBodiesBucket } from '../stack-outputs';
import { parseTime } from './arguments';
import { type CommandSpec, command } from './command';
import { line } from './io';
import { print } from './output';
import { WHERE, where } from './where';

export const spec: CommandSpec = {
  name: 'reprocess',
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
};

export const run = command(spec, async (values, _words, io) => {
  const since = parseTime('--since', values.since, false);
  // Raw bodies are read only where this stack keeps them: its bucket in AWS, the data folder locally.
  const rawBucket = values.stack
    ? await readRawBodiesBucket(values.stack, await requireRegion(values.region))
    : undefined;
  return withTable(where(values), async (target) => {
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
    print(io, outcomes, values.json, ['id', 'provider', 'result', 'record_id', 'reason']);
    if (values['dry-run']) line(io.stderr, 'events: dry run, nothing written');
    const skipped = outcomes.filter((outcome) => outcome.result === 'skipped').length;
    if (skipped === 0) return 0;
    line(
      io.stderr,
      `events: ${skipped} left quarantined as it was: ${skipped === 1 ? 'its raw body' : 'their raw bodies'} could not be used (see reason)`,
    );
    return 1;
  });
});
