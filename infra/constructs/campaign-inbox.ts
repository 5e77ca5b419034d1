import { CfnOutput, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { parseCustomProviders } from '../../lib/providers/declarative';
import { RECEIVE_TIMEOUT_MS } from '../../lib/receive/invocation-deadline';
import { RECORDS_TABLE } from '../../lib/table/records-table';
import {
  checkProviderThrottles,
  checkWafRateLimit,
  DEFAULT_CONFIG,
  type InboxConfig,
  providerThrottle,
  servedProviders,
} from '../config';
import { acknowledgeFindings } from './acknowledge-findings';
import { CampaignDashboard } from './campaign-dashboard';
import { EventQueue } from './event-queue';
import { Monitoring } from './monitoring';
import { NodeFunction, PACKAGED_FUNCTIONS } from './node-function';
import { RawBodies } from './raw-bodies';
import { ReceiverApi } from './receiver-api';
import { RecordsTable } from './records-table';
import { SigningSecret } from './signing-secret';
import { WebhookFirewall } from './webhook-firewall';

export type CampaignInboxProps = Partial<Omit<InboxConfig, 'stackName'>>;

/** The consumer's timeout; the queue's visibility timeout is six times it. */
const PROCESS_TIMEOUT = Duration.seconds(30);
/** What storing a batch and recounting a campaign-day call on the records table, and nothing more. */
const COUNTER_WRITER_ACTIONS = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
] as const;
/** Left out of the receive bundle (see lib/blobs/raw-store.ts): the Lambda runtime provides it. */
export const RECEIVE_EXTERNAL_MODULES = PACKAGED_FUNCTIONS['receive-webhook'] ?? [];
/** Well under SORI's 5 s: a slow queue gets a 503 (retried) rather than a sender-side timeout. */
const RECEIVE_TIMEOUT = Duration.millis(RECEIVE_TIMEOUT_MS);

/**
 * The whole webhook receiver: HTTP API → receive function → SQS (+ DLQ) → process function → DynamoDB, with
 * the signing secret, alarms, an operations dashboard and the campaign dashboard behind sign-in. Add it to any
 * CDK stack:
 *
 * ```ts
 * const inbox = new CampaignInbox(this, 'Inbox', { alarmEmail: 'ops@example.com' });
 * new CfnOutput(this, 'WebhookUrl', { value: inbox.webhookUrl('sori') });
 * ```
 */
export class CampaignInbox extends Construct {
  readonly api: ReceiverApi;
  readonly queue: EventQueue;
  readonly records: RecordsTable;
  readonly rawBodies: RawBodies;
  readonly signingSecret: SigningSecret;
  readonly receiveFunction: NodeFunction;
  readonly processFunction: NodeFunction;
  readonly repairFunction: NodeFunction;
  readonly monitoring: Monitoring;
  /** The campaign dashboard on the same API, behind Cognito sign-in. */
  readonly dashboard: CampaignDashboard;
  /** AWS WAF and the CloudFront distribution in front of the API, with `wafRateLimit` only. */
  readonly firewall: WebhookFirewall | undefined;
  /** The layout settings the tools must read the table with. */
  private readonly settings: { shards: number; recordRetentionDays: number };

  constructor(scope: Construct, id: string, props: CampaignInboxProps = {}) {
    super(scope, id);
    const config = { ...DEFAULT_CONFIG, ...props };
    this.settings = { shards: config.shards, recordRetentionDays: config.recordRetentionDays };

    this.signingSecret = new SigningSecret(this, 'SigningSecret');
    this.records = new RecordsTable(this, 'Records');
    this.rawBodies = new RawBodies(this, 'RawBodies', { retentionDays: config.recordRetentionDays });
    this.queue = new EventQueue(this, 'Events', {
      consumerTimeout: PROCESS_TIMEOUT,
      maxReceiveCount: config.dlqMaxReceiveCount,
    });

    // Checked here too: a user's stack passes props without going through the context's checks.
    const customProviders = parseCustomProviders(config.customProviders, 'customProviders');
    const served = servedProviders({ providers: config.providers, customProviders });
    const throttles = checkProviderThrottles(config.providerThrottles, served);
    // Every function that reads the provider list learns the configured providers at cold start; with a list of
    // providers served, it names them too.
    const providerEnvironment: Record<string, string> = {
      ...(customProviders.length > 0 ? { CUSTOM_PROVIDERS: JSON.stringify(customProviders) } : {}),
      ...(config.providers.length > 0 ? { PROVIDERS: served.join(',') } : {}),
    };

    this.receiveFunction = new NodeFunction(this, 'Receive', {
      name: 'receive-webhook',
      timeout: RECEIVE_TIMEOUT,
      // Only bodies over 96 KiB need S3; loading its client from the runtime keeps it out of every cold start.
      external: RECEIVE_EXTERNAL_MODULES,
      logRetentionDays: config.logRetentionDays,
      environment: {
        QUEUE_URL: this.queue.queue.queueUrl,
        // The ARN, never the secret: the function reads it from Secrets Manager and caches it briefly.
        SIGNING_SECRET_ARN: this.signingSecret.secret.secretArn,
        MAX_BODY_BYTES: String(config.maxBodyBytes),
        ALLOW_UNSIGNED: String(config.allowUnsigned),
        RAW_BUCKET: this.rawBodies.bucket.bucketName,
        ...providerEnvironment,
        ...(Object.keys(config.auth).length > 0 ? { AUTH_CONFIG: JSON.stringify(config.auth) } : {}),
        POWERTOOLS_LOG_LEVEL: 'INFO',
      },
    });
    this.receiveFunction.role.addToPolicy(
      new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.queue.queue.queueArn] }),
    );
    this.receiveFunction.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [this.rawBodies.bucket.arnForObjects('raw/*')],
      }),
    );
    this.receiveFunction.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [this.signingSecret.secret.secretArn],
      }),
    );

    this.processFunction = new NodeFunction(this, 'Process', {
      name: 'process-webhook',
      timeout: PROCESS_TIMEOUT,
      // Its time is CPU (hashing, compression, the SDK's own work per call) more than waiting: twice the memory
      // gives twice the CPU and about halves a batch's time, for about the same price per batch, and keeps up
      // with 1,000 deliveries a second on the default 5 pollers (see docs/benchmarks.md).
      memorySize: 512,
      logRetentionDays: config.logRetentionDays,
      environment: {
        TABLE_NAME: this.records.table.tableName,
        SHARDS: String(config.shards),
        RECORD_RETENTION_DAYS: String(config.recordRetentionDays),
        POWERTOOLS_LOG_LEVEL: 'INFO',
        DLQ_URL: this.queue.deadLetterQueue.queueUrl,
      },
    });
    // A message it can never read goes to the DLQ at once, with the reason.
    this.processFunction.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['sqs:SendMessage'],
        resources: [this.queue.deadLetterQueue.queueArn],
      }),
    );
    // Conditional puts (records, device markers, its journal entry), the journal's close and the listing of a
    // campaign-day, and the reads after a lost answer: on the table only, no index ARNs.
    this.processFunction.role.addToPolicy(
      new iam.PolicyStatement({
        actions: [...COUNTER_WRITER_ACTIONS],
        resources: [this.records.table.tableArn],
      }),
    );
    // The counter repair: once a minute, folds the batches' journal into the counter items (their one writer),
    // counting a batch a killed consumer left open from its own writes.
    this.repairFunction = new NodeFunction(this, 'Repair', {
      name: 'repair-counters',
      timeout: Duration.minutes(1),
      logRetentionDays: config.logRetentionDays,
      environment: {
        TABLE_NAME: this.records.table.tableName,
        SHARDS: String(config.shards),
        RECORD_RETENTION_DAYS: String(config.recordRetentionDays),
        POWERTOOLS_LOG_LEVEL: 'INFO',
      },
    });
    // Reads the journal and the fold state, writes counter items whole, flags missing device markers; reads the
    // earlier protocol's list of claimed counters (one index) to settle what it left, and a day's campaigns (the
    // day index) when it first writes the day's provider-day item.
    this.repairFunction.role.addToPolicy(
      new iam.PolicyStatement({
        actions: [...COUNTER_WRITER_ACTIONS],
        resources: [this.records.table.tableArn],
      }),
    );
    this.repairFunction.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [
          `${this.records.table.tableArn}/index/${RECORDS_TABLE.indexes.byDevice.name}`,
          `${this.records.table.tableArn}/index/${RECORDS_TABLE.indexes.byTypeAndDay.name}`,
        ],
      }),
    );
    new events.Rule(this, 'RepairSchedule', {
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(this.repairFunction.function, { retryAttempts: 0 })],
    });
    this.processFunction.function.addEventSource(
      new SqsEventSource(this.queue.queue, {
        batchSize: config.batchSize,
        maxBatchingWindow: Duration.seconds(config.batchWindowSeconds),
        reportBatchItemFailures: true,
        maxConcurrency: config.maxConcurrency,
      }),
    );

    this.api = new ReceiverApi(this, 'Api', {
      handler: this.receiveFunction.function,
      throttleRateLimit: config.throttleRateLimit,
      throttleBurstLimit: config.throttleBurstLimit,
      logRetentionDays: config.logRetentionDays,
      providers: served.map((name) => ({ name, ...providerThrottle(throttles, name) })),
    });
    this.firewall =
      config.wafRateLimit === undefined
        ? undefined
        : new WebhookFirewall(this, 'Firewall', {
            api: this.api.api,
            rateLimit: checkWafRateLimit(config.wafRateLimit),
          });
    this.dashboard = new CampaignDashboard(this, 'Dashboard', {
      api: this.api,
      records: this.records,
      users: config.dashboardUsers,
      shards: config.shards,
      recordRetentionDays: config.recordRetentionDays,
      logRetentionDays: config.logRetentionDays,
      queue: this.queue.queue,
      deadLetterQueue: this.queue.deadLetterQueue,
      providers: config.providers.length > 0 ? served : [],
    });
    if (providerEnvironment.CUSTOM_PROVIDERS) {
      this.dashboard.function.function.addEnvironment(
        'CUSTOM_PROVIDERS',
        providerEnvironment.CUSTOM_PROVIDERS,
      );
    }

    this.monitoring = new Monitoring(this, 'Monitoring', {
      api: this.api.api,
      throttledRequests: this.api.throttledRequests,
      receiveFunction: this.receiveFunction.function,
      processFunction: this.processFunction.function,
      repairFunction: this.repairFunction.function,
      queue: this.queue.queue,
      deadLetterQueue: this.queue.deadLetterQueue,
      quietHours: config.quietHours,
      alarmEmail: config.alarmEmail,
    });
    acknowledgeFindings(this);
  }

  /**
   * Adds the stack outputs the command-line tools read with `--stack <name>` (`events`, `set-secret`,
   * `dashboard`, `dashboard-users`): `WebhookUrl`, `EventsTableName`, `SigningSecretArn`, `QueueUrl`,
   * `DeadLetterQueueUrl`, `Shards`, `RecordRetentionDays`, `CampaignDashboardUrl`, `DashboardUserPoolId`,
   * `DashboardUserPoolClientId`; with `wafRateLimit`, `ProtectedWebhookUrl` too. Call it once per stack.
   */
  addOutputs(): void {
    const stack = Stack.of(this);
    const output = (id: string, value: string, description?: string) =>
      new CfnOutput(stack, id, { value, ...(description ? { description } : {}) });
    output(
      'WebhookUrl',
      this.webhookUrl('sori'),
      'Paste into SORI Console: Settings → Webhooks (or a campaign’s Advanced settings)',
    );
    output('EventsTableName', this.records.table.tableName);
    output('SigningSecretArn', this.signingSecret.secret.secretArn);
    output('Shards', String(this.settings.shards), 'Read by npm run events');
    output('RecordRetentionDays', String(this.settings.recordRetentionDays));
    output('QueueUrl', this.queue.queue.queueUrl);
    output('DeadLetterQueueUrl', this.queue.deadLetterQueue.queueUrl);
    output(
      'CampaignDashboardUrl',
      this.dashboard.url,
      'The campaign dashboard (impressions, clicks, delivery health), behind sign-in; not the CloudWatch operations dashboard',
    );
    output(
      'DashboardUserPoolId',
      this.dashboard.userPool.userPoolId,
      'The Cognito user pool of the campaign dashboard’s users (npm run dashboard-users)',
    );
    output(
      'DashboardUserPoolClientId',
      this.dashboard.client.userPoolClientId,
      'The Cognito app client the campaign dashboard’s page signs in with',
    );
    if (this.firewall) {
      output(
        'ProtectedWebhookUrl',
        this.protectedWebhookUrl('sori') ?? '',
        'With AWS WAF in front: paste this into SORI Console instead of WebhookUrl (Settings → Webhooks, or a campaign’s Advanced settings), so its rate rule applies',
      );
    }
  }

  /**
   * Runs `fn` for every newly stored event, once per record (at least once: a failed batch is retried, split in
   * halves, then sent to a failure queue), filtered by event type and provider. It reads the table's stream,
   * whose INSERTs are first inserts only: a duplicate delivery writes nothing, so it is never notified twice.
   * Each notification is the stream record of the event item; its `id` is the record id, for idempotency.
   * @returns the queue where batches that kept failing are described (to look at, then redrive by hand).
   */
  onEvent(
    fn: lambda.IFunction,
    options: { events?: string[]; providers?: string[]; batchSize?: number } = {},
  ) {
    const id = `OnEvent${this.reactions++}`;
    const failures = new sqs.Queue(this, `${id}Failures`, {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(failures).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue is itself the dead-letter destination of the reaction's stream mapping: it describes the batches that kept failing.",
    });
    const image: Record<string, unknown> = { kind: { S: lambda.FilterRule.isEqual('event') } };
    if (options.events?.length) image.event = { S: options.events };
    if (options.providers?.length) image.provider = { S: options.providers };
    fn.addEventSource(
      new DynamoEventSource(this.records.table, {
        startingPosition: lambda.StartingPosition.LATEST,
        batchSize: options.batchSize ?? 100,
        bisectBatchOnError: true,
        retryAttempts: 10,
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(failures),
        filters: [
          lambda.FilterCriteria.filter({
            eventName: lambda.FilterRule.isEqual('INSERT'),
            dynamodb: { NewImage: image },
          }),
        ],
      }),
    );
    return failures;
  }

  private reactions = 0;

  /** @returns the URL to paste into the provider's console, e.g. SORI Console → Settings → Webhooks. */
  webhookUrl(provider: string): string {
    return `${this.api.url}/webhooks/${provider}`;
  }

  /**
   * @returns the provider's URL through CloudFront and AWS WAF (with `wafRateLimit`), to paste into its console
   *   in place of {@link webhookUrl}; `undefined` without the firewall.
   */
  protectedWebhookUrl(provider: string): string | undefined {
    return this.firewall ? `${this.firewall.url}/webhooks/${provider}` : undefined;
  }
}
