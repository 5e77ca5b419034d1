import { Duration } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRIC, METRICS_NAMESPACE, type MetricName, perEventMetricName } from '../../lib/metrics';
import { allProviders } from '../../lib/providers';

export interface MonitoringProps {
  api: apigw.HttpApi;
  /** The stage's 429 answers (API Gateway counts them among its 4xx only); no throttle alarm without it. */
  throttledRequests?: cw.Metric;
  receiveFunction: lambda.IFunction;
  processFunction: lambda.IFunction;
  repairFunction: lambda.IFunction;
  queue: sqs.IQueue;
  deadLetterQueue: sqs.IQueue;
  quietHours: number;
  alarmEmail: string | undefined;
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
    const custom = (
      name: MetricName,
      service: string,
      extra: Record<string, string> = {},
      period = Duration.minutes(5),
    ) =>
      new cw.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: name,
        dimensionsMap: { service, ...extra },
        statistic: cw.Stats.SUM,
        period,
      });
    const receive = (name: MetricName, period?: Duration) => custom(name, 'receive-webhook', {}, period);
    const process = (name: MetricName, period?: Duration) => custom(name, 'process-webhook', {}, period);

    const alarm = (id: string, description: string, options: cw.AlarmProps) => {
      const created = new cw.Alarm(this, id, { alarmDescription: description, ...options });
      this.alarms.push(created);
      return created;
    };

    alarm('DeadLettersAlarm', 'Messages are in the DLQ: fix the cause, then npm run events -- redrive.', {
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: cw.Stats.MAXIMUM,
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });
    alarm(
      'OldestMessageAgeAlarm',
      'Events wait more than 5 minutes in the queue: the consumer is failing or too slow.',
      {
        metric: props.queue.metricApproximateAgeOfOldestMessage({
          period: Duration.minutes(5),
          statistic: cw.Stats.MAXIMUM,
        }),
        threshold: 300,
        evaluationPeriods: 2,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
      },
    );
    alarm('Receive5xxAlarm', 'The webhook answered 5xx: senders retry, but only a few times.', {
      metric: props.api.metricServerError({ period: Duration.minutes(5), statistic: cw.Stats.SUM }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });
    if (props.throttledRequests) {
      alarm(
        'ThrottledAlarm',
        'The API answered 429 (throttled) in the last 5 minutes: a sender over its route’s rate or a flood; senders retry 429 only a few times. The access logs name the route.',
        {
          metric: props.throttledRequests,
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: cw.TreatMissingData.NOT_BREACHING,
        },
      );
    }
    alarm(
      'ClientErrorRateAlarm',
      'Over half of at least 50 requests in 5 minutes were answered 4xx (refused or throttled): a sender with a wrong URL or secret, or a flood of unauthenticated traffic.',
      {
        metric: new cw.MathExpression({
          expression: 'IF(n >= 50, 100 * e / n, 0)',
          usingMetrics: {
            e: props.api.metricClientError({ period: Duration.minutes(5), statistic: cw.Stats.SUM }),
            n: props.api.metricCount({ period: Duration.minutes(5), statistic: cw.Stats.SUM }),
          },
          period: Duration.minutes(5),
          label: 'API 4xx (%)',
        }),
        threshold: 50,
        evaluationPeriods: 1,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
      },
    );
    alarm(
      'SignatureFailureRateAlarm',
      'Over half of at least 10 deliveries failed the signature check: a wrong secret, or someone probing.',
      {
        metric: new cw.MathExpression({
          expression: 'IF(f >= 10, 100 * f / (f + a + q), 0)',
          usingMetrics: {
            f: receive(METRIC.signatureFailures),
            a: receive(METRIC.accepted),
            q: receive(METRIC.quarantined),
          },
          period: Duration.minutes(5),
          label: 'Signature failures (%)',
        }),
        threshold: 50,
        evaluationPeriods: 1,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
      },
    );
    alarm(
      'ProcessingErrorsAlarm',
      'The consumer failed to store records; they are retried and then go to the DLQ.',
      {
        metric: new cw.MathExpression({
          expression: 'FILL(e, 0) + FILL(p, 0)',
          usingMetrics: {
            e: props.processFunction.metricErrors({ period: Duration.minutes(5) }),
            p: process(METRIC.processingFailures),
          },
          period: Duration.minutes(5),
          label: 'Processing errors',
        }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
      },
    );
    alarm(
      'SecretRefreshAlarm',
      'Reading the signing secret has failed for 15 minutes: the receive function verifies with its cached copy, or answers 503 without one.',
      {
        metric: receive(METRIC.secretRefreshFailures),
        threshold: 1,
        evaluationPeriods: 3,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
      },
    );
    alarm(
      'CounterRepairAlarm',
      'The counter repair has failed for 15 minutes: campaign counters may stay off until it runs again.',
      {
        metric: props.repairFunction.metricErrors({ period: Duration.minutes(5) }),
        threshold: 1,
        evaluationPeriods: 3,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
      },
    );
    alarm(
      'QuietSourceAlarm',
      `No event accepted for ${props.quietHours} hours: is the URL still set in the sender's console?`,
      {
        metric: receive(METRIC.accepted, Duration.hours(1)),
        threshold: 1,
        evaluationPeriods: props.quietHours,
        comparisonOperator: cw.ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: cw.TreatMissingData.BREACHING,
      },
    );

    if (props.alarmEmail) {
      this.topic = new sns.Topic(this, 'AlarmTopic', {
        enforceSSL: true,
        displayName: 'campaign-inbox alarms',
      });
      this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
      const action = new actions.SnsAction(this.topic);
      for (const created of this.alarms) {
        created.addAlarmAction(action);
        created.addOkAction(action);
      }
    }

    const perMinute = Duration.minutes(1);
    const eventNames = allProviders().flatMap((provider) => provider.events);
    this.dashboard = new cw.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    this.dashboard.addWidgets(
      new cw.GraphWidget({
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
              period: perMinute,
              label: event,
            }),
        ),
      }),
      new cw.GraphWidget({
        title: 'Stored, duplicates, quarantined',
        width: 12,
        left: [
          process(METRIC.stored, perMinute).with({ label: 'stored' }),
          process(METRIC.duplicates, perMinute).with({ label: 'duplicates' }),
          receive(METRIC.quarantined, perMinute).with({ label: 'quarantined' }),
        ],
      }),
      new cw.GraphWidget({
        title: 'Failures',
        width: 12,
        left: [
          receive(METRIC.signatureFailures, perMinute).with({ label: 'signature failures' }),
          receive(METRIC.queueFailures, perMinute).with({ label: 'queue failures (503)' }),
          process(METRIC.processingFailures, perMinute).with({ label: 'processing failures' }),
          props.api.metricServerError({ period: perMinute }).with({ label: 'API 5xx' }),
          props.api.metricClientError({ period: perMinute }).with({ label: 'API 4xx' }),
          ...(props.throttledRequests
            ? [props.throttledRequests.with({ period: perMinute, label: 'API 429 (throttled)' })]
            : []),
        ],
      }),
      new cw.GraphWidget({
        title: 'Receive latency (ms)',
        width: 12,
        left: [
          props.api
            .metricLatency({ period: perMinute, statistic: cw.Stats.percentile(50) })
            .with({ label: 'API p50' }),
          props.api
            .metricLatency({ period: perMinute, statistic: cw.Stats.percentile(99) })
            .with({ label: 'API p99' }),
          props.receiveFunction
            .metricDuration({ period: perMinute, statistic: cw.Stats.percentile(99) })
            .with({ label: 'function p99' }),
        ],
      }),
      new cw.GraphWidget({
        title: 'Queue depth',
        width: 12,
        left: [
          props.queue
            .metricApproximateNumberOfMessagesVisible({ period: perMinute })
            .with({ label: 'waiting' }),
          props.queue
            .metricApproximateNumberOfMessagesNotVisible({ period: perMinute })
            .with({ label: 'in flight' }),
          props.deadLetterQueue
            .metricApproximateNumberOfMessagesVisible({ period: perMinute })
            .with({ label: 'DLQ' }),
        ],
        right: [
          props.queue
            .metricApproximateAgeOfOldestMessage({ period: perMinute })
            .with({ label: 'oldest (s)' }),
        ],
      }),
      new cw.AlarmStatusWidget({ title: 'Alarms', width: 12, alarms: this.alarms }),
    );
  }
}
