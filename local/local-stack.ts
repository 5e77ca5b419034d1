import { mkdtemp, readFile, rename, rm } from 'node:fs/promises';
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
import { toHttpAnswer } from '../functions/receive-webhook/render-http-errors';
import {
  checkProviderThrottles,
  DEFAULT_CONFIG,
  providerThrottle,
  type RouteThrottle,
} from '../infra/config';
import { FileRawStore } from '../lib/blobs/raw-store';
import { DEFAULT_MAX_BODY_BYTES } from '../lib/config';
import { PayloadTooLargeError, QueueUnavailableError } from '../lib/errors';
import type { QueueMessage } from '../lib/events/event-record';
import { CampaignCounters } from '../lib/ingest/campaign-counters';
import { EventWriter } from '../lib/ingest/event-writer';
import { createLogger, type Logger } from '../lib/log';
import { findProvider, isBuiltInProvider, providerNames } from '../lib/providers';
import type { AuthConfig } from '../lib/providers/provider';
import { DashboardReader } from '../lib/queries/dashboard';
import { EventQueue } from '../lib/queue/event-queue';
import { sdkSendMessage } from '../lib/queue/sdk-send-message';
import { type SigningSecretDocument, StaticSigningSecrets } from '../lib/signature/signing-secrets';
import { DEFAULT_LAYOUT, itemKey, type TableLayout } from '../lib/table/records-table';
import { Activity, LocalPipelineHealth } from './activity';
import { type LambdaHttpHandler, type Route, startApiGatewayServer } from './api-gateway-server';
import { type DynamoDbServer, type LocalServer, queueContents, startDynamoDb, startSqs } from './aws-servers';
import { CounterRepairLoop } from './counter-repair';
import { ensureRecordsTable } from './create-records-table';
import { createDashboard } from './dashboard';
import { type DataDirLock, lockDataDir } from './data-dir-lock';
import { DeliveryJournal, type DeliveryJournalOptions } from './delivery-journal';
import { DurableFileRawStore } from './durable-raw-store';
import { ensurePrivateDir, writePrivateFileAtomic } from './private-files';
import { type Reaction, Reactions } from './reactions';
import { SqsPoller } from './sqs-poller';
import { LOCAL_TABLE_NAME, type LocalStackInfo, localClientConfig, STACK_FILE } from './stack-info';

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
    ? checkProviderThrottles(env.PROVIDER_THROTTLES, providerNames())
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
 * The consumer's writer, noting each first insert for the dashboard's live view, and running the user's
 * reaction for it: only a first insert gets there, as only a first insert reaches a DynamoDB stream in AWS.
 * The reaction's journal (see {@link Reactions}) makes it run at least once across throws and crashes.
 */
class ActivityRecordingWriter extends EventWriter {
  constructor(
    client: DynamoDBClient,
    tableName: string,
    layout: TableLayout,
    private readonly activity: Activity,
    private readonly reactions?: Reactions,
  ) {
    super(client, tableName, layout);
  }

  override async store(message: QueueMessage, writer?: string) {
    const reactions = this.reactions;
    const outcome =
      reactions && message.kind === 'event' && reactions.reactsTo(message.record)
        ? await reactions.store(message.record, itemKey(message, this.layout), () =>
            super.store(message, writer),
          )
        : await super.store(message, writer);
    if (outcome === 'stored' && message.kind === 'event') this.activity.add(message.record);
    return outcome;
  }
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
  const dynamoServer = await startDynamoDb(tablePath ? { path: tablePath } : {});
  const sqsServer = await startSqs();
  const dynamodb = new DynamoDBClient(localClientConfig(dynamoServer.endpoint));
  const sqs = new SQSClient(localClientConfig(sqsServer.endpoint));

  await ensureRecordsTable(dynamodb, LOCAL_TABLE_NAME);
  const { queueUrl, queueArn, dlqUrl } = await createEventQueues(sqs, {
    name: LOCAL_QUEUE_NAME,
    dlqName: LOCAL_DLQ_NAME,
    visibilityTimeout: options.visibilityTimeoutSeconds ?? 5,
    maxReceiveCount: options.maxReceiveCount ?? 5,
  });
  // A table whose disk refuses writes cannot store what it would be sent: deliveries are answered 503 (the
  // sender retries) and the consumer waits, rather than failing messages into the DLQ, until a probe write
  // succeeds again.
  const storage = dynamoServer.storage;
  let tableFault: string | undefined;
  storage?.onChange(() => {
    if (storage.fault && !tableFault)
      alert(
        `the table cannot write in ${tablePath}: ${storage.fault}; deliveries are answered 503 until it can (LevelDB may need a restart of the stack once the disk is fixed)`,
      );
    else if (!storage.fault && tableFault)
      alert(`the table writes again in ${tablePath}; deliveries are accepted`);
    tableFault = storage.fault;
  });
  const probing = setInterval(() => {
    if (storage?.fault) void storage.probe();
  }, 1_000);
  probing.unref();

  let journal: DeliveryJournal | undefined;
  if (dataDir) {
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
    journal = opened.journal;
    const { events, deadLetters, skipped } = opened.replayed;
    if (events + deadLetters + skipped > 0)
      logger.info('delivery journal replayed', { events, deadLetters, skipped });
    if (skipped > 0) logger.warn('journal fragments a crash or a full disk left skipped', { skipped });
  }
  const delivered = journal ?? new EventQueue(sdkSendMessage(sqs), queueUrl);
  const queue = {
    send: async (message: QueueMessage, deadline?: number) => {
      if (storage?.fault)
        throw new QueueUnavailableError(`the table cannot store deliveries: ${storage.fault}`);
      await delivered.send(message, deadline);
    },
  };

  const urlTokens = options.urlTokens ?? {};
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const receive = createReceiveHandler({
    // The deployed handler, unchanged; only its queue differs: locally it goes through the journal.
    queue,
    secrets: new StaticSigningSecrets({
      sori: { current: options.secret, previous: options.previousSecret ?? null },
      ...Object.fromEntries(
        Object.entries(urlTokens).map(([provider, token]) => [provider, { url_token: token }]),
      ),
      ...options.credentials,
    }),
    maxBodyBytes,
    auth: options.auth ?? {},
    rawStore: dataDir
      ? new DurableFileRawStore(dataDir)
      : new FileRawStore(await mkdtemp(join(tmpdir(), 'campaign-inbox-raw-'))),
    logger,
  }) as unknown as LambdaHttpHandler;
  const layout = options.layout ?? DEFAULT_LAYOUT;
  const activity = new Activity();
  // Batches begun before this process were left by one that is gone: the repair counts them at once.
  const counters = new CampaignCounters(dynamodb, LOCAL_TABLE_NAME, layout, options.staleAfterMs, Date.now());
  const repair = new CounterRepairLoop(
    counters,
    logger,
    options.repairIntervalMs ?? 2_000,
    () => storage?.fault !== undefined,
  );
  // Settles what a crash left of the reactions before the consumer runs; nothing at all without a reaction.
  const reactions = options.onEvent
    ? (
        await Reactions.open({
          reaction: options.onEvent,
          client: dynamodb,
          tableName: LOCAL_TABLE_NAME,
          logger,
          dataDir,
          ...options.reactionRetries,
        })
      ).reactions
    : undefined;
  const process = createProcessHandler({
    writer: new ActivityRecordingWriter(dynamodb, LOCAL_TABLE_NAME, layout, activity, reactions),
    counters,
    logger,
  });
  const dashboard = createDashboard(
    new DashboardReader(
      dynamodb,
      LOCAL_TABLE_NAME,
      layout,
      new LocalPipelineHealth({
        refusals: activity.refusals,
        sqs,
        queueUrl,
        dlqUrl,
        sqsEndpoint: sqsServer.endpoint,
      }),
    ),
    activity,
  );
  const poller = new SqsPoller({
    client: sqs,
    queueUrl,
    queueArn,
    handler: async (event) => {
      const response = await process(event, {} as never);
      repair.kick();
      return response;
    },
    logger,
    waitTimeSeconds: options.waitTimeSeconds ?? 1,
    concurrency: options.pollerConcurrency ?? 2,
    paused: () => storage?.fault !== undefined,
  });

  const consumer = poller;
  const healthy = async () => {
    if (!consumer.ready) return false;
    try {
      await dynamodb.send(new DescribeTableCommand({ TableName: LOCAL_TABLE_NAME }));
      await queueDepth(sqs, queueUrl);
      return true;
    } catch {
      return false;
    }
  };

  // The receive handler's own limits, applied before a body is read: a provider's, capped by the deployment's.
  const bodyLimit = (params: Record<string, string>, method: string) => {
    const provider = findProvider(params.provider ?? '');
    // A method or provider the handler refuses: it looks at no body.
    if (method !== 'POST' || !provider) return undefined;
    return Math.min(provider.maxBodyBytes ?? maxBodyBytes, maxBodyBytes);
  };
  const tooLarge = (size: number, limit: number) => {
    const answer = toHttpAnswer(new PayloadTooLargeError(size, limit));
    return {
      statusCode: answer.status,
      headers: { 'content-type': 'application/json', ...answer.headers },
      body: JSON.stringify({ message: answer.message }),
    };
  };
  // Each provider's own routes, as the deployed API has them, then the catch-all routes for everything else
  // (a provider not known, any method but POST), which the handler answers 404 and 405.
  const throttles = options.throttles
    ? checkProviderThrottles(options.throttles.providers ?? {}, providerNames())
    : undefined;
  const providerRoutes = providerNames().flatMap((name): Route[] => {
    // The deployed handler as it is: it reads the provider from the route key, as API Gateway gives it.
    const shared = {
      handler: receive,
      provider: name,
      bodyLimit: (_params: Record<string, string>, method: string) => bodyLimit({ provider: name }, method),
      tooLarge,
      ...(throttles ? { throttle: providerThrottle(throttles, name) } : {}),
    };
    const path = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return [
      {
        routeKey: `POST /webhooks/${name}`,
        pattern: new RegExp(`^/webhooks/${path}/?$`),
        params: [],
        ...shared,
      },
      {
        routeKey: `POST /webhooks/${name}/{token}`,
        pattern: new RegExp(`^/webhooks/${path}/([^/]+)/?$`),
        params: ['token'],
        ...shared,
      },
    ];
  });
  const http = await startApiGatewayServer({
    port: options.port,
    logger,
    refusals: activity.refusals,
    ...(options.throttles
      ? {
          defaultThrottle: options.throttles.stage ?? {
            rateLimit: DEFAULT_CONFIG.throttleRateLimit,
            burstLimit: DEFAULT_CONFIG.throttleBurstLimit,
          },
        }
      : {}),
    routes: [
      ...providerRoutes,
      {
        routeKey: 'ANY /webhooks/{provider}',
        pattern: /^\/webhooks\/([^/]+)\/?$/,
        params: ['provider'],
        handler: receive,
        bodyLimit,
        tooLarge,
      },
      {
        routeKey: 'ANY /webhooks/{provider}/{token}',
        pattern: /^\/webhooks\/([^/]+)\/([^/]+)\/?$/,
        params: ['provider', 'token'],
        handler: receive,
        bodyLimit,
        tooLarge,
      },
    ],
    extra: async (request, response) => {
      if (await dashboard(request, response)) return true;
      if (new URL(request.url ?? '/', 'http://127.0.0.1').pathname !== '/healthz') return false;
      const ok = await healthy();
      response.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ status: ok ? 'ok' : 'starting' }));
      return true;
    },
  });
  poller.start();
  repair.start();
  journal?.startCompaction(options.journalCompactionMs ?? 1_000);

  const info: LocalStackInfo = {
    pid: globalThis.process.pid,
    webhookUrl: `http://127.0.0.1:${http.port}/webhooks/sori`,
    webhookUrls: Object.fromEntries([
      ['sori', `http://127.0.0.1:${http.port}/webhooks/sori`],
      ...Object.entries(urlTokens).map(([provider, token]) => [
        provider,
        `http://127.0.0.1:${http.port}/webhooks/${provider}/${token}`,
      ]),
      // The providers added by configuration, each on its own route.
      ...providerNames()
        .filter((provider) => !isBuiltInProvider(provider))
        .map((provider) => [provider, `http://127.0.0.1:${http.port}/webhooks/${provider}`]),
    ]),
    dynamodbEndpoint: dynamoServer.endpoint,
    sqsEndpoint: sqsServer.endpoint,
    tableName: LOCAL_TABLE_NAME,
    queueUrl,
    dlqUrl,
    layout,
  };
  // Whole or absent for the tools reading it; private, since its URLs carry tokens.
  if (dataDir) await writePrivateFileAtomic(join(dataDir, STACK_FILE), `${JSON.stringify(info, null, 2)}\n`);

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      const started = Date.now();
      await http.stop(1_500);
      // Give the poller a moment to store what was accepted; whatever it leaves, the journal keeps.
      const settle = started + 3_000;
      while (Date.now() < settle && (await queueDepth(sqs, queueUrl).catch(() => 0)) > 0) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await consumer.stop();
      await repair.stop();
      await reactions?.close(started + STOP_BUDGET_MS - 2_500);
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
    })();
    return stopping;
  };

  return {
    ...info,
    port: http.port,
    dynamodb,
    sqs,
    poller: consumer,
    dynamoServer,
    sqsServer,
    journal,
    healthy,
    foldNow: () => repair.passNow(),
    stop,
  };
}
