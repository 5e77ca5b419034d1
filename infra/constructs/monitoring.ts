import { Duration, Validations } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRIC, METRICS_NAMESPACE, type MetricName, perEventMetricName } from '../../lib/metrics';
import { allProviders, isBuiltInProvider, type Provider } from '../../lib/providers';
import { type CustomProviderConfig, customProvider } from '../../lib/providers/declarative';
import { SIGNAL_METRICS, SIGNAL_METRICS_SERVICE } from '../../lib/signals/metrics';

export interface MonitoringProps {
  api: apigw.HttpApi;
  /**
   * `false` when the webhooks come through a function URL and the HTTP API serves the campaign dashboard alone:
   * its alarms then speak of the dashboard (the function URL has alarms of its own). Default `true`.
   */
  apiServesWebhooks?: boolean;
  /** The stage's 429 answers (API Gateway counts them among its 4xx only); no throttle alarm without it. */
  throttledRequests?: cw.Metric;
  receiveFunction: lambda.IFunction;
  processFunction: lambda.IFunction;
  repairFunction: lambda.IFunction;
  queue: sqs.IQueue;
  deadLetterQueue: sqs.IQueue;
  quietHours: number;
  alarmEmail: string | undefined;
  /** Keep the alarms' topic even without an e-mail address (chat channels and the digest use it). */
  notify?: boolean;
  /**
   * An alarm per fraud and quality signal: opt-in, since a signal may be a campaign's normal (clicks without
   * impressions where SORI sends only clicks).
   */
  signalAlarms?: boolean;
  /**
   * The providers added by configuration, checked by `parseCustomProviders`, whose event types the dashboard
   * graphs besides the built-in providers'. Typed by their name only: the construct's types name no schema
   * library, so an app that installs the package type-checks without one.
   */
  customProviders?: readonly { name: string }[];
}

const FIVE_MINUTES = Duration.minutes(5);
const PER_MINUTE = Duration.minutes(1);
/** Most alarms here fire on a single count in one 5-minute period: a lost or late event is news at once. */
const ON_ANY: Pick<
  cw.AlarmProps,
  'threshold' | 'evaluationPeriods' | 'comparisonOperator' | 'treatMissingData'
> = {
  threshold: 1,
  evaluationPeriods: 1,
  comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
  treatMissingData: cw.TreatMissingData.NOT_BREACHING,
};
/** A rate alarm: over half, in one period. */
const OVER_HALF: Pick<
  cw.AlarmProps,
  'threshold' | 'evaluationPeriods' | 'comparisonOperator' | 'treatMissingData'
> = {
  threshold: 50,
  evaluationPeriods: 1,
  comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
  treatMissingData: cw.TreatMissingData.NOT_BREACHING,
};

/**
 * The providers whose events are graphed: the built-in ones, then those configured, built from their
 * configuration here rather than read from the process-wide registry, so a synth sees exactly the stack's own.
 */
function graphedProviders(customProviders: readonly { name: string }[]): Provider[] {
  return [
    ...allProviders().filter((provider) => isBuiltInProvider(provider.name)),
    ...(customProviders as readonly CustomProviderConfig[]).map(customProvider),
  ];
}

/**
 * Alarms on everything that means an event may be late or lost, and a dashboard of the pipeline. With an
 * e-mail address, alarms notify it through an SNS topic.
 */
export class Monitoring extends Construct {
  readonly dashboard: cw.Dashboard;
  readonly alarms: cw.Alarm[] = [];
  readonly topic: sns.Topic | undefined;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.addQueueAlarms(props);
    this.addApiAlarms(props);
    this.addFunctionAlarms(props);
    this.addQuietSourceAlarm(props.quietHours);
    if (props.signalAlarms) this.addSignalAlarms();
    this.topic = props.alarmEmail || props.notify ? this.notify(props.alarmEmail) : undefined;
    this.dashboard = this.addDashboard(props);
  }

  /** One of the functions' own counts (embedded metrics), summed over `period`. */
  private custom(name: MetricName, service: string, period = FIVE_MINUTES): cw.Metric {
    return new cw.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: name,
      dimensionsMap: { service },
      statistic: cw.Stats.SUM,
      period,
    });
  }

  private receive(name: MetricName, period?: Duration): cw.Metric {
    return this.custom(name, 'receive-webhook', period);
  }

  private process(name: MetricName, period?: Duration): cw.Metric {
    return this.custom(name, 'process-webhook', period);
  }

  private alarm(id: string, description: string, options: cw.AlarmProps): cw.Alarm {
    const created = new cw.Alarm(this, id, { alarmDescription: description, ...options });
    this.alarms.push(created);
    return created;
  }

  /**
   * One alarm per fraud and quality signal, on the count the repair's fold raised in 5 minutes (its embedded
   * metrics): each names the command that lists what raised it.
   */
  private addSignalAlarms(): void {
    for (const [signal, name] of Object.entries(SIGNAL_METRICS)) {
      this.alarm(
        `Signal${name}Alarm`,
        `A fraud or quality signal was raised: ${signal}. See events stats --signals.`,
        {
          metric: new cw.Metric({
            namespace: METRICS_NAMESPACE,
            metricName: name,
            dimensionsMap: { service: SIGNAL_METRICS_SERVICE },
            period: FIVE_MINUTES,
            statistic: cw.Stats.SUM,
          }),
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: cw.TreatMissingData.NOT_BREACHING,
        },
      );
    }
  }

  private addQueueAlarms(props: MonitoringProps): void {
    this.alarm(
      'DeadLettersAlarm',
      'Messages are in the DLQ: fix the cause, then npm run events -- redrive.',
      {
        metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: FIVE_MINUTES,
          statistic: cw.Stats.MAXIMUM,
        }),
        ...ON_ANY,
      },
    );
    this.alarm(
      'OldestMessageAgeAlarm',
      'Events wait more than 5 minutes in the queue: the consumer is failing or too slow.',
      {
        metric: props.queue.metricApproximateAgeOfOldestMessage({
          period: FIVE_MINUTES,
          statistic: cw.Stats.MAXIMUM,
        }),
        ...ON_ANY,
        threshold: 300,
        evaluationPeriods: 2,
      },
    );
  }

  private addApiAlarms(props: MonitoringProps): void {
    const webhooks = props.apiServesWebhooks !== false;
    const dashboardOnly =
      'The HTTP API serves the campaign dashboard only (webhooks come through the function URL): ';
    this.alarm(
      'Receive5xxAlarm',
      webhooks
        ? 'The webhook answered 5xx: senders retry, but only a few times.'
        : `${dashboardOnly}it answered 5xx.`,
      {
        metric: props.api.metricServerError({ period: FIVE_MINUTES, statistic: cw.Stats.SUM }),
        ...ON_ANY,
      },
    );
    if (props.throttledRequests) {
      this.alarm(
        'ThrottledAlarm',
        webhooks
          ? 'The API answered 429 (throttled) in the last 5 minutes: a sender over its route’s rate or a flood; senders retry 429 only a few times. The access logs name the route.'
          : `${dashboardOnly}it answered 429 (throttled) in the last 5 minutes. The access logs name the route.`,
        { metric: props.throttledRequests, ...ON_ANY },
      );
    }
    this.alarm(
      'ClientErrorRateAlarm',
      webhooks
        ? 'Over half of at least 50 requests in 5 minutes were answered 4xx (refused or throttled): a sender with a wrong URL or secret, or a flood of unauthenticated traffic.'
        : `${dashboardOnly}over half of at least 50 requests in 5 minutes were answered 4xx (signed out, refused or throttled).`,
      {
        metric: new cw.MathExpression({
          expression: 'IF(n >= 50, 100 * e / n, 0)',
          usingMetrics: {
            e: props.api.metricClientError({ period: FIVE_MINUTES, statistic: cw.Stats.SUM }),
            n: props.api.metricCount({ period: FIVE_MINUTES, statistic: cw.Stats.SUM }),
          },
          period: FIVE_MINUTES,
          label: 'API 4xx (%)',
        }),
        ...OVER_HALF,
      },
    );
    this.alarm(
      'SignatureFailureRateAlarm',
      'Over half of at least 10 deliveries failed the signature check: a wrong secret, or someone probing.',
      {
        metric: new cw.MathExpression({
          expression: 'IF(f >= 10, 100 * f / (f + a + q), 0)',
          usingMetrics: {
            f: this.receive(METRIC.signatureFailures),
            a: this.receive(METRIC.accepted),
            q: this.receive(METRIC.quarantined),
          },
          period: FIVE_MINUTES,
          label: 'Signature failures (%)',
        }),
        ...OVER_HALF,
      },
    );
  }

  private addFunctionAlarms(props: MonitoringProps): void {
    this.alarm(
      'ProcessingErrorsAlarm',
      'The consumer failed to store records; they are retried and then go to the DLQ.',
      {
        metric: new cw.MathExpression({
          expression: 'FILL(e, 0) + FILL(p, 0)',
          usingMetrics: {
            e: props.processFunction.metricErrors({ period: FIVE_MINUTES }),
            p: this.process(METRIC.processingFailures),
          },
          period: FIVE_MINUTES,
          label: 'Processing errors',
        }),
        ...ON_ANY,
      },
    );
    this.alarm(
      'SecretRefreshAlarm',
      'Reading the signing secret has failed for 15 minutes: the receive function verifies with its cached copy, or answers 503 without one.',
      { metric: this.receive(METRIC.secretRefreshFailures), ...ON_ANY, evaluationPeriods: 3 },
    );
    this.alarm(
      'CounterRepairAlarm',
      'The counter repair has failed for 15 minutes: campaign counters may stay off until it runs again.',
      {
        metric: props.repairFunction.metricErrors({ period: FIVE_MINUTES }),
        ...ON_ANY,
        evaluationPeriods: 3,
      },
    );
  }

  private addQuietSourceAlarm(quietHours: number): void {
    this.alarm(
      'QuietSourceAlarm',
      `No event accepted for ${quietHours} hours: is the URL still set in the sender's console?`,
      {
        metric: this.receive(METRIC.accepted, Duration.hours(1)),
        threshold: 1,
        evaluationPeriods: quietHours,
        comparisonOperator: cw.ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: cw.TreatMissingData.BREACHING,
      },
    );
  }

  /** Every alarm notifies one topic (and the address, when given), when it fires and when it clears. */
  private notify(alarmEmail: string | undefined): sns.Topic {
    const topic = new sns.Topic(this, 'AlarmTopic', {
      enforceSSL: true,
      displayName: 'campaign-inbox alarms',
    });
    if (alarmEmail) topic.addSubscription(new subscriptions.EmailSubscription(alarmEmail));
    Validations.of(topic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        'Alarm notifications carry no event data; CloudWatch cannot publish to a topic under the AWS-managed SNS key, and a customer key would cost more than the whole pipeline at low volume.',
    });
    const action = new actions.SnsAction(topic);
    for (const created of this.alarms) {
      created.addAlarmAction(action);
      created.addOkAction(action);
    }
    return topic;
  }

  private addDashboard(props: MonitoringProps): cw.Dashboard {
    const dashboard = new cw.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    dashboard.addWidgets(
      this.eventsWidget(props.customProviders ?? []),
      this.outcomesWidget(),
      this.failuresWidget(props),
      this.latencyWidget(props),
      this.queueWidget(props),
      new cw.AlarmStatusWidget({ title: 'Alarms', width: 12, alarms: this.alarms }),
    );
    return dashboard;
  }

  /** One line per event type the providers declare, the configured providers' included. */
  private eventsWidget(customProviders: readonly { name: string }[]): cw.GraphWidget {
    const eventNames = graphedProviders(customProviders).flatMap((provider) => provider.events);
    return new cw.GraphWidget({
      title: 'Events per minute by type',
      width: 12,
      stacked: true,
      left: eventNames.map(
        (event) =>
          new cw.Metric({
            namespace: METRICS_NAMESPACE,
            metricName: perEventMetricName(METRIC.accepted, event),
            dimensionsMap: { service: 'receive-webhook' },
            statistic: cw.Stats.SUM,
            period: PER_MINUTE,
            label: event,
          }),
      ),
    });
  }

  private outcomesWidget(): cw.GraphWidget {
    return new cw.GraphWidget({
      title: 'Stored, duplicates, quarantined',
      width: 12,
      left: [
        this.process(METRIC.stored, PER_MINUTE).with({ label: 'stored' }),
        this.process(METRIC.duplicates, PER_MINUTE).with({ label: 'duplicates' }),
        this.receive(METRIC.quarantined, PER_MINUTE).with({ label: 'quarantined' }),
      ],
    });
  }

  private failuresWidget(props: MonitoringProps): cw.GraphWidget {
    return new cw.GraphWidget({
      title: 'Failures',
      width: 12,
      left: [
        this.receive(METRIC.signatureFailures, PER_MINUTE).with({ label: 'signature failures' }),
        this.receive(METRIC.queueFailures, PER_MINUTE).with({ label: 'queue failures (503)' }),
        this.process(METRIC.processingFailures, PER_MINUTE).with({ label: 'processing failures' }),
        props.api.metricServerError({ period: PER_MINUTE }).with({ label: 'API 5xx' }),
        props.api.metricClientError({ period: PER_MINUTE }).with({ label: 'API 4xx' }),
        ...(props.throttledRequests
          ? [props.throttledRequests.with({ period: PER_MINUTE, label: 'API 429 (throttled)' })]
          : []),
      ],
    });
  }

  private latencyWidget(props: MonitoringProps): cw.GraphWidget {
    return new cw.GraphWidget({
      title: 'Receive latency (ms)',
      width: 12,
      left: [
        props.api
          .metricLatency({ period: PER_MINUTE, statistic: cw.Stats.percentile(50) })
          .with({ label: 'API p50' }),
        props.api
          .metricLatency({ period: PER_MINUTE, statistic: cw.Stats.percentile(99) })
          .with({ label: 'API p99' }),
        props.receiveFunction
          .metricDuration({ period: PER_MINUTE, statistic: cw.Stats.percentile(99) })
          .with({ label: 'function p99' }),
      ],
    });
  }

  private queueWidget(props: MonitoringProps): cw.GraphWidget {
    return new cw.GraphWidget({
      title: 'Queue depth',
      width: 12,
      left: [
        props.queue
          .metricApproximateNumberOfMessagesVisible({ period: PER_MINUTE })
          .with({ label: 'waiting' }),
        props.queue
          .metricApproximateNumberOfMessagesNotVisible({ period: PER_MINUTE })
          .with({ label: 'in flight' }),
        props.deadLetterQueue
          .metricApproximateNumberOfMessagesVisible({ period: PER_MINUTE })
          .with({ label: 'DLQ' }),
      ],
      right: [
        props.queue.metricApproximateAgeOfOldestMessage({ period: PER_MINUTE }).with({ label: 'oldest (s)' }),
      ],
    });
  }
}
