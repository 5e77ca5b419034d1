// `events reprocess`: quarantined deliveries run again through the current provider code, after a fix; with
// `--normalizer`, stored records an earlier mapping made, normalized again by the current one.

import { normalizerOf, parseNormalizer } from '../../lib/events/normalizer';
import { CampaignCounters } from '../../lib/ingest/campaign-counters';
import { EventWriter } from '../../lib/ingest/event-writer';
import {
  type ReprocessStoredOutcome,
  reprocessQuarantine,
  reprocessStored,
} from '../../lib/ingest/reprocess';
import { findProvider } from '../../lib/providers';
import { RecordsRepository } from '../../lib/queries/records-repository';
import { requireRegion } from '../aws-region';
import { UsageError } from '../entry';
import { dataDir, withTable } from '../local-target';
import { readRawBodiesBucket } from '../stack-outputs';
import { parseTime, providersOf } from './arguments';
import { type CommandRun, type CommandSpec, command, failure, parseAll, type Values } from './command';
import { type EventsIo, line, processIo } from './io';
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
    --normalizer <provider>@<n>   instead of the quarantine, the stored records that mapping made (query
                     --json shows each record's): each is normalized again from its raw body by the current
                     mapping and rewritten once; a record the counters would count otherwise, or whose body
                     the current mapping does not understand, is left as it is, its row says why, and the
                     exit code is 1 (with --since and --id: received at or after, that record only)
    --dry-run          say what would happen, write nothing
    --json             one JSON object per line`,
  flags: ['reason', 'since', 'id', 'dry-run', 'json', ...WHERE],
};

/**
 * `--normalizer <label>` (or `--normalizer=<label>`) taken out of the arguments, which the events tool's one
 * parser does not know: the rest go to it.
 */
function takeNormalizer(argv: string[]): { rest: string[]; normalizer: string | undefined } {
  const rest: string[] = [];
  let normalizer: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    let value: string | undefined;
    if (arg === '--normalizer') {
      value = argv[++i];
      if (value === undefined || value.startsWith('--'))
        throw new UsageError("option '--normalizer <value>' argument missing");
    } else if (arg.startsWith('--normalizer=')) value = arg.slice('--normalizer='.length);
    else {
      rest.push(arg);
      continue;
    }
    if (normalizer !== undefined) throw new UsageError('--normalizer is given twice');
    normalizer = value;
  }
  return { rest, normalizer };
}

/**
 * Reprocess's arguments, `--normalizer` taken out, as the events tool's shared parser reads the rest; `undefined`
 * when they are not reprocess's (another command is named, or they do not parse so). For the events tool's entry,
 * whose shared parser does not know `--normalizer`.
 */
export function parseReprocess(argv: string[]) {
  try {
    const parsed = parseAll(takeNormalizer(argv).rest);
    return parsed.positionals[0] === 'reprocess' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Checks a `--normalizer` label: of a provider served here, older than its current mapping. */
function checkNormalizer(value: string): string {
  const label = parseNormalizer(value);
  if (!label)
    throw new UsageError(
      `--normalizer must be <provider>@<version>, e.g. sori@1, got ${JSON.stringify(value.slice(0, 80))}`,
    );
  providersOf(label.provider);
  const current = normalizerOf(findProvider(label.provider) as NonNullable<ReturnType<typeof findProvider>>);
  if (current === value)
    throw new UsageError(
      `${value} is the current normalizer of ${label.provider}: there is nothing newer to normalize into`,
    );
  return value;
}

/** Where raw bodies are read from: this stack's bucket in AWS, the data folder locally. */
async function rawPlaces(values: Values) {
  const rawBucket = values.stack
    ? await readRawBodiesBucket(values.stack, await requireRegion(values.region))
    : undefined;
  return { fileRoot: values.stack ? undefined : dataDir(), rawBucket };
}

const quarantine = command(spec, async (values, _words, io) => {
  const since = parseTime('--since', values.since, false);
  const places = await rawPlaces(values);
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
      { dryRun: values['dry-run'], ...places },
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

/** The stored records `normalizer` made, normalized again: one row each. */
const stored = (normalizer: string) =>
  command(spec, async (values, _words, io) => {
    if (values.reason !== undefined)
      throw new UsageError('--reason does not apply to reprocess --normalizer');
    const label = checkNormalizer(normalizer);
    const since = parseTime('--since', values.since, false);
    const places = await rawPlaces(values);
    return withTable(where(values), async (target) => {
      const outcomes: ReprocessStoredOutcome[] = await reprocessStored(
        { client: target.client, tableName: target.tableName, layout: target.layout },
        { normalizer: label, since, id: values.id },
        { dryRun: values['dry-run'], ...places },
      );
      const rows = outcomes.map((outcome) => ({ ...outcome, changed: outcome.changed?.join(',') }));
      if (values.json) print(io, outcomes, true, []);
      else print(io, rows, false, ['id', 'result', 'normalizer', 'changed', 'reason']);
      const rewritten = outcomes.filter((outcome) => outcome.result === 'rewritten').length;
      if (values['dry-run'])
        line(io.stderr, `events: dry run, nothing written: ${rewritten} would be rewritten`);
      const left = outcomes.filter(
        (outcome) => outcome.result === 'skipped' || outcome.result === 'quarantined',
      ).length;
      if (left === 0) return 0;
      line(
        io.stderr,
        `events: ${left} left as ${left === 1 ? 'it was' : 'they were'}, at ${label} (see reason)`,
      );
      return 1;
    });
  });

export const run: CommandRun = async (argv, io: EventsIo = processIo()) => {
  let taken: ReturnType<typeof takeNormalizer>;
  try {
    taken = takeNormalizer(argv);
  } catch (error) {
    return failure(io, error);
  }
  return taken.normalizer === undefined
    ? quarantine(taken.rest, io)
    : stored(taken.normalizer)(taken.rest, io);
};
