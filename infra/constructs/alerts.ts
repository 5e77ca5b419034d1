import { type CfnResource, Duration, Names, Stack, TimeZone, Validations } from 'aws-cdk-lib';
import * as chatbot from 'aws-cdk-lib/aws-chatbot';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { digestVariables } from '../../functions/daily-digest/config';
import { definedVariables } from '../../lib/config';
import { METRIC, METRICS_NAMESPACE, perEventMetricName, RECEIVE_SERVICE } from '../../lib/metrics';
import { findProvider, isBuiltInProvider } from '../../lib/providers';
import { type CustomProviderConfig, customProvider } from '../../lib/providers/declarative';
import { RECORDS_TABLE } from '../../lib/table/records-table';
import { NodeFunction } from './node-function';

/** A provider served, with the event types it declares (the receive function counts each one apart). */
export interface AlertedProvider {
  name: string;
  events: readonly string[];
}

/** A Slack channel, as Amazon Q Developer in chat applications names it once the workspace is authorized. */
export interface SlackChannel {
  /** The workspace's id (`T…`), shown in the console after the workspace is authorized. */
  workspaceId: string;
  /** The channel's id (`C…`), the end of the link Slack copies for the channel. */
  channelId: string;
}

/** A Microsoft Teams channel, as Amazon Q Developer in chat applications names it once the team is authorized. */
export interface TeamsChannel {
  /** The team's id (a UUID), shown in the console after the team is authorized. */
  teamId: string;
  /** The channel's id as Teams copies it, URL-encoded: `19%3a…%40thread.tacv2`. */
  channelId: string;
  /** The Microsoft Entra tenant's id (a UUID). */
  tenantId: string;
}

/** Per-provider traffic alarms against the provider's usual traffic at the same hour of the week. */
export interface TrafficAlarmOptions {
  /** The anomaly band's width in standard deviations, on each side. Default 3. */
  stdDevs?: number;
  /** The period each data point sums deliveries over, in whole minutes. Default 15 minutes. */
  period?: Duration;
  /** Periods looked at. Default 4 (an hour at the default period). */
  evaluationPeriods?: number;
  /** Periods of those outside the band that raise the alarm. Default 3. */
  datapointsToAlarm?: number;
  /** The IANA time zone the model learns the days and hours of the week in (daylight saving). Default UTC. */
  timeZone?: string;
  /**
   * The dimension naming the provider, once the receive function counts accepted deliveries with one besides
   * `service`. Without it, a provider's deliveries are the sum of its declared event types' counts
   * (`Accepted.<event>`), which the receive function writes today.
   */
  providerDimension?: string;
}

/** A daily digest of yesterday's campaigns and delivery health, sent to the alarms' topic. */
export interface DigestOptions {
  /** The records table, read only. */
  table: dynamodb.ITable | dynamodb.ITableV2;
  shards: number;
  recordRetentionDays: number;
  logRetentionDays: number;
  /** The dead-letter queue, whose messages the digest counts; without it, "dead letters unknown". */
  deadLetterQueue?: sqs.IQueue;
  /** The configured providers (checked), so the function counts their campaigns as theirs. */
  customProviders?: readonly unknown[];
  /** An EventBridge Scheduler `cron(…)` or `rate(…)` expression. Default `cron(0 1 * * ? *)`: 01:00 every day. */
  schedule?: string;
  /** The IANA time zone of `schedule`. Default UTC. The digest always covers the previous UTC day. */
  timeZone?: string;
}

export interface AlertsOptions {
  /** Routes the alarms' topic to a Slack channel. */
  slack?: SlackChannel;
  /** Routes the alarms' topic to a Microsoft Teams channel. */
  teams?: TeamsChannel;
  /** Adds a "dropped" and a "spiked" anomaly alarm per provider. */
  traffic?: TrafficAlarmOptions;
  /** Adds the daily digest. */
  digest?: DigestOptions;
}

export interface AlertsProps extends AlertsOptions {
  /** The alarms' topic: chat channels receive it, traffic alarms and the digest are sent to it. */
  topic: sns.ITopic;
  /** The providers the stack serves. */
  providers: readonly AlertedProvider[];
  /** Where the receive function's counts are. Default: its namespace and `service` dimension. */
  metrics?: { namespace: string; service: string };
}

/** The anomaly band's default width: at 3 standard deviations a normal count falls outside about 0.3% of the time. */
const DEFAULT_STD_DEVS = 3;
const DEFAULT_PERIOD = Duration.minutes(15);
const DEFAULT_EVALUATION_PERIODS = 4;
const DEFAULT_DATAPOINTS = 3;
const DEFAULT_SCHEDULE = 'cron(0 1 * * ? *)';
/** A CloudWatch alarm on metric math may read at most 10 metrics. */
const MAX_ALARM_METRICS = 10;

/**
 * Read-only CloudWatch access: what the chat integration needs to show an alarm's graph in the channel, and the
 * ceiling (guardrail) of anything a channel member may run through it. Without a guardrail, AWS applies
 * AdministratorAccess to the channel.
 */
const CHANNEL_ACTIONS = ['cloudwatch:Describe*', 'cloudwatch:Get*', 'cloudwatch:List*'];

// The formats the chat service's CloudFormation resources take; checked here so a typo fails the synth, naming
// the setting, rather than a deployment half-way.
const SLACK_WORKSPACE = /^[0-9A-Z]{1,255}$/;
const SLACK_CHANNEL = /^[A-Za-z0-9]{1,255}$/;
const UUID = /^[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}$/;
const TEAMS_CHANNEL = /^[A-Za-z0-9-_=+/.,]*%3[aA][A-Za-z0-9-_=+/.,]*%40[A-Za-z0-9-_=+/.,]*$/;

function check(ok: boolean, field: string, rule: string, value: unknown): void {
  if (!ok) throw new Error(`Alerts: ${field} must be ${rule}, got ${JSON.stringify(value)}`);
}

/** An IANA time zone Node knows (the ones CloudWatch and EventBridge Scheduler take). */
function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function checkChannels({ slack, teams }: AlertsOptions): void {
  if (slack) {
    check(
      SLACK_WORKSPACE.test(slack.workspaceId),
      'slack.workspaceId',
      'upper-case letters and digits (T…)',
      slack.workspaceId,
    );
    check(
      SLACK_CHANNEL.test(slack.channelId),
      'slack.channelId',
      'letters and digits (C…), not a #name',
      slack.channelId,
    );
  }
  if (teams) {
    check(UUID.test(teams.teamId), 'teams.teamId', 'a UUID', teams.teamId);
    check(UUID.test(teams.tenantId), 'teams.tenantId', 'a UUID', teams.tenantId);
    check(
      TEAMS_CHANNEL.test(teams.channelId),
      'teams.channelId',
      'the URL-encoded id Teams copies (19%3a…%40thread.tacv2)',
      teams.channelId,
    );
  }
}

interface TrafficSettings {
  stdDevs: number;
  period: Duration;
  evaluationPeriods: number;
  datapointsToAlarm: number;
  timeZone: string | undefined;
  providerDimension: string | undefined;
}

function trafficSettings(options: TrafficAlarmOptions): TrafficSettings {
  const settings = {
    stdDevs: options.stdDevs ?? DEFAULT_STD_DEVS,
    period: options.period ?? DEFAULT_PERIOD,
    evaluationPeriods: options.evaluationPeriods ?? DEFAULT_EVALUATION_PERIODS,
    datapointsToAlarm: options.datapointsToAlarm ?? DEFAULT_DATAPOINTS,
    timeZone: options.timeZone,
    providerDimension: options.providerDimension,
  };
  const seconds = settings.period.toSeconds();
  check(settings.stdDevs > 0, 'traffic.stdDevs', 'over 0', settings.stdDevs);
  // Standard-resolution metrics: CloudWatch alarms on periods of whole minutes.
  check(seconds >= 60 && seconds % 60 === 0, 'traffic.period', 'whole minutes', `${seconds} s`);
  check(
    Number.isInteger(settings.evaluationPeriods) &&
      settings.evaluationPeriods >= 1 &&
      settings.evaluationPeriods * seconds <= 86_400,
    'traffic.evaluationPeriods',
    'a whole number of periods within one day (CloudWatch evaluates at most a day)',
    settings.evaluationPeriods,
  );
  check(
    Number.isInteger(settings.datapointsToAlarm) &&
      settings.datapointsToAlarm >= 1 &&
      settings.datapointsToAlarm <= settings.evaluationPeriods,
    'traffic.datapointsToAlarm',
    `between 1 and evaluationPeriods (${settings.evaluationPeriods})`,
    settings.datapointsToAlarm,
  );
  if (settings.timeZone !== undefined)
    check(isTimeZone(settings.timeZone), 'traffic.timeZone', 'an IANA time zone', settings.timeZone);
  return settings;
}

/**
 * Where the people are: the alarms' topic routed to Slack and/or Microsoft Teams through AWS's chat integration
 * (Amazon Q Developer in chat applications), per-provider traffic alarms against the provider's usual traffic at
 * the same hour of the week (CloudWatch anomaly detection), and a daily digest of yesterday's campaigns and
 * delivery health sent to the same topic. Each part is behind its option; without any, nothing is added.
 */
export class Alerts extends Construct {
  /** The traffic alarms, two per provider ("dropped", "spiked"). */
  readonly alarms: cw.Alarm[] = [];
  /** The role the chat channels run under, with any chat option. */
  readonly channelRole: iam.Role | undefined;
  /** The digest's function, with the digest option. */
  readonly digestFunction: NodeFunction | undefined;

  constructor(scope: Construct, id: string, props: AlertsProps) {
    super(scope, id);
    checkChannels(props);
    const traffic = props.traffic ? trafficSettings(props.traffic) : undefined;
    if (props.digest?.schedule !== undefined)
      check(
        /^(cron|rate)\(.+\)$/.test(props.digest.schedule),
        'digest.schedule',
        'a cron(…) or rate(…) expression',
        props.digest.schedule,
      );
    if (props.digest?.timeZone !== undefined)
      check(isTimeZone(props.digest.timeZone), 'digest.timeZone', 'an IANA time zone', props.digest.timeZone);

    this.channelRole = props.slack || props.teams ? this.addChannels(props) : undefined;
    if (traffic) this.addTrafficAlarms(props, traffic);
    this.digestFunction = props.digest ? this.addDigest(props, props.digest) : undefined;
  }

  /** One configuration name per channel, unique in the account as the chat service requires. */
  private configurationName(kind: string): string {
    return `${Names.uniqueResourceName(this, { maxLength: 100, separator: '-' })}-${kind}`;
  }

  private addChannels(props: AlertsProps): iam.Role {
    const guardrail = new iam.ManagedPolicy(this, 'ChannelGuardrail', {
      description: 'Read-only CloudWatch: the most a chat channel of the alarms may do',
      statements: [new iam.PolicyStatement({ actions: CHANNEL_ACTIONS, resources: ['*'] })],
    });
    const role = new iam.Role(this, 'ChannelRole', {
      assumedBy: new iam.ServicePrincipal('chatbot.amazonaws.com'),
      description: "Shows the alarms' graphs in chat; reads CloudWatch, nothing else",
      managedPolicies: [guardrail],
    });
    const common = {
      iamRoleArn: role.roleArn,
      snsTopicArns: [props.topic.topicArn],
      guardrailPolicies: [guardrail.managedPolicyArn],
      // The channel's role, never each member's own: the guardrail is the ceiling either way.
      userRoleRequired: false,
      loggingLevel: 'ERROR',
    };
    if (props.slack) {
      new chatbot.CfnSlackChannelConfiguration(this, 'Slack', {
        ...common,
        configurationName: this.configurationName('slack'),
        slackWorkspaceId: props.slack.workspaceId,
        slackChannelId: props.slack.channelId,
      });
    }
    if (props.teams) {
      new chatbot.CfnMicrosoftTeamsChannelConfiguration(this, 'Teams', {
        ...common,
        configurationName: this.configurationName('teams'),
        teamId: props.teams.teamId,
        teamsChannelId: props.teams.channelId,
        teamsTenantId: props.teams.tenantId,
      });
    }
    const readOnly =
      "CloudWatch's Describe*, Get* and List* on *: read-only, and GetMetricData and GetMetricWidgetImage (an alarm's graph in chat) take no resource in IAM.";
    for (const finding of [...CHANNEL_ACTIONS.map((action) => `Action::${action}`), 'Resource::*'])
      Validations.of(guardrail).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason: readOnly });
    return role;
  }

  /**
   * A provider's accepted deliveries per period, as one series: the provider's own metric when the receive
   * function writes one, else the sum of its event types' metrics. A period with no delivery has no data
   * point; FILL makes it a 0 within the window read, so a provider that stops shows as 0 against its band.
   */
  private acceptedSeries(
    provider: AlertedProvider,
    metrics: { namespace: string; service: string },
    settings: TrafficSettings,
  ): cw.MathExpression {
    const metric = (metricName: string, dimensionsMap: Record<string, string>) =>
      new cw.Metric({
        namespace: metrics.namespace,
        metricName,
        dimensionsMap,
        statistic: cw.Stats.SUM,
        period: settings.period,
      });
    if (settings.providerDimension) {
      return new cw.MathExpression({
        expression: 'FILL(a, 0)',
        usingMetrics: {
          a: metric(METRIC.accepted, {
            service: metrics.service,
            [settings.providerDimension]: provider.name,
          }),
        },
        period: settings.period,
      });
    }
    const usingMetrics = Object.fromEntries(
      provider.events.map((event, i) => [
        `e${i}`,
        metric(perEventMetricName(METRIC.accepted, event), { service: metrics.service }),
      ]),
    );
    return new cw.MathExpression({
      expression: `FILL(SUM([${Object.keys(usingMetrics).join(', ')}]), 0)`,
      usingMetrics,
      period: settings.period,
    });
  }

  private addTrafficAlarms(props: AlertsProps, settings: TrafficSettings): void {
    const metrics = props.metrics ?? { namespace: METRICS_NAMESPACE, service: RECEIVE_SERVICE };
    if (!settings.providerDimension) checkCountable(props.providers);
    const action = new actions.SnsAction(props.topic);
    const minutes = settings.period.toMinutes();
    for (const provider of props.providers) {
      const series = this.acceptedSeries(provider, metrics, settings);
      const key = `Traffic-${provider.name}`;
      const detector = this.addDetector(`${key}-Model`, series, settings);
      const window = `${settings.datapointsToAlarm} of ${settings.evaluationPeriods} ${minutes}-minute periods`;
      for (const [direction, operator, description] of [
        [
          'Dropped',
          cw.ComparisonOperator.LESS_THAN_LOWER_THRESHOLD,
          `${provider.name}'s accepted deliveries dropped below their usual level for this hour of the week (${window}): is the sender failing, or the URL or secret changed in its console?`,
        ],
        [
          'Spiked',
          cw.ComparisonOperator.GREATER_THAN_UPPER_THRESHOLD,
          `${provider.name}'s accepted deliveries spiked above their usual level for this hour of the week (${window}): a campaign launch, a sender replaying, or a flood.`,
        ],
      ] as const) {
        const alarm = new cw.AnomalyDetectionAlarm(this, `${key}-${direction}`, {
          metric: series,
          stdDevs: settings.stdDevs,
          comparisonOperator: operator,
          evaluationPeriods: settings.evaluationPeriods,
          datapointsToAlarm: settings.datapointsToAlarm,
          // No data point in the whole window (a provider quiet at night, or not yet sending): nothing to judge.
          // A provider silent for hours is the quiet-source alarm's to report.
          treatMissingData: cw.TreatMissingData.NOT_BREACHING,
          alarmDescription: description,
        });
        alarm.node.addDependency(detector);
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
        this.alarms.push(alarm);
      }
    }
  }

  /**
   * The anomaly model of one series, made before its alarms: the same queries the alarms read (ids included),
   * with the time zone its weekly pattern is learnt in. It is deleted with the stack.
   */
  private addDetector(
    id: string,
    series: cw.MathExpression,
    settings: TrafficSettings,
  ): cw.CfnAnomalyDetector {
    const queries = Object.entries(series.usingMetrics).map(([metricId, metric]) => {
      const { metricStat } = metric.toMetricConfig();
      if (!metricStat) throw new Error(`Alerts: ${metricId} is not a metric`);
      return {
        id: metricId,
        returnData: false,
        metricStat: {
          metric: {
            namespace: metricStat.namespace,
            metricName: metricStat.metricName,
            dimensions: metricStat.dimensions?.map(({ name, value }) => ({ name, value: String(value) })),
          },
          period: metricStat.period.toSeconds(),
          stat: metricStat.statistic,
        },
      };
    });
    return new cw.CfnAnomalyDetector(this, id, {
      metricMathAnomalyDetector: {
        metricDataQueries: [...queries, { id: 'm0', expression: series.expression, returnData: true }],
      },
      ...(settings.timeZone ? { configuration: { metricTimeZone: settings.timeZone } } : {}),
    });
  }

  private addDigest(props: AlertsProps, digest: DigestOptions): NodeFunction {
    const metrics = props.metrics ?? { namespace: METRICS_NAMESPACE, service: RECEIVE_SERVICE };
    const fn = new NodeFunction(this, 'Digest', {
      name: 'daily-digest',
      // One day read as the dashboard reads it: seconds, with room for retries of throttled reads.
      timeout: Duration.minutes(2),
      logRetentionDays: digest.logRetentionDays,
      environment: definedVariables(
        digestVariables({
          table: {
            tableName: digest.table.tableName,
            shards: digest.shards,
            recordRetentionDays: digest.recordRetentionDays,
          },
          topicArn: props.topic.topicArn,
          health: {
            namespace: metrics.namespace,
            service: metrics.service,
            dlqUrl: digest.deadLetterQueue?.queueUrl,
          },
          providers: {
            customProviders: digest.customProviders ?? [],
            served: props.providers.map((provider) => provider.name),
          },
        }),
      ),
    });
    this.grantDigest(fn.role, props, digest);
    this.scheduleDigest(fn, digest);
    return fn;
  }

  /** The digest's grants: reads of the table as the dashboard's, the day's metrics, the DLQ's depth, the topic. */
  private grantDigest(role: iam.Role, props: AlertsProps, digest: DigestOptions): void {
    // Reads only, as the dashboard's: the table's items, and the listing of a type's events by day.
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:BatchGetItem'],
        resources: [digest.table.tableArn],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [`${digest.table.tableArn}/index/${RECORDS_TABLE.indexes.byTypeAndDay.name}`],
      }),
    );
    // The day's refusals. IAM has no resource for GetMetricData: it reads any metric of the account.
    role.addToPolicy(new iam.PolicyStatement({ actions: ['cloudwatch:GetMetricData'], resources: ['*'] }));
    if (digest.deadLetterQueue)
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['sqs:GetQueueAttributes'],
          resources: [digest.deadLetterQueue.queueArn],
        }),
      );
    role.addToPolicy(
      new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [props.topic.topicArn] }),
    );
    // A topic under a customer key needs the key too, as SNS documents for a publisher.
    const key = (props.topic as { masterKey?: { keyArn: string } }).masterKey;
    if (key)
      role.addToPolicy(
        new iam.PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [key.keyArn] }),
      );

    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: "cloudwatch:GetMetricData (the day's refusals), which IAM cannot scope to a resource.",
    });
  }

  /** Runs the digest every day, through a schedule whose role may only invoke it. */
  private scheduleDigest(fn: NodeFunction, digest: DigestOptions): void {
    // A role of its own rather than the stack-wide one the target would make: its findings are acknowledged here.
    const scheduleRole = new iam.Role(this, 'DigestScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    });
    new scheduler.Schedule(this, 'DigestSchedule', {
      description: "Sends yesterday's campaigns and delivery health to the alarms' topic",
      schedule: scheduler.ScheduleExpression.expression(
        digest.schedule ?? DEFAULT_SCHEDULE,
        digest.timeZone ? TimeZone.of(digest.timeZone) : TimeZone.ETC_UTC,
      ),
      target: new targets.LambdaInvoke(fn.function, {
        role: scheduleRole,
        input: scheduler.ScheduleTargetInput.fromObject({}),
        // A digest a day late is of little use; Lambda's own retries cover a failed run.
        maxEventAge: Duration.hours(1),
        retryAttempts: 2,
      }),
    });
    const stack = Stack.of(this);
    const fnId = stack.resolve(stack.getLogicalId(fn.function.node.defaultChild as CfnResource));
    Validations.of(scheduleRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${fnId}.Arn>:*]`,
      reason:
        "lambda:InvokeFunction on the digest function and its versions (<arn>:*), as the scheduler's target grants it; the function has no other version or alias.",
    });
  }
}

/**
 * Each provider's deliveries are the sum of its declared event types' counts: a provider without one cannot be
 * counted, and an event type two providers declare would count each one's deliveries as the other's too.
 * @throws naming the provider (or the event type and both providers).
 */
function checkCountable(providers: readonly AlertedProvider[]): void {
  const owner = new Map<string, string>();
  for (const provider of providers) {
    if (provider.events.length === 0)
      throw new Error(
        `Alerts: provider ${provider.name} declares no event type, so its deliveries cannot be counted apart; set traffic.providerDimension once the receive function counts deliveries per provider`,
      );
    if (provider.events.length > MAX_ALARM_METRICS)
      throw new Error(
        `Alerts: provider ${provider.name} declares ${provider.events.length} event types; an alarm reads at most ${MAX_ALARM_METRICS} metrics (set traffic.providerDimension)`,
      );
    for (const event of provider.events) {
      const other = owner.get(event);
      if (other !== undefined)
        throw new Error(
          `Alerts: event type ${event} is declared by ${other} and ${provider.name}, so their deliveries cannot be counted apart; set traffic.providerDimension`,
        );
      owner.set(event, provider.name);
    }
  }
}

/**
 * The `alerts` context value (cdk.json, or `-c alerts='<json>'`): each part as the construct takes it, but the
 * traffic period in minutes, and `true` for a part with its defaults.
 *
 * ```json
 * "alerts": {
 *   "slack": { "workspaceId": "T0123ABCD", "channelId": "C0123ABCD" },
 *   "teams": { "teamId": "<uuid>", "channelId": "19%3a…%40thread.tacv2", "tenantId": "<uuid>" },
 *   "traffic": { "stdDevs": 3, "periodMinutes": 15, "evaluationPeriods": 4, "datapointsToAlarm": 3 },
 *   "digest": { "schedule": "cron(0 1 * * ? *)", "timeZone": "UTC" }
 * }
 * ```
 */
export interface AlertsConfig {
  slack?: SlackChannel;
  teams?: TeamsChannel;
  traffic?: Omit<TrafficAlarmOptions, 'period'> & { periodMinutes?: number };
  digest?: Pick<DigestOptions, 'schedule' | 'timeZone'>;
}

type Shape = Record<string, 'string' | 'number'>;
const SHAPES: Record<keyof AlertsConfig, { required: Shape; optional: Shape; orTrue: boolean }> = {
  slack: { required: { workspaceId: 'string', channelId: 'string' }, optional: {}, orTrue: false },
  teams: {
    required: { teamId: 'string', channelId: 'string', tenantId: 'string' },
    optional: {},
    orTrue: false,
  },
  traffic: {
    required: {},
    optional: {
      stdDevs: 'number',
      periodMinutes: 'number',
      evaluationPeriods: 'number',
      datapointsToAlarm: 'number',
      timeZone: 'string',
      providerDimension: 'string',
    },
    orTrue: true,
  },
  digest: { required: {}, optional: { schedule: 'string', timeZone: 'string' }, orTrue: true },
};

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Reads the `alerts` context value: an object, or its JSON text. Each value's format is checked by the
 * construct; this checks the keys and their types.
 * @throws naming the key (`alerts.slack.channelId`) that is unknown, missing or of the wrong type.
 */
export function parseAlertsConfig(value: unknown): AlertsConfig {
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new Error(`context alerts must be a JSON object, got ${JSON.stringify(value)}`);
    }
  }
  if (!isObject(parsed))
    throw new Error(`context alerts must be a JSON object, got ${JSON.stringify(value)}`);
  const config: Record<string, unknown> = {};
  for (const [part, given] of Object.entries(parsed)) {
    const shape = SHAPES[part as keyof AlertsConfig];
    if (!shape)
      throw new Error(`context alerts.${part} is not an alerts option (slack, teams, traffic, digest)`);
    if (given === true && shape.orTrue) {
      config[part] = {};
      continue;
    }
    if (!isObject(given))
      throw new Error(
        `context alerts.${part} must be an object${shape.orTrue ? ' or true' : ''}, got ${JSON.stringify(given)}`,
      );
    const types: Shape = { ...shape.required, ...shape.optional };
    for (const [key, field] of Object.entries(given)) {
      if (!types[key]) throw new Error(`context alerts.${part}.${key} is not a setting of alerts.${part}`);
      if (typeof field !== types[key])
        throw new Error(
          `context alerts.${part}.${key} must be a ${types[key]}, got ${JSON.stringify(field)}`,
        );
    }
    for (const key of Object.keys(shape.required))
      if (!(key in given)) throw new Error(`context alerts.${part}.${key} is required`);
    config[part] = given;
  }
  return config as AlertsConfig;
}

/** What the digest reads, which the stack gives: the table, its layout, the DLQ, the configured providers. */
export type DigestParts = Omit<DigestOptions, 'schedule' | 'timeZone'>;

/** @returns the construct's options for an `alerts` context value; the digest reads `parts`. */
export function alertsOptions(config: AlertsConfig, parts: DigestParts): AlertsOptions {
  const { periodMinutes, ...traffic } = config.traffic ?? {};
  return {
    ...(config.slack ? { slack: config.slack } : {}),
    ...(config.teams ? { teams: config.teams } : {}),
    ...(config.traffic
      ? {
          traffic: {
            ...traffic,
            ...(periodMinutes !== undefined ? { period: Duration.minutes(periodMinutes) } : {}),
          },
        }
      : {}),
    ...(config.digest ? { digest: { ...parts, ...config.digest } } : {}),
  };
}

/**
 * The providers served, each with the event types it declares: a built-in provider's, or a configured one's
 * built from its configuration (the events it lists, or else those it counts), not from the synthesizing
 * process's registry, so a synth alerts on exactly the stack's own.
 * @throws naming a provider that is neither built in nor configured.
 */
export function alertedProviders(
  served: readonly string[],
  customProviders: readonly { name: string }[],
): AlertedProvider[] {
  return served.map((name) => {
    // Checked by parseCustomProviders; typed by name here so the construct's types name no schema library.
    const config = (customProviders as readonly CustomProviderConfig[]).find(
      (custom) => custom.name === name,
    );
    const provider = config
      ? customProvider(config)
      : isBuiltInProvider(name)
        ? findProvider(name)
        : undefined;
    if (!provider) throw new Error(`Alerts: provider ${name} is neither built in nor configured`);
    return { name, events: [...provider.events] };
  });
}
