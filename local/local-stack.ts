import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { createProcessHandler } from '../functions/process-webhook/process-webhook';
import { createReceiveHandler } from '../functions/receive-webhook/receive-webhook';
import { FileRawStore } from '../lib/blobs/raw-store';
import { DEFAULT_MAX_BODY_BYTES } from '../lib/config';
import { createLogger, type Logger } from '../lib/log';
import type { AuthConfig } from '../lib/providers/provider';
import { EventQueue } from '../lib/queue/event-queue';
import type { QueueMessage } from '../lib/records/event-record';
import { ensureRecordsTable, RecordsRepository } from '../lib/records/records-repository';
import { DEFAULT_LAYOUT, type TableLayout } from '../lib/records/records-table';
import { type SigningSecretDocument, StaticSigningSecrets } from '../lib/signature/signing-secrets';
import { CampaignCounters } from '../lib/stats/campaign-counters';
import { Activity } from './activity';
import { type LambdaHttpHandler, startApiGatewayServer } from './api-gateway-server';
import { type LocalServer, startDynamoDb, startSqs } from './aws-servers';
import { CounterRepairLoop } from './counter-repair';
import { createDashboard } from './dashboard';
import { SqsPoller } from './sqs-poller';

export const LOCAL_TABLE_NAME = 'campaign-inbox-records';
export const LOCAL_QUEUE_NAME = 'campaign-inbox-events';
export const LOCAL_DLQ_NAME = 'campaign-inbox-events-dlq';
/** Written to `DATA_DIR` while the stack runs, so `npm run events` and `npm run send` find it. */
export const STACK_FILE = 'local-stack.json';
const QUEUE_SNAPSHOT_FILE = 'queues.json';

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
}

/** Where a running local stack can be reached; the content of `DATA_DIR/local-stack.json`. */
export interface LocalStackInfo {
  pid: number;
  webhookUrl: string;
  /** Every provider's URL, ready to paste (URL tokens included). */
  webhookUrls: Record<string, string>;
  dynamodbEndpoint: string;
  sqsEndpoint: string;
  tableName: string;
  queueUrl: string;
  dlqUrl: string;
  layout: TableLayout;
}

export interface LocalStack extends LocalStackInfo {
  port: number;
  dynamodb: DynamoDBClient;
  sqs: SQSClient;
  poller: SqsPoller;
  dynamoServer: LocalServer;
  sqsServer: LocalServer;
  /** `true` when the local servers answer and the poller runs. */
  healthy(): Promise<boolean>;
  stop(): Promise<void>;
}

/** The records repository, noting each first insert for the dashboard's live view. */
class ActivityRecordingRepository extends RecordsRepository {
  constructor(
    client: DynamoDBClient,
    tableName: string,
    layout: TableLayout,
    private readonly activity: Activity,
  ) {
    super(client, tableName, layout);
  }

  override async store(message: QueueMessage) {
    const outcome = await super.store(message);
    if (outcome === 'stored' && message.kind === 'event') this.activity.add(message.record);
    return outcome;
  }
}

/** SDK clients for the local servers: fixed dummy credentials, so real ones are never sent anywhere. */
export function localClientConfig(endpoint: string) {
  return { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
}

interface QueueSnapshot {
  [queueName: string]: string[];
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

async function sendAll(sqs: SQSClient, queueUrl: string, bodies: string[]) {
  for (let start = 0; start < bodies.length; start += 10) {
    const entries = bodies.slice(start, start + 10).map((MessageBody, i) => ({ Id: String(i), MessageBody }));
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
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
 * Starts the whole pipeline on 127.0.0.1: a DynamoDB-API server (data in `dataDir`), an SQS-API server, the
 * receive handler behind a local API Gateway, and a poller feeding the process handler. The handlers are the
 * ones deployed to Lambda, wired to the local servers.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const logger = options.logger ?? createLogger('local');
  const dataDir = options.dataDir;
  if (dataDir) await mkdir(dataDir, { recursive: true });

  const dynamoServer = await startDynamoDb(dataDir ? { path: join(dataDir, 'dynamodb') } : {});
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
  if (dataDir) {
    const snapshot = await readFile(join(dataDir, QUEUE_SNAPSHOT_FILE), 'utf8').catch(() => undefined);
    if (snapshot) {
      const saved = JSON.parse(snapshot) as QueueSnapshot;
      await sendAll(sqs, queueUrl, saved[LOCAL_QUEUE_NAME] ?? []);
      await sendAll(sqs, dlqUrl, saved[LOCAL_DLQ_NAME] ?? []);
      await rm(join(dataDir, QUEUE_SNAPSHOT_FILE));
    }
  }

  const urlTokens = options.urlTokens ?? {};
  const receive = createReceiveHandler({
    queue: new EventQueue(sqs, queueUrl),
    secrets: new StaticSigningSecrets({
      sori: { current: options.secret, previous: options.previousSecret ?? null },
      ...Object.fromEntries(
        Object.entries(urlTokens).map(([provider, token]) => [provider, { url_token: token }]),
      ),
      ...options.credentials,
    }),
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    auth: options.auth ?? {},
    rawStore: new FileRawStore(dataDir ?? (await mkdtemp(join(tmpdir(), 'campaign-inbox-raw-')))),
    logger,
  }) as unknown as LambdaHttpHandler;
  const layout = options.layout ?? DEFAULT_LAYOUT;
  const activity = new Activity();
  // Claims older than this process were left by one that is gone: the repair settles them at once.
  const counters = new CampaignCounters(dynamodb, LOCAL_TABLE_NAME, layout, options.staleAfterMs, Date.now());
  const repair = new CounterRepairLoop(counters, logger, options.repairIntervalMs ?? 2_000);
  const process = createProcessHandler({
    records: new ActivityRecordingRepository(dynamodb, LOCAL_TABLE_NAME, layout, activity),
    counters,
    logger,
  });
  const dashboard = createDashboard(counters, activity);
  const poller = new SqsPoller({
    client: sqs,
    queueUrl,
    queueArn,
    handler: (event) => process(event, {} as never),
    logger,
    waitTimeSeconds: options.waitTimeSeconds ?? 1,
    concurrency: options.pollerConcurrency ?? 2,
  });

  const healthy = async () => {
    if (!poller.ready) return false;
    try {
      await dynamodb.send(new DescribeTableCommand({ TableName: LOCAL_TABLE_NAME }));
      await queueDepth(sqs, queueUrl);
      return true;
    } catch {
      return false;
    }
  };

  const http = await startApiGatewayServer({
    port: options.port,
    routes: [
      {
        routeKey: 'ANY /webhooks/{provider}',
        pattern: /^\/webhooks\/([^/]+)\/?$/,
        params: ['provider'],
        handler: receive,
      },
      {
        routeKey: 'ANY /webhooks/{provider}/{token}',
        pattern: /^\/webhooks\/([^/]+)\/([^/]+)\/?$/,
        params: ['provider', 'token'],
        handler: receive,
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

  const info: LocalStackInfo = {
    pid: globalThis.process.pid,
    webhookUrl: `http://127.0.0.1:${http.port}/webhooks/sori`,
    webhookUrls: Object.fromEntries([
      ['sori', `http://127.0.0.1:${http.port}/webhooks/sori`],
      ...Object.entries(urlTokens).map(([provider, token]) => [
        provider,
        `http://127.0.0.1:${http.port}/webhooks/${provider}/${token}`,
      ]),
    ]),
    dynamodbEndpoint: dynamoServer.endpoint,
    sqsEndpoint: sqsServer.endpoint,
    tableName: LOCAL_TABLE_NAME,
    queueUrl,
    dlqUrl,
    layout,
  };
  if (dataDir) await writeFile(join(dataDir, STACK_FILE), `${JSON.stringify(info, null, 2)}\n`);

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await http.stop();
      // Let the poller store what was accepted before the servers go away.
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && (await queueDepth(sqs, queueUrl).catch(() => 0)) > 0) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await poller.stop();
      await repair.stop();
      if (dataDir) {
        // The SQS server keeps messages in memory: save what is left (the DLQ above all) for the next start.
        const snapshot: QueueSnapshot = {
          [LOCAL_QUEUE_NAME]: await drainQueue(sqs, queueUrl),
          [LOCAL_DLQ_NAME]: await drainQueue(sqs, dlqUrl),
        };
        if (Object.values(snapshot).some((bodies) => bodies.length > 0)) {
          await writeFile(join(dataDir, QUEUE_SNAPSHOT_FILE), JSON.stringify(snapshot));
        }
        await rm(join(dataDir, STACK_FILE), { force: true });
      }
      dynamodb.destroy();
      sqs.destroy();
      await sqsServer.stop();
      await dynamoServer.stop();
    })();
    return stopping;
  };

  return { ...info, port: http.port, dynamodb, sqs, poller, dynamoServer, sqsServer, healthy, stop };
}
