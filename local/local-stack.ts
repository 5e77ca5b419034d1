import { mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { createProcessHandler } from '../functions/process-webhook/process-webhook';
import { createReceiveHandler } from '../functions/receive-webhook/receive-webhook';
import { checkProviderThrottles, DEFAULT_CONFIG, type RouteThrottle } from '../infra/config';
import { DEFAULT_MAX_BODY_BYTES } from '../lib/config';
import { QueueUnavailableError } from '../lib/errors';
import type { QueueMessage } from '../lib/events/event-record';
import { CampaignCounters } from '../lib/ingest/campaign-counters';
import { EventWriter } from '../lib/ingest/event-writer';
import { createIngest } from '../lib/ingest/ingest';
import { createLogger, type Logger } from '../lib/log';
import { isBuiltInProvider, providerNames } from '../lib/providers';
import { appRouteKeys, type ProviderApps } from '../lib/providers/apps';
import type { AuthConfig } from '../lib/providers/provider';
import { DashboardReader } from '../lib/queries/dashboard';
import { EventQueue } from '../lib/queue/event-queue';
import { sdkSendMessage } from '../lib/queue/sdk-send-message';
import type { SignalThresholds } from '../lib/signals/thresholds';
import { type SigningSecretDocument, StaticSigningSecrets } from '../lib/signature/signing-secrets';
import { DEFAULT_LAYOUT, type TableLayout } from '../lib/table/records-table';
import { Activity, LocalPipelineHealth } from './activity';
import { type LambdaHttpHandler, startApiGatewayServer } from './api-gateway-server';
import { type DynamoDbServer, type LocalServer, queueContents, startDynamoDb, startSqs } from './aws-servers';
import { CounterRepairLoop } from './counter-repair';
import { ensureRecordsTable } from './create-records-table';
import { createDashboard } from './dashboard';
import { type DataDirLock, lockDataDir } from './data-dir-lock';
import { DeliveryJournal, type DeliveryJournalOptions } from './delivery-journal';
import { type DestinationsConfig, type LocalDestinations, openDestinations } from './destinations';
import { DurableFileRawStore } from './durable-raw-store';
import { FileRawStore } from './file-raw-store';
import { LAKE_DIR, LakeSink } from './lake-sink';
import { ensurePrivateDir, writePrivateFileAtomic } from './private-files';
import { type Reaction, Reactions, reactionListeners } from './reactions';
import { SqsPoller } from './sqs-poller';
import { LOCAL_TABLE_NAME, type LocalStackInfo, localClientConfig, STACK_FILE } from './stack-info';
import { webhookRoutes } from './webhook-routes';

export { LOCAL_TABLE_NAME, type LocalStackInfo, localClientConfig, STACK_FILE };

export const LOCAL_QUEUE_NAME = 'campaign-inbox-events';
export const LOCAL_DLQ_NAME = 'campaign-inbox-events-dlq';
/** Where the delivery journal lives in `DATA_DIR`. */
export const JOURNAL_DIR = 'journal';
/** An older version's queue snapshot, written on a graceful stop; adopted into the journal when found. */
const LEGACY_QUEUE_SNAPSHOT_FILE = 'queues.json';
/** A graceful stop takes at most this long. */
export const STOP_BUDGET_MS = 9_000;

export interface LocalStackOptions {
  /** HTTP port; 0 picks a free one. */
  port: number;
  /** Where data lives; `undefined` keeps everything in memory (tests). */
  dataDir?: string | undefined;
  secret: string;
  previousSecret?: string | undefined;
  /** URL tokens of the providers that authenticate by one (symphony, adreform, optimizely). */
  urlTokens?: Record<string, string>;
  /** Authentication per provider, overriding the providers' own. */
  auth?: Record<string, AuthConfig>;
  /** More credentials, as in the deployed signing secret (e.g. HTTP Basic ones). */
  credentials?: SigningSecretDocument;
  maxBodyBytes?: number;
  visibilityTimeoutSeconds?: number;
  maxReceiveCount?: number;
  pollerConcurrency?: number;
  waitTimeSeconds?: number;
  logger?: Logger;
  layout?: TableLayout;
  /** Age after which a counter claim counts as abandoned (see CampaignCounters). */
  staleAfterMs?: number;
  /** Time between counter repair passes (the deployed stack runs one a minute). */
  repairIntervalMs?: number;
  /** The data directory's lock, when the caller took it already (see {@link lockDataDir}); the stack releases it. */
  lock?: DataDirLock;
  /** Time between delivery journal compactions. */
  journalCompactionMs?: number;
  /**
   * The user's reaction (`ON_EVENT_MODULE`): run at least once for each newly stored event of `events` (all when
   * empty), never for a duplicate delivery; journaled in `DATA_DIR/reactions` (see {@link Reactions}).
   */
  onEvent?: Reaction;
  /**
   * Writes the rows of first inserts as the deployed lake's Firehose stream would, under `DATA_DIR/lake`
   * (`day=<day>/provider=<provider>/`, newline-delimited JSON), for the shipped Athena queries to be run on
   * locally (see `LakeSink`). Needs a `dataDir`.
   */
  lake?: boolean;
  /**
   * Publishes every first insert to an EventBridge bus, an SQS queue and/or an HTTP URL, as the deployed stack's
   * `destinations` does (`DESTINATIONS`, see `parseDestinations`), journaled in `DATA_DIR/destinations`.
   */
  destinations?: DestinationsConfig | undefined;
  /** The fraud and quality signals' thresholds (`SIGNAL_*`, see `readSignalThresholds`); unset: defaults. */
  signals?: SignalThresholds;
  /** Runs of a throwing reaction before it is given up, and the wait before the second (doubled each time). */
  reactionRetries?: { attempts?: number; backoffMs?: number };
  /**
   * Gets the few lines someone running the stack must see: the disk refusing the journal's or the table's
   * writes (deliveries are then answered 503), taking them again, entries set aside. Stderr by default.
   */
  alert?: (line: string) => void;
  /** Creates the journal's segment files (see {@link DeliveryJournalOptions}). */
  openJournalSegment?: DeliveryJournalOptions['openSegment'];
  /**
   * The deployed stage's throttles, enforced with 429 as API Gateway does; none by default. See
   * {@link LocalThrottles}.
   */
  throttles?: LocalThrottles;
  /**
   * Apps given routes of their own, as the deployed `providerApps` (`PROVIDER_APPS`): `POST /webhooks/<p>/<app>`,
   * throttled as `<p>/<app>` when throttles are kept. Any app whose keys `credentials` holds is served either way,
   * on its provider's `{token}` route.
   */
  providerApps?: ProviderApps;
}

/**
 * The throttles of the deployed stack (`throttleRateLimit`/`throttleBurstLimit` and `providerThrottles`),
 * kept by the local API Gateway as API Gateway keeps them: each provider's two POST routes with its own
 * throttle (the default one when not listed), every other route with the stage's.
 */
export interface LocalThrottles {
  /** The stage's default, for every route without its own; the deployed default when absent. */
  stage?: RouteThrottle;
  /** Per provider, as the `providerThrottles` setting; a provider not listed gets the deployed default. */
  providers?: Record<string, Partial<RouteThrottle>>;
}

/**
 * Reads {@link LocalThrottles} from the environment, named as the deployed settings are: `THROTTLE_RATE_LIMIT`
 * and `THROTTLE_BURST_LIMIT` (the stage's), `PROVIDER_THROTTLES` (JSON, as the `providerThrottles` context
 * value). `undefined`, no throttling, when none is set.
 * @throws naming the variable when a value is not a positive integer, or as the deployed settings are checked.
 */
export function readLocalThrottles(
  env: NodeJS.ProcessEnv = globalThis.process.env,
  apps: ProviderApps = {},
): LocalThrottles | undefined {
  const positive = (name: string, fallback: number) => {
    const text = env[name];
    if (text === undefined || text === '') return fallback;
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new Error(`${name} must be a positive integer, got ${JSON.stringify(text)}`);
    }
    return value;
  };
  if (!env.THROTTLE_RATE_LIMIT && !env.THROTTLE_BURST_LIMIT && !env.PROVIDER_THROTTLES) return undefined;
  const stage = {
    rateLimit: positive('THROTTLE_RATE_LIMIT', DEFAULT_CONFIG.throttleRateLimit),
    burstLimit: positive('THROTTLE_BURST_LIMIT', DEFAULT_CONFIG.throttleBurstLimit),
  };
  const providers = env.PROVIDER_THROTTLES
    ? checkProviderThrottles(env.PROVIDER_THROTTLES, [...providerNames(), ...appRouteKeys(apps)])
    : undefined;
  return { stage, ...(providers ? { providers } : {}) };
}

export interface LocalStack extends LocalStackInfo {
  port: number;
  dynamodb: DynamoDBClient;
  sqs: SQSClient;
  poller: SqsPoller;
  dynamoServer: DynamoDbServer;
  sqsServer: LocalServer;
  /** The delivery journal (with a `dataDir` only). */
  journal: DeliveryJournal | undefined;
  /** `true` when the local servers answer and the poller runs. */
  healthy(): Promise<boolean>;
  /** Runs a counter repair pass now, after the one under way: counters then include every batch stored. */
  foldNow(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Creates the events queue and its DLQ with a redrive policy, as the CDK stack does in AWS.
 * @returns the queue URLs (as the SQS server spells them) and the queue's ARN.
 */
export async function createEventQueues(
  sqs: SQSClient,
  options: { name: string; dlqName: string; visibilityTimeout: number; maxReceiveCount: number },
) {
  const { name, dlqName, visibilityTimeout, maxReceiveCount } = options;
  const dlq = await sqs.send(
    new CreateQueueCommand({ QueueName: dlqName, Attributes: { MessageRetentionPeriod: '1209600' } }),
  );
  const dlqUrl = dlq.QueueUrl ?? '';
  const dlqArn = (
    await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))
  ).Attributes?.QueueArn;
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: {
        VisibilityTimeout: String(visibilityTimeout),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount }),
      },
    }),
  );
  const queueUrl = queue.QueueUrl ?? '';
  const queueArn =
    (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] })))
      .Attributes?.QueueArn ?? '';
  return { queueUrl, queueArn, dlqUrl };
}

/** Takes every message out of a queue (the SQS server keeps messages in memory only). */
export async function drainQueue(sqs: SQSClient, queueUrl: string): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 60,
        WaitTimeSeconds: 0,
      }),
    );
    if (Messages.length === 0) return bodies;
    bodies.push(...Messages.map((message) => message.Body ?? ''));
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Messages.map((message, i) => ({
          Id: String(i),
          ReceiptHandle: message.ReceiptHandle ?? '',
        })),
      }),
    );
  }
}

export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(Attributes.ApproximateNumberOfMessages ?? 0) +
    Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}

/**
 * Reads an older version's `queues.json` so its messages join the journal. A torn snapshot (its writer was
 * killed) is set aside with a warning instead of failing every start.
 */
async function takeLegacySnapshot(dataDir: string, logger: Logger) {
  const path = join(dataDir, LEGACY_QUEUE_SNAPSHOT_FILE);
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const saved = JSON.parse(text) as Record<string, unknown>;
    const bodies = (name: string) => {
      const list = saved[name] ?? [];
      if (!Array.isArray(list) || !list.every((body) => typeof body === 'string'))
        throw new Error('not a list');
      return list as string[];
    };
    return { path, events: bodies(LOCAL_QUEUE_NAME), dlq: bodies(LOCAL_DLQ_NAME) };
  } catch {
    logger.warn('unreadable queue snapshot set aside', { file: `${LEGACY_QUEUE_SNAPSHOT_FILE}.unreadable` });
    await rename(path, `${path}.unreadable`);
    return undefined;
  }
}

/**
 * Starts the whole pipeline on 127.0.0.1: a DynamoDB-API server (data in `dataDir`), an SQS-API server, the
 * receive handler behind a local API Gateway, and a poller feeding the process handler. The handlers are the
 * ones deployed to Lambda, wired to the local servers.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const logger = options.logger ?? createLogger('local');
  const dataDir = options.dataDir;
  let lock = options.lock;
  if (dataDir) {
    await ensurePrivateDir(dataDir);
    lock ??= await lockDataDir(dataDir);
  }
  try {
    return await startUnlocked(options, logger, lock);
  } catch (error) {
    await lock?.release();
    throw error;
  }
}

async function startUnlocked(
  options: LocalStackOptions,
  logger: Logger,
  lock: DataDirLock | undefined,
): Promise<LocalStack> {
  const dataDir = options.dataDir;
  const alert = options.alert ?? ((line: string) => void globalThis.process.stderr.write(`${line}\n`));
  const tablePath = dataDir ? join(dataDir, 'dynamodb') : undefined;
  const backends = await startBackends(options, tablePath);
  const probing = watchTableDisk(backends.storage, tablePath, alert);
  const journal = dataDir ? await openDeliveryJournal(options, dataDir, backends, logger, alert) : undefined;
  const receive = await createReceive(options, deliveryQueue(backends, journal), logger);
  const layout = options.layout ?? DEFAULT_LAYOUT;
  const activity = new Activity();
  const consumer = await createConsumer(options, backends, layout, activity, logger);
  const dashboard = createDashboard(
    new DashboardReader(
      backends.dynamodb,
      LOCAL_TABLE_NAME,
      layout,
      pipelineHealthOf(backends, activity),
      options.signals,
    ),
    activity,
  );
  const healthy = () => isHealthy(backends, consumer.poller);
  const http = await startApiGatewayServer({
    port: options.port,
    logger,
    refusals: activity.refusals,
    ...(options.throttles
      ? { defaultThrottle: options.throttles.stage ?? { ...DEFAULT_STAGE_THROTTLE } }
      : {}),
    routes: webhookRoutes(
      receive,
      options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      options.throttles,
      options.providerApps,
    ),
    extra: async (request, response) =>
      (await dashboard(request, response)) || (await answerHealth(request, response, healthy)),
  });
  consumer.poller.start();
  consumer.repair.start();
  journal?.startCompaction(options.journalCompactionMs ?? 1_000);

  const info = stackInfoOf(http.port, options.urlTokens ?? {}, backends, layout);
  // Whole or absent for the tools reading it; private, since its URLs carry tokens.
  if (dataDir) await writePrivateFileAtomic(join(dataDir, STACK_FILE), `${JSON.stringify(info, null, 2)}\n`);
  const stop = stopOnce({ dataDir, http, backends, consumer, journal, probing, lock });
  return {
    ...info,
    port: http.port,
    dynamodb: backends.dynamodb,
    sqs: backends.sqs,
    poller: consumer.poller,
    dynamoServer: backends.dynamoServer,
    sqsServer: backends.sqsServer,
    journal,
    healthy,
    foldNow: () => consumer.repair.passNow(),
    stop,
  };
}

/** The deployed stage's throttle, which the local API Gateway keeps when throttles are asked for and give none. */
const DEFAULT_STAGE_THROTTLE = {
  rateLimit: DEFAULT_CONFIG.throttleRateLimit,
  burstLimit: DEFAULT_CONFIG.throttleBurstLimit,
};

/** The local AWS-API servers, their clients, and the records table and queues created on them. */
interface Backends {
  dynamoServer: DynamoDbServer;
  sqsServer: LocalServer;
  dynamodb: DynamoDBClient;
  sqs: SQSClient;
  /** The table's disk (with a data directory): its `fault` says why it refuses writes. */
  storage: DynamoDbServer['storage'];
  queueUrl: string;
  queueArn: string;
  dlqUrl: string;
}

/** Starts the DynamoDB-API server (its data at `tablePath`, in memory without) and the SQS-API server. */
async function startBackends(options: LocalStackOptions, tablePath: string | undefined): Promise<Backends> {
  const dynamoServer = await startDynamoDb(tablePath ? { path: tablePath } : {});
  const sqsServer = await startSqs();
  const dynamodb = new DynamoDBClient(localClientConfig(dynamoServer.endpoint));
  const sqs = new SQSClient(localClientConfig(sqsServer.endpoint));
  await ensureRecordsTable(dynamodb, LOCAL_TABLE_NAME);
  const queues = await createEventQueues(sqs, {
    name: LOCAL_QUEUE_NAME,
    dlqName: LOCAL_DLQ_NAME,
    visibilityTimeout: options.visibilityTimeoutSeconds ?? 5,
    maxReceiveCount: options.maxReceiveCount ?? 5,
  });
  return { dynamoServer, sqsServer, dynamodb, sqs, storage: dynamoServer.storage, ...queues };
}

/**
 * Tells `alert` when the table's disk starts and stops refusing writes, and probes it every second meanwhile.
 * @returns the probing timer, cleared at stop.
 */
function watchTableDisk(
  storage: Backends['storage'],
  tablePath: string | undefined,
  alert: (line: string) => void,
): NodeJS.Timeout {
  // A table whose disk refuses writes cannot store what it would be sent: deliveries are answered 503 (the
  // sender retries) and the consumer waits, rather than failing messages into the DLQ, until a probe write
  // succeeds again.
  let tableFault: string | undefined;
  storage?.onChange(() => {
    if (storage.fault && !tableFault) {
      alert(
        `the table cannot write in ${tablePath}: ${storage.fault}; deliveries are answered 503 until it can (LevelDB may need a restart of the stack once the disk is fixed)`,
      );
    } else if (!storage.fault && tableFault) {
      alert(`the table writes again in ${tablePath}; deliveries are accepted`);
    }
    tableFault = storage.fault;
  });
  const probing = setInterval(() => {
    if (storage?.fault) void storage.probe();
  }, 1_000);
  probing.unref();
  return probing;
}

/** Opens the delivery journal in `dataDir`, with an older version's queue snapshot adopted, and replays it. */
async function openDeliveryJournal(
  options: LocalStackOptions,
  dataDir: string,
  { sqs, sqsServer, queueUrl, dlqUrl, storage }: Backends,
  logger: Logger,
  alert: (line: string) => void,
): Promise<DeliveryJournal> {
  const legacy = await takeLegacySnapshot(dataDir, logger);
  const opened = await DeliveryJournal.open({
    dir: join(dataDir, JOURNAL_DIR),
    sqs,
    queueUrl,
    dlqUrl,
    queue: new EventQueue(sdkSendMessage(sqs), queueUrl),
    inspect: (url) => queueContents(sqsServer.endpoint, url),
    depth: (url) => queueDepth(sqs, url),
    makeTableDurable: () => storage?.makeDurable() ?? Promise.resolve(),
    logger,
    alert,
    ...(options.openJournalSegment ? { openSegment: options.openJournalSegment } : {}),
    ...(legacy ? { adopt: legacy } : {}),
  });
  if (legacy) await rm(legacy.path);
  const { events, deadLetters, skipped } = opened.replayed;
  if (events + deadLetters + skipped > 0)
    logger.info('delivery journal replayed', { events, deadLetters, skipped });
  if (skipped > 0) logger.warn('journal fragments a crash or a full disk left skipped', { skipped });
  return opened.journal;
}

/**
 * The receive handler's queue: the delivery journal when there is one, the events queue otherwise; refusing
 * every delivery while the table's disk refuses writes.
 */
function deliveryQueue({ sqs, queueUrl, storage }: Backends, journal: DeliveryJournal | undefined) {
  const delivered = journal ?? new EventQueue(sdkSendMessage(sqs), queueUrl);
  return {
    send: async (message: QueueMessage, deadline?: number) => {
      if (storage?.fault)
        throw new QueueUnavailableError(`the table cannot store deliveries: ${storage.fault}`);
      await delivered.send(message, deadline);
    },
  };
}

/** The deployed receive handler, unchanged; only its queue differs: locally it goes through the journal. */
async function createReceive(
  options: LocalStackOptions,
  queue: ReturnType<typeof deliveryQueue>,
  logger: Logger,
): Promise<LambdaHttpHandler> {
  const urlTokens = options.urlTokens ?? {};
  return createReceiveHandler({
    queue,
    secrets: new StaticSigningSecrets({
      sori: { current: options.secret, previous: options.previousSecret ?? null },
      ...Object.fromEntries(
        Object.entries(urlTokens).map(([provider, token]) => [provider, { url_token: token }]),
      ),
      ...options.credentials,
    }),
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    auth: options.auth ?? {},
    rawStore: options.dataDir
      ? new DurableFileRawStore(options.dataDir)
      : new FileRawStore(await mkdtemp(join(tmpdir(), 'campaign-inbox-raw-'))),
    logger,
  }) as unknown as LambdaHttpHandler;
}

/** The local consumer: the deployed process handler fed by a poller, and the counter repair it kicks. */
interface Consumer {
  poller: SqsPoller;
  repair: CounterRepairLoop;
  reactions: Reactions | undefined;
  destinations: LocalDestinations | undefined;
}

/**
 * The consumer, storing through the ingest port as the deployed one does. Its listeners hear of first inserts
 * only, as only a first insert reaches a DynamoDB stream in AWS: the dashboard's live view, and the user's
 * reaction, whose journal (see {@link Reactions}) makes it run at least once across throws and crashes.
 */
async function createConsumer(
  options: LocalStackOptions,
  { dynamodb, sqs, queueUrl, queueArn, storage }: Backends,
  layout: TableLayout,
  activity: Activity,
  logger: Logger,
): Promise<Consumer> {
  // Batches begun before this process were left by one that is gone: the repair counts them at once.
  const counters = new CampaignCounters(dynamodb, LOCAL_TABLE_NAME, layout, options.staleAfterMs, Date.now());
  const paused = () => storage?.fault !== undefined;
  if (options.signals) counters.signalThresholds = options.signals;
  const repair = new CounterRepairLoop(counters, logger, options.repairIntervalMs ?? 2_000, paused);
  // Settles what a crash left of the reactions before the consumer runs; nothing at all without a reaction.
  const reactions = options.onEvent
    ? await openReactions(options.onEvent, options, dynamodb, logger)
    : undefined;
  const reacting = reactions ? reactionListeners(reactions, layout) : undefined;
  const destinations = options.destinations
    ? await openDestinations(options.destinations, {
        dynamodb,
        sqs,
        tableName: LOCAL_TABLE_NAME,
        layout,
        logger,
        dataDir: options.dataDir,
      })
    : undefined;
  // The deployed lake's local twin, kept in DATA_DIR (a stack without one has nowhere to keep it).
  const lake = options.lake && options.dataDir ? new LakeSink(join(options.dataDir, LAKE_DIR)) : undefined;
  // Rebuilt from the table at each start, before the consumer runs: rows of batches a crash cut off before their
  // rows were written, and of records stored before the lake was on, are in it again; nothing twice.
  if (lake) {
    await rm(lake.dir, { recursive: true, force: true });
    await lake.backfill(dynamodb, LOCAL_TABLE_NAME);
  }
  const ingest = createIngest({
    writer: new EventWriter(dynamodb, LOCAL_TABLE_NAME, layout),
    counters,
    logger,
    ...(reacting || destinations
      ? {
          beforeWrite: async (message: QueueMessage) => {
            await reacting?.beforeWrite(message);
            await destinations?.beforeWrite(message);
          },
        }
      : {}),
    onStored: async (batch) => {
      activity.noteStored(batch);
      reacting?.onStored(batch);
      destinations?.onStored(batch);
      await lake?.onStored(batch);
    },
  });
  const processBatch = createProcessHandler({ ingest, logger });
  const poller = new SqsPoller({
    client: sqs,
    queueUrl,
    queueArn,
    handler: async (event) => {
      const response = await processBatch(event, {} as never);
      repair.kick();
      return response;
    },
    logger,
    waitTimeSeconds: options.waitTimeSeconds ?? 1,
    concurrency: options.pollerConcurrency ?? 2,
    paused,
  });
  return { poller, repair, reactions, destinations };
}

/** Opens the reactions' journal in the data directory, settling what a crash left pending. */
async function openReactions(
  reaction: Reaction,
  options: LocalStackOptions,
  client: DynamoDBClient,
  logger: Logger,
): Promise<Reactions> {
  const { reactions } = await Reactions.open({
    reaction,
    client,
    tableName: LOCAL_TABLE_NAME,
    logger,
    dataDir: options.dataDir,
    ...options.reactionRetries,
  });
  return reactions;
}

/** The delivery health the local dashboard shows, read from the local API Gateway and the local queues. */
function pipelineHealthOf({ sqs, sqsServer, queueUrl, dlqUrl }: Backends, activity: Activity) {
  return new LocalPipelineHealth({
    refusals: activity.refusals,
    sqs,
    queueUrl,
    dlqUrl,
    sqsEndpoint: sqsServer.endpoint,
  });
}

/** `true` when the local servers answer and the poller runs. */
async function isHealthy({ dynamodb, sqs, queueUrl }: Backends, poller: SqsPoller): Promise<boolean> {
  if (!poller.ready) return false;
  try {
    await dynamodb.send(new DescribeTableCommand({ TableName: LOCAL_TABLE_NAME }));
    await queueDepth(sqs, queueUrl);
    return true;
  } catch {
    return false;
  }
}

/** Answers `GET /healthz`. @returns `false` for any other path. */
async function answerHealth(
  request: IncomingMessage,
  response: ServerResponse,
  healthy: () => Promise<boolean>,
): Promise<boolean> {
  if (new URL(request.url ?? '/', 'http://127.0.0.1').pathname !== '/healthz') return false;
  const ok = await healthy();
  response.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ status: ok ? 'ok' : 'starting' }));
  return true;
}

/** What the stack file tells the tools: where the stack listens and keeps its data. */
function stackInfoOf(
  port: number,
  urlTokens: Record<string, string>,
  { dynamoServer, sqsServer, queueUrl, dlqUrl }: Backends,
  layout: TableLayout,
): LocalStackInfo {
  return {
    pid: globalThis.process.pid,
    webhookUrl: `http://127.0.0.1:${port}/webhooks/sori`,
    webhookUrls: Object.fromEntries([
      ['sori', `http://127.0.0.1:${port}/webhooks/sori`],
      ...Object.entries(urlTokens).map(([provider, token]) => [
        provider,
        `http://127.0.0.1:${port}/webhooks/${provider}/${token}`,
      ]),
      // The providers added by configuration, each on its own route.
      ...providerNames()
        .filter((provider) => !isBuiltInProvider(provider))
        .map((provider) => [provider, `http://127.0.0.1:${port}/webhooks/${provider}`]),
    ]),
    dynamodbEndpoint: dynamoServer.endpoint,
    sqsEndpoint: sqsServer.endpoint,
    tableName: LOCAL_TABLE_NAME,
    queueUrl,
    dlqUrl,
    layout,
  };
}

/** What a stop ends. */
interface Running {
  dataDir: string | undefined;
  http: { stop(graceMs?: number): Promise<void> };
  backends: Backends;
  consumer: Consumer;
  journal: DeliveryJournal | undefined;
  probing: NodeJS.Timeout;
  lock: DataDirLock | undefined;
}

/** The stack's `stop`: the first call stops it, the others wait for that one. */
function stopOnce(running: Running): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= stopStack(running);
    return stopping;
  };
}

/**
 * Stops taking deliveries, lets the poller store what was accepted for a moment (the journal keeps whatever it
 * leaves), then stops the consumer, the reactions (within {@link STOP_BUDGET_MS}) and the servers.
 */
async function stopStack({ dataDir, http, backends, consumer, journal, probing, lock }: Running) {
  const { dynamodb, sqs, queueUrl, sqsServer, dynamoServer } = backends;
  const started = Date.now();
  await http.stop(1_500);
  const settle = started + 3_000;
  while (Date.now() < settle && (await queueDepth(sqs, queueUrl).catch(() => 0)) > 0) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await consumer.poller.stop();
  await consumer.repair.stop();
  await consumer.reactions?.close(started + STOP_BUDGET_MS - 2_500);
  await consumer.destinations?.close(started + STOP_BUDGET_MS - 2_500);
  if (dataDir) {
    await journal?.close();
    await rm(join(dataDir, STACK_FILE), { force: true });
  }
  clearInterval(probing);
  dynamodb.destroy();
  sqs.destroy();
  await sqsServer.stop();
  await dynamoServer.stop();
  await lock?.release();
}
