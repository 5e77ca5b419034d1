// `events replay`: the stored events of a time range sent again to a destination, resumable from a checkpoint.
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import {
  DESTINATION_KINDS,
  type Destination,
  DestinationError,
  type DestinationKind,
} from '../../lib/destinations/destination';
import { EventBridgeDestination } from '../../lib/destinations/eventbridge';
import { HttpDestination } from '../../lib/destinations/http';
import {
  loadReactionModule,
  ReactionDestination,
  ReactionModuleError,
} from '../../lib/destinations/reaction';
import { redactedUrl } from '../../lib/destinations/redacted-url';
import { SqsDestination } from '../../lib/destinations/sqs';
import { findProvider } from '../../lib/providers';
import {
  CheckpointError,
  type ReplayCheckpoint,
  readCheckpoint,
  sameReplay,
  writeCheckpoint,
} from '../../lib/replay/checkpoint-file';
import { RangeReader, type ReplayRange } from '../../lib/replay/range-reader';
import { replayRangeProblem, replayTime } from '../../lib/replay/replay-bounds';
import { countRange, replayRange } from '../../lib/replay/replay-range';
import { findRegion, requireRegion } from '../aws-region';
import { UsageError } from '../entry';
import { localSqs } from '../local-stack-file';
import { withTable } from '../local-target';
import { providersOf } from './arguments';
import { type CommandSpec, commandUsage, failure } from './command';
import { type EventsIo, line, processIo } from './io';
import { print } from './output';
import { WHERE, where } from './where';

export const spec: CommandSpec = {
  name: 'replay',
  usage: `replay       sends the stored events of a time range again, each at least once, with its record id
                     (record_id) so a receiver can drop what it already has; progress on stderr
    --since <ISO>      created at or after (required)
    --until <ISO>      created at or before (required; a day alone is its whole day)
    --campaign <id>, --type <event>, --provider <name>   only those (default: every event of the range)
    --to <destination> reaction, eventbridge, sqs or http (required unless --dry-run)
    --target <where>   reaction: the module's path (default ON_EVENT_MODULE); eventbridge: the bus (default
                       "default"); sqs: the queue URL; http: the URL each event is POSTed to
    --checkpoint <file>  where the replay keeps how far it got, after each page: run the same command again
                       after an interruption and it resumes there (a finished replay sends nothing again)
    --dry-run          print how many events the range holds, send nothing
    --json             the outcome as one JSON object`,
  flags: [
    'since',
    'until',
    'campaign',
    'type',
    'provider',
    'to',
    'target',
    'checkpoint',
    'dry-run',
    'json',
    ...WHERE,
  ],
};

/** The flags replay takes, some of them its own (`--to`, `--target`, `--checkpoint`). */
const OPTIONS = {
  since: { type: 'string' },
  until: { type: 'string' },
  campaign: { type: 'string' },
  type: { type: 'string' },
  provider: { type: 'string' },
  to: { type: 'string' },
  target: { type: 'string' },
  checkpoint: { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  stack: { type: 'string' },
  endpoint: { type: 'string' },
  table: { type: 'string' },
  region: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/**
 * Replay's arguments, its own flags included, when the command they name is replay; `undefined` for another.
 * @throws {UsageError} when they name replay but do not parse with its flags (an unknown flag, a missing value).
 */
export function parseReplay(argv: string[]) {
  const loose = parseArgs({ args: argv, allowPositionals: true, strict: false, options: OPTIONS });
  if (loose.positionals[0] !== 'replay') return undefined;
  try {
    return parseOwn(argv);
  } catch (error) {
    const unknown = /Unknown option '(--[^']+)'/.exec((error as Error).message)?.[1];
    if (unknown) throw new UsageError(`${unknown} does not apply to replay`);
    throw error;
  }
}

const parseOwn = (argv: string[]) =>
  parseArgs({ args: argv, allowPositionals: true, tokens: true, options: OPTIONS });
type ReplayValues = ReturnType<typeof parseOwn>['values'];

/** A bound of the range, read as the replay function reads it. @throws {UsageError} when it is none. */
function timeOf(flag: string, value: string, endOfDay: boolean): string {
  const time = replayTime(value, endOfDay);
  if (time === undefined)
    throw new UsageError(`${flag} must be an ISO 8601 date or date-time, got ${JSON.stringify(value)}`);
  return time;
}

/** The range the flags ask for. @throws {UsageError} for a missing or wrong bound. */
function rangeOf(values: ReplayValues): ReplayRange {
  if (!values.since || !values.until) throw new UsageError('replay needs --since and --until');
  const since = timeOf('--since', values.since, false);
  const until = timeOf('--until', values.until, true);
  const problem = replayRangeProblem(since, until, { since: '--since', until: '--until' });
  if (problem) throw new UsageError(problem);
  const providers = providersOf(values.provider);
  return {
    since,
    until,
    providers,
    // The types whose partitions hold each provider's events of no campaign, as the providers served here list them.
    eventTypes: Object.fromEntries(providers.map((name) => [name, findProvider(name)?.events ?? []])),
    campaign: values.campaign,
    type: values.type,
  };
}

/**
 * The endpoint of a queue URL on this machine (a local SQS-API server, which takes any key), or `undefined`. Local
 * servers name queues by a host such as `sqs.us-east-1.127.0.0.1:<port>`, which is no valid URL host (a name
 * whose last label is a number must be an IPv4 address), so the URL is read by its parts.
 */
function localQueueEndpoint(queueUrl: string): string | undefined {
  const parts = /^(https?:)\/\/(?:[^/@]*\.)?(localhost|127\.\d+\.\d+\.\d+)(:\d+)?\//.exec(queueUrl);
  return parts ? `${parts[1]}//${parts[2]}${parts[3] ?? ''}` : undefined;
}

/** The destination `--to` and `--target` name. @throws {UsageError} when one is missing or wrong. */
async function destinationOf(values: ReplayValues): Promise<Destination> {
  const kind = values.to as DestinationKind | undefined;
  if (!kind) throw new UsageError(`replay needs --to ${DESTINATION_KINDS.join('|')}`);
  if (!(DESTINATION_KINDS as readonly string[]).includes(kind))
    throw new UsageError(`--to must be one of ${DESTINATION_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
  const target = values.target;
  switch (kind) {
    case 'reaction': {
      const path = target ?? process.env.ON_EVENT_MODULE;
      if (!path) throw new UsageError('--to reaction needs --target <module path> (or ON_EVENT_MODULE)');
      try {
        return new ReactionDestination({ run: await loadReactionModule(path), path });
      } catch (error) {
        if (error instanceof ReactionModuleError) throw new UsageError(error.message);
        throw error;
      }
    }
    case 'http': {
      if (!target) throw new UsageError('--to http needs --target <URL>');
      try {
        return new HttpDestination({ url: target });
      } catch {
        throw new UsageError(`--target must be an http(s) URL, got ${JSON.stringify(redactedUrl(target))}`);
      }
    }
    case 'sqs': {
      if (!target) throw new UsageError('--to sqs needs --target <queue URL>');
      if (!/^https?:\/\/[^/]+\/./.test(target))
        throw new UsageError(`--target must be a queue URL, got ${JSON.stringify(redactedUrl(target))}`);
      // A local SQS-API server takes any key; AWS needs the user's settings.
      const local = localQueueEndpoint(target);
      const client = local ? localSqs(local) : new SQSClient({ region: await requireRegion(values.region) });
      const destination = new SqsDestination({ client, queueUrl: target });
      return Object.assign(destination, { close: () => client.destroy() });
    }
    case 'eventbridge': {
      const region = await requireRegion(values.region);
      // The user's credentials as the SDK finds them (environment, profile, SSO), taken again before a page's
      // sends when they expire within 5 minutes: a role's or SSO's last an hour, a replay may last longer.
      const sdk = new DynamoDBClient({ region });
      let identity = await sdk.config.credentials();
      const destination = new EventBridgeDestination({
        region,
        bus: target ?? 'default',
        credentials: () => identity,
      });
      const send = destination.send.bind(destination);
      return Object.assign(destination, {
        send: async (...args: Parameters<typeof send>) => {
          if (identity.expiration && identity.expiration.getTime() - Date.now() < 300_000)
            identity = await sdk.config.credentials({ forceRefresh: true });
          return send(...args);
        },
        close: () => sdk.destroy(),
      });
    }
  }
}

/**
 * The destination as a checkpoint names it: an HTTP endpoint by its URL as given, since two tokens of one
 * endpoint may be two receivers (the checkpoint is the user's own file, written for them alone; outputs show
 * the URL with its secrets hidden).
 */
const checkpointDestination = (destination: Destination) => ({
  kind: destination.kind,
  target: destination instanceof HttpDestination ? destination.url : destination.target,
});

/** The checkpoint to resume from, when the file is there. @throws {UsageError} when it is another replay's. */
async function resumeFrom(path: string | undefined, range: ReplayRange, destination: Destination) {
  if (!path) return undefined;
  let checkpoint: ReplayCheckpoint | undefined;
  try {
    checkpoint = await readCheckpoint(path);
  } catch (error) {
    if (error instanceof CheckpointError) throw new UsageError(`--checkpoint: ${error.message}`);
    throw error;
  }
  if (checkpoint && !sameReplay(checkpoint, range, checkpointDestination(destination)))
    throw new UsageError(
      `--checkpoint ${path} is another replay's (its range, filters or destination differ): name another file`,
    );
  return checkpoint;
}

/** `--dry-run`: counts the range's events, sends none. */
function countOnly(values: ReplayValues, range: ReplayRange, io: EventsIo): Promise<number> {
  return withTable(where(values), async (target) => {
    const count = await countRange(new RangeReader({ ...target }), range);
    if (values.json) line(io.stdout, JSON.stringify({ count, since: range.since, until: range.until }));
    else line(io.stdout, String(count));
    line(io.stderr, 'events: dry run, nothing sent');
    return 0;
  });
}

/** Writes the replay's checkpoint to `path` after each page and at the end; nothing without a path. */
function checkpointWriter(path: string | undefined, range: ReplayRange, destination: Destination) {
  const about = checkpointDestination(destination);
  return (cursor: ReplayCheckpoint['cursor'], sent: number, complete: boolean) =>
    path
      ? writeCheckpoint(path, {
          version: 1,
          // What the range is, as the flags say it: the types it reads follow from them.
          range: { ...range, eventTypes: undefined },
          destination: about,
          cursor,
          sent,
          complete,
          updated_at: new Date().toISOString(),
        })
      : undefined;
}

async function replay(values: ReplayValues, io: EventsIo): Promise<number> {
  const range = rangeOf(values);
  if (values['dry-run']) return countOnly(values, range, io);
  await findRegion(values.region);
  const destination = await destinationOf(values);
  const path = values.checkpoint;
  try {
    const checkpoint = await resumeFrom(path, range, destination);
    const report = (sent: number, complete: boolean) =>
      print(
        io,
        [
          {
            to: destination.kind,
            target: destination.target,
            since: range.since,
            until: range.until,
            sent,
            complete,
            checkpoint: path ?? null,
          },
        ],
        values.json,
        ['to', 'target', 'sent', 'complete'],
      );
    if (checkpoint?.complete) {
      line(io.stderr, `events: replay: ${path} says this replay is complete; nothing sent`);
      report(0, true);
      return 0;
    }
    if (checkpoint?.cursor)
      line(io.stderr, `events: replay: resuming from ${path} (${checkpoint.sent} sent before)`);
    let total = checkpoint?.sent ?? 0;
    const save = checkpointWriter(path, range, destination);
    return await withTable(where(values), async (target) => {
      let sentBefore = 0;
      try {
        const outcome = await replayRange({
          reader: new RangeReader({ ...target }),
          destination,
          range,
          from: checkpoint?.cursor ?? undefined,
          afterPage: async (progress) => {
            const pageSent = progress.sent - sentBefore;
            sentBefore = progress.sent;
            total += pageSent;
            await save(progress.cursor, total, false);
            if (pageSent > 0)
              line(io.stderr, `events: replay: ${total} sent (${progress.provider}, ${progress.day})`);
          },
        });
        await save(outcome.cursor, total, true);
        line(io.stderr, `events: replay: done, ${outcome.sent} sent by this run`);
        report(outcome.sent, true);
        return 0;
      } catch (error) {
        const resume = path
          ? `run the same command again to resume from ${path}`
          : 'pass --checkpoint <file> to make a replay resumable';
        const why = error instanceof DestinationError ? error.message : String(error);
        line(io.stderr, `events: replay stopped after ${sentBefore} sent by this run: ${why}; ${resume}`);
        return 1;
      }
    });
  } finally {
    await destination.close?.();
  }
}

/** `events replay …`, its arguments after the command's name. @returns the exit code. */
export async function run(argv: string[], io: EventsIo = processIo()): Promise<number> {
  try {
    const { values, positionals } = parseOwn(argv);
    if (values.help) {
      line(io.stdout, commandUsage(spec));
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    return await replay(values, io);
  } catch (error) {
    return failure(io, error);
  }
}
