import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import * as v from 'valibot';
import type { EventDestinationsOptions } from '../infra/constructs/event-destinations';
import { environmentCredentials } from '../lib/aws/signature-v4';
import type { Destination } from '../lib/destinations/destination';
import { EventBridgeDestination } from '../lib/destinations/eventbridge';
import { HttpDestination } from '../lib/destinations/http';
import { type CursorStore, type FeedCursor, SignalFeed } from '../lib/destinations/signal-feed';
import { SqsDestination } from '../lib/destinations/sqs';
import { ConfigError } from '../lib/errors';
import type { QueueMessage } from '../lib/events/event-record';
import type { StoredBatch } from '../lib/ingest/ingest';
import type { Logger } from '../lib/log';
import { SIGNAL_NAMES, type SignalName, type SignalNotice } from '../lib/signals/signal-notices';
import type { TableLayout } from '../lib/table/records-table';
import { ensurePrivateDir, writePrivateFileAtomic } from './private-files';
import {
  REACTIONS_DIR,
  REACTIONS_FAILURES_FILE,
  type ReactionListeners,
  Reactions,
  reactionListeners,
} from './reactions';
import { appendSynced } from './synced-append';

/** Where each destination keeps its journal of first inserts to publish, in `DATA_DIR`. */
export const DESTINATIONS_DIR = 'destinations';
/** The queue `sqs` publishes to when it names none, created on the local SQS server. */
export const DEFAULT_DESTINATION_QUEUE = 'campaign-inbox-destination';

const Name = v.pipe(v.string(), v.trim(), v.minLength(1, 'must not be blank'));
/**
 * `signals`: the destination also takes the fold's signal notices, `true` for every signal or a list of those it
 * takes (off when absent: a destination's targets see nothing they did not ask for).
 */
const Signals = v.optional(
  v.union(
    [
      v.boolean(),
      v.pipe(
        v.array(v.picklist(SIGNAL_NAMES, `must be one of ${SIGNAL_NAMES.join(', ')}`)),
        v.minLength(1, 'must name at least one signal (or be true)'),
      ),
    ],
    `must be true, false or a list of ${SIGNAL_NAMES.join(', ')}`,
  ),
);
const Filter = {
  providers: v.optional(v.array(Name)),
  types: v.optional(v.array(Name)),
  signals: Signals,
};
/** An http(s) URL as Node's fetch reads one. */
const Url = v.pipe(
  v.string(),
  v.check((text) => {
    try {
      return ['http:', 'https:'].includes(new URL(text).protocol);
    } catch {
      return false;
    }
  }, 'must be an http(s) URL'),
);

/**
 * `DESTINATIONS`: the construct's `destinations` option (`eventBridge`, `sqs`, each with `providers`, `types` and
 * `signals`), plus what only a local run needs: `sqs.queueUrl` (a queue of the local SQS server) and `http` (an
 * endpoint each first insert, and with `signals` each signal notice, is POSTed to). Unknown keys are refused,
 * so a misspelt one does not silently publish everything or nothing.
 */
export const DestinationsSchema = v.strictObject({
  eventBridge: v.optional(
    v.strictObject({
      /** A bus by name or ARN, reached where `AWS_ENDPOINT_URL_EVENTBRIDGE` points (default `default`). */
      busName: v.optional(Name),
      ...Filter,
    }),
  ),
  sqs: v.optional(
    v.strictObject({
      queueArn: v.optional(
        v.pipe(
          v.string(),
          v.regex(/^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[\w-]{1,80}(\.fifo)?$/, 'must be an SQS queue ARN'),
        ),
      ),
      // The local SQS server names its queues with hosts no URL parser takes (`sqs.<region>.127.0.0.1`): the
      // queue URL is an identifier here, the client has the server's endpoint.
      queueUrl: v.optional(v.pipe(v.string(), v.regex(/^https?:\/\/\S+$/, 'must be an http(s) queue URL'))),
      ...Filter,
    }),
  ),
  http: v.optional(
    v.strictObject({
      url: Url,
      headers: v.optional(v.record(v.string(), v.string())),
      ...Filter,
    }),
  ),
});
export type DestinationsConfig = v.InferOutput<typeof DestinationsSchema>;

/** The construct's option is a `DESTINATIONS` value: one schema, read in both places. */
export const asConstructOption = ({ eventBridge, sqs }: DestinationsConfig): EventDestinationsOptions => {
  const option: EventDestinationsOptions = {};
  if (eventBridge) option.eventBridge = eventBridge;
  if (sqs) {
    const { queueUrl: _local, ...deployed } = sqs;
    option.sqs = deployed;
  }
  return option;
};

/**
 * Reads `DESTINATIONS` (JSON).
 * @param providers the providers served, when known: a filter naming another one would never match, so it is
 *   refused as the typo it most likely is
 * @returns the destinations, or `undefined` when the variable is unset or blank.
 * @throws {ConfigError} naming the field at fault (`DESTINATIONS.sqs.types.0: must not be blank`).
 */
export function parseDestinations(
  text: string | undefined,
  options: { name?: string; providers?: readonly string[] } = {},
): DestinationsConfig | undefined {
  const name = options.name ?? 'DESTINATIONS';
  if (text === undefined || text.trim() === '') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError(`${name} is not JSON`);
  }
  const result = v.safeParse(DestinationsSchema, json);
  if (!result.success) {
    const issue = result.issues[0];
    const path = v.getDotPath(issue);
    throw new ConfigError(`${path ? `${name}.${path}` : name}: ${issue.message}`);
  }
  const known = options.providers;
  for (const [kind, destination] of Object.entries(result.output)) {
    destination?.providers?.forEach((provider, i) => {
      if (known && !known.includes(provider))
        throw new ConfigError(
          `${name}.${kind}.providers.${i}: ${JSON.stringify(provider)} is not a provider served (${known.join(', ')})`,
        );
    });
  }
  return result.output;
}

/** What publishing first inserts locally needs. */
export interface LocalDestinationsOptions {
  dynamodb: DynamoDBClient;
  tableName: string;
  layout: TableLayout;
  /** The local SQS server's client; needed with `sqs` only. */
  sqs?: SQSClient;
  logger: Logger;
  /** `DATA_DIR`; without it nothing is journaled (a crash loses what was not published yet). */
  dataDir?: string | undefined;
  /** Region of EventBridge's endpoint and signature (default `AWS_REGION`, else `us-east-1`). */
  region?: string;
  /**
   * Where EventBridge is reached (`AWS_ENDPOINT_URL_EVENTBRIDGE`, else `AWS_ENDPOINT_URL`) and as whom
   * (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`); default `process.env`.
   */
  env?: NodeJS.ProcessEnv;
  /** Publications of a record before it is given up and written to the destination's failures file. */
  attempts?: number;
  backoffMs?: number;
  /** The first wait between an HTTP destination's tries of one call (default its own, 500 ms, doubling). */
  httpBackoffMs?: number;
  /** Time between passes of the signal notices' feed (default 1 s), for destinations with `signals`. */
  signalIntervalMs?: number;
}

/** The destinations as the consumer's ingest hears of them. */
export interface LocalDestinations extends ReactionListeners {
  /** Each destination by kind, as it publishes. */
  readonly destinations: readonly Destination[];
  /** First inserts a crash left unpublished, being published since the open (signal notices not counted). */
  readonly replayed: number;
  /**
   * Publishes, to each destination with `signals`, the notices the folds raised since its last pass.
   * @returns the notices sent.
   */
  publishSignals(): Promise<number>;
  /** Waits for publications under way until `deadline` (epoch ms); what is left is published at the next start. */
  close(deadline: number): Promise<void>;
}

async function queueUrlOf(sqs: SQSClient, config: NonNullable<DestinationsConfig['sqs']>): Promise<string> {
  if (config.queueUrl) return config.queueUrl;
  if (config.queueArn) {
    const name = config.queueArn.split(':').at(-1) as string;
    return (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl as string;
  }
  return (await sqs.send(new CreateQueueCommand({ QueueName: DEFAULT_DESTINATION_QUEUE })))
    .QueueUrl as string;
}

/** Each configured destination, with the first inserts it is for. */
async function destinationsOf(config: DestinationsConfig, options: LocalDestinationsOptions) {
  const env = options.env ?? process.env;
  const list: {
    destination: Destination;
    providers?: string[];
    types?: string[];
    signals?: boolean | SignalName[];
  }[] = [];
  if (config.eventBridge) {
    const { busName, ...filter } = config.eventBridge;
    const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
    const destination = new EventBridgeDestination({
      region,
      env,
      bus: busName ?? 'default',
      credentials: () => environmentCredentials(env),
    });
    list.push({ destination, ...filter });
  }
  if (config.sqs) {
    const { queueArn: _arn, queueUrl: _url, ...filter } = config.sqs;
    const client = options.sqs;
    if (!client) throw new ConfigError('DESTINATIONS.sqs needs the local SQS server');
    const queueUrl = await queueUrlOf(client, config.sqs);
    list.push({ destination: new SqsDestination({ client, queueUrl }), ...filter });
  }
  if (config.http) {
    const { url, headers, ...filter } = config.http;
    const backoffMs = options.httpBackoffMs;
    const destination = new HttpDestination({
      url,
      ...(headers ? { headers } : {}),
      ...(backoffMs !== undefined ? { backoffMs } : {}),
    });
    list.push({ destination, ...filter });
  }
  return list;
}

/** Where a destination's signal feed keeps its cursor, in its journal's folder. */
export const SIGNAL_CURSOR_FILE = 'signals.json';

/** A feed's cursor in a file written whole and fsynced; without a folder, in memory only. */
function cursorStore(dir: string | undefined): CursorStore {
  let kept: FeedCursor | undefined;
  if (!dir) {
    return {
      load: async () => kept,
      save: async (cursor) => {
        kept = cursor;
      },
    };
  }
  const path = join(dir, SIGNAL_CURSOR_FILE);
  return {
    async load() {
      const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      });
      return text === undefined ? undefined : (JSON.parse(text) as FeedCursor);
    },
    async save(cursor) {
      await ensurePrivateDir(dir);
      await writePrivateFileAtomic(path, JSON.stringify(cursor));
    },
  };
}

/**
 * Runs a destination's signal feed every `intervalMs`, one pass after the other, and once more at close: the
 * last fold's notices go out with the stop when the deadline allows.
 */
class FeedLoop {
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(
    readonly feed: SignalFeed,
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {
    this.schedule();
  }

  private schedule() {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.passNow().finally(() => this.schedule());
    }, this.intervalMs);
  }

  passNow(): Promise<number> {
    const pass = this.chain.then(() =>
      this.feed.pass().catch((error: unknown) => {
        this.logger.warn('signal notices not published yet; the next pass retries', {
          destination: this.feed.name,
          error,
        });
        return 0;
      }),
    );
    this.chain = pass;
    return pass;
  }

  async close(deadline: number) {
    this.stopped = true;
    clearTimeout(this.timer);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.passNow(),
      new Promise((resolve) => {
        timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      }),
    ]);
    clearTimeout(timer);
  }
}

/**
 * Publishes every first insert of an event to the configured destinations, at least once across throws and
 * crashes and never for a duplicate delivery, as the deployed stack's pipes do from the table's stream. Each
 * destination is a reaction of its own (see {@link Reactions}), journaled in `DATA_DIR/destinations/<kind>`:
 * before the write of an event it is for, the intent is fsynced; a first insert is then published, a duplicate
 * dropped; on open, what a crash left pending is published when the delivery stored the item.
 *
 * A destination with `signals` also publishes the fold's signal notices, at least once, through a
 * {@link SignalFeed} that follows the folds (its cursor in `DATA_DIR/destinations/<kind>/signals.json`; what it
 * gives up on goes to the same `failures.jsonl` as its records).
 * @example
 * const destinations = await openDestinations(parseDestinations(process.env.DESTINATIONS), options);
 * const ingest = createIngest({ writer, counters, beforeWrite: destinations.beforeWrite, onStored: destinations.onStored });
 */
export async function openDestinations(
  config: DestinationsConfig,
  options: LocalDestinationsOptions,
): Promise<LocalDestinations> {
  const configured = await destinationsOf(config, options);
  const opened = await Promise.all(configured.map((entry) => openReaction(entry, options)));
  const feeds = await Promise.all(
    configured.filter(({ signals }) => signals).map((entry) => openFeed(entry, options)),
  );
  return {
    destinations: opened.map((entry) => entry.destination),
    replayed: opened.reduce((sum, entry) => sum + entry.replayed, 0),
    async beforeWrite(message: QueueMessage) {
      await Promise.all(opened.map((entry) => entry.listeners.beforeWrite(message)));
    },
    onStored(batch: StoredBatch) {
      for (const entry of opened) entry.listeners.onStored(batch);
    },
    async publishSignals() {
      const sent = await Promise.all(feeds.map((loop) => loop.passNow()));
      return sent.reduce((sum, n) => sum + n, 0);
    },
    async close(deadline: number) {
      await Promise.all([
        ...opened.map((entry) => entry.reactions.close(deadline)),
        ...feeds.map((loop) => loop.close(deadline)),
      ]);
      await Promise.all(opened.map((entry) => entry.destination.close?.()));
    },
  };
}

/** One configured destination, with the first inserts and signals it is for. */
type ConfiguredDestination = Awaited<ReturnType<typeof destinationsOf>>[number];

/** A destination's journal folder, `DATA_DIR/destinations/<kind>`; none without `DATA_DIR`. */
const dirOf = (destination: Destination, options: LocalDestinationsOptions) =>
  options.dataDir ? join(options.dataDir, DESTINATIONS_DIR, destination.kind) : undefined;

/** A destination's reaction to first inserts, opened on its journal (what a crash left pending is replayed). */
async function openReaction(
  { destination, providers, types }: ConfiguredDestination,
  options: LocalDestinationsOptions,
) {
  const { reactions, replayed } = await Reactions.open({
    reaction: {
      run: (record) => destination.send([record], 'insert'),
      ...(providers ? { providers } : {}),
      ...(types ? { events: types } : {}),
    },
    client: options.dynamodb,
    tableName: options.tableName,
    logger: options.logger,
    dataDir: dirOf(destination, options),
    ...(options.attempts !== undefined ? { attempts: options.attempts } : {}),
    ...(options.backoffMs !== undefined ? { backoffMs: options.backoffMs } : {}),
  });
  return { destination, reactions, replayed, listeners: reactionListeners(reactions, options.layout) };
}

/**
 * Writes the notices a feed gave up on beside the records its destination gave up on (one file to look in per
 * destination), each with why and when.
 */
function givenUpIn(dir: string) {
  return async (notices: readonly SignalNotice[], error: unknown) => {
    const at = new Date().toISOString();
    const why = error instanceof Error ? error.message : String(error);
    await appendSynced(
      join(dir, REACTIONS_DIR, REACTIONS_FAILURES_FILE),
      notices
        .map(({ notice_id, signal, provider }) => ({ notice_id, signal, provider, error: why, at }))
        .map((line) => `${JSON.stringify(line)}\n`)
        .join(''),
    );
  };
}

/** A destination's signal feed, past its first pass, running every `signalIntervalMs`. */
async function openFeed(
  { destination, providers, signals }: ConfiguredDestination,
  options: LocalDestinationsOptions,
): Promise<FeedLoop> {
  const dir = dirOf(destination, options);
  const feed = new SignalFeed({
    client: options.dynamodb,
    tableName: options.tableName,
    destination,
    signals: signals ?? false,
    providers,
    store: cursorStore(dir),
    logger: options.logger,
    ...(dir ? { onGivenUp: givenUpIn(dir) } : {}),
  });
  // The first pass before the consumer runs: it settles the cursor a crash left (or sets it at a first start).
  await feed.pass().catch((error: unknown) =>
    options.logger.warn('signal notices not published yet; the next pass retries', {
      destination: destination.kind,
      error,
    }),
  );
  return new FeedLoop(feed, options.logger, options.signalIntervalMs ?? 1_000);
}
