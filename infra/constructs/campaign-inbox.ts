import { CfnOutput, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { CfnBucket } from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { repairVariables } from '../../functions/repair-counters/config';
import {
  checkStaleClaimAge,
  DEFAULT_STALE_AFTER_SECONDS,
  definedVariables,
  PROCESS_TIMEOUT_SECONDS,
  type ProviderSettings,
  processVariables,
  receiveVariables,
  type TableSettings,
} from '../../lib/config';
import { appRouteKeys, parseProviderApps, signsWithHmac } from '../../lib/providers/apps';
import { type CustomProviderConfig, parseCustomProviders } from '../../lib/providers/declarative';
import { RECEIVE_TIMEOUT_MS } from '../../lib/receive/invocation-deadline';
import { readSignalThresholds } from '../../lib/signals/thresholds';
import { RECORDS_TABLE } from '../../lib/table/records-table';
import {
  checkFrontDoor,
  checkProviderThrottles,
  checkWafRateLimit,
  DEFAULT_CONFIG,
  type InboxConfig,
  type ProviderApps,
  providerThrottle,
  type RouteThrottle,
  servedProviders,
} from '../config';
import { Alerts, alertedProviders, alertsOptions } from './alerts';
import { CampaignDashboard } from './campaign-dashboard';
import { addEventDestinations, type EventDestinations } from './event-destinations';
import { addEventLake, type EventLake } from './event-lake';
import { EventQueue } from './event-queue';
import { EventReplay } from './event-replay';
import { Monitoring } from './monitoring';
import { NodeFunction, PACKAGED_FUNCTIONS } from './node-function';
import { RawBodies } from './raw-bodies';
import { ReceiverApi } from './receiver-api';
import { RecordsTable } from './records-table';
import { SigningSecret } from './signing-secret';
import { WebhookFirewall } from './webhook-firewall';

export type CampaignInboxProps = Partial<Omit<InboxConfig, 'stackName'>> & {
  /**
   * With `frontDoor: 'functionUrl'`: the receive function's reserved concurrency, its throttle in place of the
   * HTTP API's; default {@link DEFAULT_RECEIVE_RESERVED_CONCURRENCY}. Refused with the HTTP API in front.
   */
  receiveReservedConcurrency?: number;
};

/**
 * The receive function's reserved concurrency behind a function URL, which has no rate limit of its own: the
 * HTTP API's default of 100 requests a second, at the tens of milliseconds a delivery takes (its SQS send
 * included), keeps about 5 invocations busy at once; 20 leaves room for bursts and a slow queue, while a flood
 * gets 429 answers (never billed) instead of taking the account's shared concurrency (1,000 by default, of
 * which Lambda keeps 100 unreserved) from every other function.
 */
export const DEFAULT_RECEIVE_RESERVED_CONCURRENCY = 20;

/** The providers the stack serves, checked, and how the functions are told of them. */
interface ServedProviders {
  customProviders: CustomProviderConfig[];
  /** Every provider given routes: the built-in ones enabled, then the configured ones. */
  served: string[];
  /** The apps given routes of their own, by provider. */
  apps: ProviderApps;
  throttles: Record<string, RouteThrottle>;
  variables: ProviderSettings;
}

/** The consumer's timeout; the queue's visibility timeout is six times it. */
const PROCESS_TIMEOUT = Duration.seconds(PROCESS_TIMEOUT_SECONDS);
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
  /** The HTTP API: the webhooks' front door with `frontDoor: 'httpApi'`, and the campaign dashboard's always. */
  readonly api: ReceiverApi;
  /** The webhooks' front door with `frontDoor: 'functionUrl'`: a function URL on the receive function. */
  readonly functionUrl: lambda.FunctionUrl | undefined;
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
  /** The pipes publishing first inserts to a bus and/or a queue, with `destinations` only. */
  readonly destinations: EventDestinations | undefined;
  /** The replay function, with `replay` only. */
  readonly replay: EventReplay | undefined;
  /** The event lake for Athena, with `lake` only. */
  readonly lake: EventLake | undefined;
  /** Chat channels, traffic anomaly alarms and the daily digest, with `alerts` only. */
  readonly alerts: Alerts | undefined;
  /** The layout settings the tools must read the table with. */
  private readonly settings: { shards: number; recordRetentionDays: number };

  constructor(scope: Construct, id: string, props: CampaignInboxProps = {}) {
    super(scope, id);
    const config = { ...DEFAULT_CONFIG, ...props };
    this.settings = { shards: config.shards, recordRetentionDays: config.recordRetentionDays };
    const providers = this.checkProviders(config);

    this.signingSecret = this.addSigningSecret();
    this.records = new RecordsTable(this, 'Records');
    this.rawBodies = new RawBodies(this, 'RawBodies', { retentionDays: config.recordRetentionDays });
    this.queue = new EventQueue(this, 'Events', {
      consumerTimeout: PROCESS_TIMEOUT,
      maxReceiveCount: config.dlqMaxReceiveCount,
    });
    // The consumer and the repair read the default stale age: checked here against the timeouts it follows.
    checkStaleClaimAge(DEFAULT_STALE_AFTER_SECONDS, {
      timeoutSeconds: PROCESS_TIMEOUT.toSeconds(),
      visibilityTimeoutSeconds: this.queue.visibilityTimeout.toSeconds(),
    });
    this.receiveFunction = this.addReceiveFunction(config, providers);
    this.functionUrl = this.addFunctionUrl(config, props.receiveReservedConcurrency);
    this.processFunction = this.addProcessFunction(config);
    this.repairFunction = this.addRepairFunction(config);
    this.api = this.addApi(config, providers);
    this.firewall = this.addFirewall(config);
    this.dashboard = this.addDashboard(config, providers);
    this.monitoring = this.addMonitoring(config, providers);
    this.addFunctionUrlAlarms();
    this.alerts = this.addAlerts(config, providers);
    this.destinations = addEventDestinations(this, this.records.table, config.destinations);
    this.replay = this.addReplay(config, providers);
    this.lake = addEventLake(this, this.records.table, config.lake, {
      logRetentionDays: config.logRetentionDays,
      ...this.customProvidersVariable(providers),
    });
  }

  /** Chat channels on the alarms' topic, traffic anomaly alarms and the daily digest, with `alerts`. */
  private addAlerts(config: InboxConfig, providers: ServedProviders): Alerts | undefined {
    const topic = this.monitoring.topic;
    if (!config.alerts || !topic) return undefined;
    return new Alerts(this, 'Alerts', {
      topic,
      providers: alertedProviders(providers.served, providers.customProviders),
      ...alertsOptions(config.alerts, {
        table: this.records.table,
        shards: config.shards,
        recordRetentionDays: config.recordRetentionDays,
        logRetentionDays: config.logRetentionDays,
        deadLetterQueue: this.queue.deadLetterQueue,
        customProviders: providers.customProviders,
      }),
    });
  }

  /** `CUSTOM_PROVIDERS` as the functions get it, for the constructs that take it as text. */
  private customProvidersVariable(providers: ServedProviders): { customProviders?: string } {
    return providers.customProviders.length > 0
      ? { customProviders: JSON.stringify(providers.customProviders) }
      : {};
  }

  /**
   * The replay function, with `replay`: it sends a range's stored events to the bus and the queue first inserts
   * go to (`destinations`), or to `replay.httpUrl`.
   * @throws naming `replay` when there is nowhere to send to.
   */
  private addReplay(config: InboxConfig, providers: ServedProviders): EventReplay | undefined {
    if (!config.replay) return undefined;
    const httpUrl = config.replay === true ? undefined : config.replay.httpUrl;
    const destinations = {
      ...(this.destinations?.bus ? { eventBus: this.destinations.bus } : {}),
      ...(this.destinations?.queue ? { queue: this.destinations.queue } : {}),
      ...(httpUrl ? { httpUrl } : {}),
    };
    if (Object.keys(destinations).length === 0)
      throw new Error(
        'context replay needs somewhere to send to: destinations (a bus or a queue), or replay.httpUrl',
      );
    return new EventReplay(this, 'Replay', {
      table: this.records.table,
      shards: config.shards,
      destinations,
      logRetentionDays: config.logRetentionDays,
      ...this.customProvidersVariable(providers),
    });
  }

  /**
   * The providers served, checked here too: a user's stack passes props without going through the context's
   * checks.
   */
  private checkProviders(config: InboxConfig): ServedProviders {
    const customProviders = parseCustomProviders(config.customProviders, 'customProviders');
    const served = servedProviders({ providers: config.providers, customProviders });
    const apps = parseProviderApps(config.providerApps, served, (name) =>
      signsWithHmac(name, { auth: config.auth, customProviders }),
    );
    return {
      customProviders,
      served,
      apps,
      throttles: checkProviderThrottles(config.providerThrottles, [...served, ...appRouteKeys(apps)]),
      // Every function that reads the provider list learns the configured providers at cold start; with a list
      // of providers served, it names them too.
      variables: { customProviders, served: config.providers.length > 0 ? served : [] },
    };
  }

  private addSigningSecret(): SigningSecret {
    const secret = new SigningSecret(this, 'SigningSecret');
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The secret_key is issued by SORI, not by AWS: it is rotated in SORI Console and put here with npm run set-secret, which keeps the previous one valid.',
    });
    return secret;
  }

  /** The records table as the functions are told of it. */
  private tableSettings(config: InboxConfig): TableSettings {
    return {
      tableName: this.records.table.tableName,
      shards: config.shards,
      recordRetentionDays: config.recordRetentionDays,
    };
  }

  private addReceiveFunction(config: InboxConfig, providers: ServedProviders): NodeFunction {
    const receive = new NodeFunction(this, 'Receive', {
      name: 'receive-webhook',
      tracing: config.tracing,
      timeout: RECEIVE_TIMEOUT,
      // Only bodies over 96 KiB need S3; loading its client from the runtime keeps it out of every cold start.
      external: RECEIVE_EXTERNAL_MODULES,
      logRetentionDays: config.logRetentionDays,
      environment: definedVariables(
        receiveVariables({
          queueUrl: this.queue.queue.queueUrl,
          signingSecretArn: this.signingSecret.secret.secretArn,
          maxBodyBytes: config.maxBodyBytes,
          allowUnsigned: config.allowUnsigned,
          rawBucket: this.rawBodies.bucket.bucketName,
          providers: providers.variables,
          auth: config.auth,
        }),
      ),
    });
    receive.role.addToPolicy(
      new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.queue.queue.queueArn] }),
    );
    receive.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [this.rawBodies.bucket.arnForObjects('raw/*')],
      }),
    );
    receive.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [this.signingSecret.secret.secretArn],
      }),
    );
    Validations.of(receive.role).acknowledge({
      id: 'AwsSolutions-IAM5',
      reason:
        "Two wildcards, both on names made at run time: logs:CreateLogStream/PutLogEvents on the function's own log group (log-group:<name>:*), and s3:PutObject under raw/ in the raw-bodies bucket (raw/<provider>/<sha256>).",
    });
    // cdk-nag names this finding after the bucket's logical id, which depends on where the construct sits.
    const stack = Stack.of(this);
    const bucketId = stack.resolve(stack.getLogicalId(this.rawBodies.bucket.node.defaultChild as CfnBucket));
    Validations.of(receive.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/raw/*]`,
      reason:
        's3:PutObject under raw/ only: raw bodies are written as raw/<provider>/<sha256>, names made when a body arrives.',
    });
    return receive;
  }

  private addProcessFunction(config: InboxConfig): NodeFunction {
    const process = new NodeFunction(this, 'Process', {
      name: 'process-webhook',
      tracing: config.tracing,
      timeout: PROCESS_TIMEOUT,
      // Its time is CPU (hashing, compression, the SDK's own work per call) more than waiting: twice the memory
      // gives twice the CPU and about halves a batch's time, for about the same price per batch, and keeps up
      // with 1,000 deliveries a second on the default 5 pollers (see docs/benchmarks.md).
      memorySize: 512,
      logRetentionDays: config.logRetentionDays,
      environment: definedVariables(
        processVariables({
          table: this.tableSettings(config),
          dlqUrl: this.queue.deadLetterQueue.queueUrl,
        }),
      ),
    });
    // A message it can never read goes to the DLQ at once, with the reason.
    process.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['sqs:SendMessage'],
        resources: [this.queue.deadLetterQueue.queueArn],
      }),
    );
    // Conditional puts (records, device markers, its journal entry), the journal's close and the listing of a
    // campaign-day, and the reads after a lost answer: on the table only, no index ARNs.
    process.role.addToPolicy(
      new iam.PolicyStatement({
        actions: [...COUNTER_WRITER_ACTIONS],
        resources: [this.records.table.tableArn],
      }),
    );
    process.function.addEventSource(
      new SqsEventSource(this.queue.queue, {
        batchSize: config.batchSize,
        maxBatchingWindow: Duration.seconds(config.batchWindowSeconds),
        reportBatchItemFailures: true,
        maxConcurrency: config.maxConcurrency,
      }),
    );
    acknowledgeLogStreams(process);
    return process;
  }

  /**
   * The counter repair: once a minute, folds the batches' journal into the counter items (their one writer),
   * counting a batch a killed consumer left open from its own writes.
   */
  private addRepairFunction(config: InboxConfig): NodeFunction {
    const repair = new NodeFunction(this, 'Repair', {
      name: 'repair-counters',
      tracing: config.tracing,
      timeout: Duration.minutes(1),
      logRetentionDays: config.logRetentionDays,
      environment: definedVariables(
        repairVariables({
          table: this.tableSettings(config),
          // Only those set: the function reads the defaults of the others.
          ...(config.signals && Object.keys(config.signals).length > 0
            ? { signals: readSignalThresholds(config.signals) }
            : {}),
        }),
      ),
    });
    // Reads the journal and the fold state, writes counter items whole, flags missing device markers; reads the
    // earlier protocol's list of claimed counters (one index) to settle what it left, and a day's campaigns (the
    // day index) when it first writes the day's provider-day item.
    repair.role.addToPolicy(
      new iam.PolicyStatement({
        actions: [...COUNTER_WRITER_ACTIONS],
        resources: [this.records.table.tableArn],
      }),
    );
    repair.role.addToPolicy(
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
      targets: [new targets.LambdaFunction(repair.function, { retryAttempts: 0 })],
    });
    acknowledgeLogStreams(repair);
    return repair;
  }

  /**
   * The function URL in front of the receive function, with `frontDoor: 'functionUrl'`: no authentication by
   * AWS (a webhook sender cannot sign AWS requests), the function's reserved concurrency as its throttle.
   * @throws naming `frontDoor` and the key, for an option that needs the HTTP API's webhook routes (see
   *   `checkFrontDoor`); naming `receiveReservedConcurrency` when it is given without a function URL, or is not
   *   an integer from 1 to 900.
   */
  private addFunctionUrl(config: InboxConfig, reserved: number | undefined): lambda.FunctionUrl | undefined {
    if (checkFrontDoor(config) !== 'functionUrl') {
      if (reserved !== undefined)
        throw new Error(
          'receiveReservedConcurrency needs frontDoor functionUrl: with the HTTP API in front, its stage and route throttles limit the receive function',
        );
      return undefined;
    }
    const concurrency = reserved ?? DEFAULT_RECEIVE_RESERVED_CONCURRENCY;
    // Lambda's default concurrency quota is 1,000 a Region, and it always keeps 100 of them unreserved.
    if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 900)
      throw new Error(
        `receiveReservedConcurrency must be an integer from 1 to 900, got ${JSON.stringify(reserved)}`,
      );
    const fn = this.receiveFunction.function;
    (fn.node.defaultChild as lambda.CfnFunction).reservedConcurrentExecutions = concurrency;
    // With NONE, aws-cdk-lib adds the two resource-based permissions a public function URL needs: anyone may
    // call lambda:InvokeFunctionUrl, and lambda:InvokeFunction only through the function URL.
    const url = fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
    // AwsSolutions has no rule on a public function URL; the packs that check it (NIST 800-53 R5 among them)
    // flag the two permissions with principal `*`.
    Validations.of(fn).acknowledge({
      id: 'NIST.800.53.R5-LambdaFunctionPublicAccessProhibited',
      reason:
        "Webhook senders cannot sign AWS requests: every delivery is authenticated in the receive function by an HMAC over the raw body (or a secret URL token compared in constant time), and the function's reserved concurrency bounds what unauthenticated calls can take.",
    });
    return url;
  }

  /**
   * Behind a function URL the HTTP API's alarms see the dashboard's requests only: the webhooks' 5xx answers,
   * the 429s of a full reserved concurrency and a flood of refusals are alarmed on from the function URL's own
   * metrics (`AWS/Lambda`, by function name) and the function's throttles, beside the others and on their topic.
   */
  private addFunctionUrlAlarms(): void {
    if (!this.functionUrl) return;
    const fn = this.receiveFunction.function;
    const period = Duration.minutes(5);
    const url = (metricName: string) =>
      new cw.Metric({
        namespace: 'AWS/Lambda',
        metricName,
        dimensionsMap: { FunctionName: fn.functionName },
        statistic: cw.Stats.SUM,
        period,
      });
    const onAny = {
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    };
    const alarms = [
      new cw.Alarm(this, 'FunctionUrl5xxAlarm', {
        alarmDescription: 'The webhook function URL answered 5xx: senders retry, but only a few times.',
        metric: url('Url5xxCount'),
        ...onAny,
      }),
      new cw.Alarm(this, 'FunctionUrlThrottledAlarm', {
        alarmDescription:
          'The receive function was throttled in the last 5 minutes: its reserved concurrency (receiveReservedConcurrency) was full, so the function URL answered 429; senders retry 429 only a few times.',
        metric: fn.metricThrottles({ period, statistic: cw.Stats.SUM }),
        ...onAny,
      }),
      new cw.Alarm(this, 'FunctionUrlClientErrorRateAlarm', {
        alarmDescription:
          'Over half of at least 50 requests to the webhook function URL in 5 minutes were answered 4xx (refused or throttled): a sender with a wrong URL or secret, or a flood of unauthenticated traffic.',
        metric: new cw.MathExpression({
          expression: 'IF(n >= 50, 100 * e / n, 0)',
          usingMetrics: { e: url('Url4xxCount'), n: url('UrlRequestCount') },
          period,
          label: 'Function URL 4xx (%)',
        }),
        threshold: 50,
        evaluationPeriods: 1,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
      }),
    ];
    const topic = this.monitoring.topic;
    for (const alarm of alarms) {
      if (topic) {
        alarm.addAlarmAction(new cwActions.SnsAction(topic));
        alarm.addOkAction(new cwActions.SnsAction(topic));
      }
      // On the operations dashboard's alarm status widget with the others.
      this.monitoring.alarms.push(alarm);
    }
  }

  private addApi(config: InboxConfig, providers: ServedProviders): ReceiverApi {
    // Behind a function URL the API still serves the campaign dashboard (its routes need the JWT authorizer a
    // function URL does not have), and takes no webhooks: it bills only the dashboard's own requests.
    const webhookRoutes = this.functionUrl === undefined;
    const api = new ReceiverApi(this, 'Api', {
      handler: this.receiveFunction.function,
      throttleRateLimit: config.throttleRateLimit,
      throttleBurstLimit: config.throttleBurstLimit,
      logRetentionDays: config.logRetentionDays,
      webhookRoutes,
      providers: providers.served.map((name) => ({
        name,
        ...providerThrottle(providers.throttles, name),
        apps: (providers.apps[name] ?? []).map((app) => ({
          name: app,
          ...providerThrottle(providers.throttles, `${name}/${app}`),
        })),
      })),
    });
    Validations.of(api).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'HTTP API authorizers cannot see the body; every request is authenticated in the receive function by an HMAC over the raw body (or a secret URL token compared in constant time).',
    });
    return api;
  }

  /** AWS WAF and CloudFront in front of the API, with `wafRateLimit` only. */
  private addFirewall(config: InboxConfig): WebhookFirewall | undefined {
    if (config.wafRateLimit === undefined) return undefined;
    return new WebhookFirewall(this, 'Firewall', {
      api: this.api.api,
      rateLimit: checkWafRateLimit(config.wafRateLimit),
    });
  }

  private addDashboard(config: InboxConfig, providers: ServedProviders): CampaignDashboard {
    return new CampaignDashboard(this, 'Dashboard', {
      api: this.api,
      records: this.records,
      users: config.dashboardUsers,
      shards: config.shards,
      recordRetentionDays: config.recordRetentionDays,
      logRetentionDays: config.logRetentionDays,
      queue: this.queue.queue,
      deadLetterQueue: this.queue.deadLetterQueue,
      providers: providers.variables.served,
      customProviders: providers.customProviders,
      ...(config.signals && Object.keys(config.signals).length > 0 ? { signals: config.signals } : {}),
    });
  }

  private addMonitoring(config: InboxConfig, providers: ServedProviders): Monitoring {
    return new Monitoring(this, 'Monitoring', {
      api: this.api.api,
      apiServesWebhooks: this.functionUrl === undefined,
      throttledRequests: this.api.throttledRequests,
      receiveFunction: this.receiveFunction.function,
      processFunction: this.processFunction.function,
      repairFunction: this.repairFunction.function,
      queue: this.queue.queue,
      deadLetterQueue: this.queue.deadLetterQueue,
      quietHours: config.quietHours,
      alarmEmail: config.alarmEmail,
      notify: config.alerts !== undefined,
      signalAlarms: config.signals !== undefined,
      customProviders: providers.customProviders,
    });
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
    if (this.destinations?.bus) output('DestinationBusArn', this.destinations.bus.eventBusArn);
    if (this.destinations?.queue) output('DestinationQueueUrl', this.destinations.queue.queueUrl);
    if (this.replay)
      output(
        'ReplayFunctionName',
        this.replay.function.function.functionName,
        'Invoke asynchronously with {"since","until","to"} to send a range of stored events again',
      );
    if (this.lake) {
      output(
        'LakeWorkGroup',
        this.lake.workGroup.ref,
        'The Athena workgroup whose named queries read the lake',
      );
      output(
        'LakeDatabase',
        this.lake.databaseName,
        'The Glue database of the event lake (its table: events)',
      );
    }
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

  /**
   * @returns the URL to paste into the provider's console, e.g. SORI Console → Settings → Webhooks: on the HTTP
   *   API, or on the function URL with `frontDoor: 'functionUrl'`.
   */
  webhookUrl(provider: string): string {
    // A function URL ends with a slash (`https://<id>.lambda-url.<region>.on.aws/`).
    if (this.functionUrl) return `${this.functionUrl.url}webhooks/${provider}`;
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

/** A function's one wildcard: its own log group's streams, which Lambda names at run time. */
function acknowledgeLogStreams(fn: NodeFunction): void {
  Validations.of(fn.role).acknowledge({
    id: 'AwsSolutions-IAM5',
    reason:
      "logs:CreateLogStream/PutLogEvents on the function's own log group; its streams are created at run time, hence log-group:<name>:*.",
  });
}
