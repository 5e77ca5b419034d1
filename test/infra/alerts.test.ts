import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import {
  Alerts,
  type AlertsOptions,
  alertedProviders,
  alertsOptions,
  parseAlertsConfig,
} from '../../infra/constructs/alerts';
import { RecordsTable } from '../../infra/constructs/records-table';
import { METRIC, METRICS_NAMESPACE, RECEIVE_SERVICE } from '../../lib/metrics';
import { parseCustomProviders } from '../../lib/providers/declarative';
import { sori } from '../../lib/providers/sori';
import { RECORDS_TABLE } from '../../lib/table/records-table';

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
type Query = {
  Id: string;
  Expression?: string;
  ReturnData?: boolean;
  MetricStat?: {
    Metric: { MetricName: string; Namespace: string; Dimensions: { Name: string; Value: string }[] };
  };
};

const SORI = {
  name: 'sori',
  events: ['campaign.impression', 'campaign.click', 'authentication'],
};
const SYMPHONY = { name: 'symphony', events: ['campaign.created', 'campaign.completed'] };
const SLACK = { workspaceId: 'T01ABCDEF', channelId: 'C0123456789' };
const TEAMS = {
  teamId: '6f0b2b2a-1c1d-4e4f-9a9b-0c0d0e0f1a1b',
  channelId: '19%3ab6ef35dc342d56ba5654e6fc6d25a071%40thread.tacv2',
  tenantId: '0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d',
};

/** A test stack: the alarms' topic, the records table, a DLQ, and the alerts given `options`. */
function synth(options: (parts: { records: RecordsTable; dlq: sqs.Queue }) => AlertsOptions = () => ({})) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'AlertsTest', { env: { account: '123456789012', region: 'eu-west-1' } });
  const topic = new sns.Topic(stack, 'AlarmTopic', { enforceSSL: true });
  const records = new RecordsTable(stack, 'Records');
  const dlq = new sqs.Queue(stack, 'Dlq', { enforceSSL: true });
  const alerts = new Alerts(stack, 'Alerts', {
    topic,
    providers: [SORI, SYMPHONY],
    ...options({ records, dlq }),
  });
  const template = Template.fromStack(stack);
  const id = (construct: { node: { defaultChild?: unknown } }) =>
    stack.resolve(stack.getLogicalId(construct.node.defaultChild as never)) as string;
  return { app, stack, template, alerts, ids: { topic: id(topic), table: id(records.table), dlq: id(dlq) } };
}

/** The digest option of the test stack. */
const digest = ({ records, dlq }: { records: RecordsTable; dlq: sqs.Queue }) => ({
  digest: {
    table: records.table,
    shards: 2,
    recordRetentionDays: 30,
    logRetentionDays: 14,
    deadLetterQueue: dlq,
  },
});

/** Every statement of the policies attached to `roleId`, one `[action, resource]` pair per action. */
function grantsOf(template: Template, roleId: string) {
  const attached = (template.findResources('AWS::IAM::Role')[roleId]?.Properties.ManagedPolicyArns ?? []) as {
    Ref?: string;
  }[];
  const managed = Object.entries(template.findResources('AWS::IAM::ManagedPolicy'))
    .filter(([id]) => attached.some((arn) => arn.Ref === id))
    .map(([, policy]) => policy);
  const inline = Object.values(template.findResources('AWS::IAM::Policy')).filter((policy) =>
    (policy.Properties.Roles as { Ref: string }[] | undefined)?.some((r) => r.Ref === roleId),
  );
  return [...inline, ...managed]
    .flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
    .flatMap((statement) => [statement.Action].flat().map((action) => [action, statement.Resource] as const));
}

/** The one resource of `type` in the template. */
function onlyOf(template: Template, type: string) {
  const found = Object.values(template.findResources(type));
  expect(found, type).toHaveLength(1);
  return found[0] as { Properties: Record<string, unknown> };
}

/** The logical id an `Fn::GetAtt` names. */
const getAttId = (value: unknown) => (value as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];

const countOf = (template: Template, type: string) => Object.keys(template.findResources(type)).length;

describe('the Alerts construct without options', () => {
  it('adds nothing: no chat configuration, alarm, anomaly model, function, schedule or role', () => {
    const { template } = synth();
    for (const type of [
      'AWS::Chatbot::SlackChannelConfiguration',
      'AWS::Chatbot::MicrosoftTeamsChannelConfiguration',
      'AWS::CloudWatch::Alarm',
      'AWS::CloudWatch::AnomalyDetector',
      'AWS::Lambda::Function',
      'AWS::Scheduler::Schedule',
      'AWS::IAM::Role',
      'AWS::IAM::ManagedPolicy',
    ]) {
      expect(countOf(template, type), type).toBe(0);
    }
  });
});

describe('each option alone', () => {
  const TYPES = {
    chat: [
      'AWS::Chatbot::SlackChannelConfiguration',
      'AWS::Chatbot::MicrosoftTeamsChannelConfiguration',
      'AWS::IAM::ManagedPolicy',
    ],
    traffic: ['AWS::CloudWatch::Alarm', 'AWS::CloudWatch::AnomalyDetector'],
    digest: ['AWS::Lambda::Function', 'AWS::Scheduler::Schedule', 'AWS::Logs::LogGroup'],
  };
  it.each([
    ['slack', 'chat', () => ({ slack: SLACK })],
    ['teams', 'chat', () => ({ teams: TEAMS })],
    ['traffic', 'traffic', () => ({ traffic: {} })],
    ['digest', 'digest', digest],
  ] as const)('%s adds its own resources and none of the others', (_, own, option) => {
    const { template } = synth(option as (parts: { records: RecordsTable; dlq: sqs.Queue }) => AlertsOptions);
    for (const [part, types] of Object.entries(TYPES)) {
      const found = types.reduce((sum, type) => sum + countOf(template, type), 0);
      if (part === own) expect(found, part).toBeGreaterThan(0);
      else expect(found, `${part} resources with ${own}`).toBe(0);
    }
  });
});

describe('the chat option', () => {
  it("routes the alarms' topic to a Slack channel under a read-only guardrail, with a role that can read CloudWatch and nothing else", () => {
    const { template, ids } = synth(() => ({ slack: SLACK }));
    expect(countOf(template, 'AWS::Chatbot::MicrosoftTeamsChannelConfiguration')).toBe(0);
    const [config] = Object.values(template.findResources('AWS::Chatbot::SlackChannelConfiguration'));
    const props = config?.Properties;
    expect(props).toMatchObject({
      SlackWorkspaceId: SLACK.workspaceId,
      SlackChannelId: SLACK.channelId,
      SnsTopicArns: [{ Ref: ids.topic }],
      UserRoleRequired: false,
      LoggingLevel: 'ERROR',
    });
    // Without guardrails, AWS applies AdministratorAccess to what the channel's members may run.
    expect(props.GuardrailPolicies).toHaveLength(1);
    const guardrailId = (props.GuardrailPolicies[0] as { Ref: string }).Ref;
    const guardrail = template.findResources('AWS::IAM::ManagedPolicy')[guardrailId] as {
      Properties: { PolicyDocument: { Statement: Statement[] } };
    };
    const actions = (guardrail.Properties.PolicyDocument.Statement as Statement[]).flatMap((s) =>
      [s.Action].flat(),
    );
    expect(actions.sort()).toEqual(['cloudwatch:Describe*', 'cloudwatch:Get*', 'cloudwatch:List*']);
    expect(JSON.stringify(guardrail.Properties.PolicyDocument)).not.toContain('Deny');

    const roleId = (props.IamRoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({ Principal: { Service: 'chatbot.amazonaws.com' }, Action: 'sts:AssumeRole' }),
        ],
      },
    });
    const grants = grantsOf(template, roleId).map(([action]) => action);
    expect(grants.sort()).toEqual(['cloudwatch:Describe*', 'cloudwatch:Get*', 'cloudwatch:List*']);
    const role = template.findResources('AWS::IAM::Role')[roleId];
    expect(role?.Properties.ManagedPolicyArns ?? []).toEqual([{ Ref: guardrailId }]);
  });

  it("routes the alarms' topic to a Microsoft Teams channel under the same guardrail", () => {
    const { template, ids } = synth(() => ({ teams: TEAMS }));
    expect(countOf(template, 'AWS::Chatbot::SlackChannelConfiguration')).toBe(0);
    const [config] = Object.values(
      template.findResources('AWS::Chatbot::MicrosoftTeamsChannelConfiguration'),
    );
    expect(config?.Properties).toMatchObject({
      TeamId: TEAMS.teamId,
      TeamsChannelId: TEAMS.channelId,
      TeamsTenantId: TEAMS.tenantId,
      SnsTopicArns: [{ Ref: ids.topic }],
      UserRoleRequired: false,
      GuardrailPolicies: [{ Ref: expect.any(String) }],
    });
  });

  it('adds both channels with one role and one guardrail when both are given, each configuration named apart', () => {
    const { template } = synth(() => ({ slack: SLACK, teams: TEAMS }));
    expect(countOf(template, 'AWS::Chatbot::SlackChannelConfiguration')).toBe(1);
    expect(countOf(template, 'AWS::Chatbot::MicrosoftTeamsChannelConfiguration')).toBe(1);
    expect(countOf(template, 'AWS::IAM::Role')).toBe(1);
    expect(countOf(template, 'AWS::IAM::ManagedPolicy')).toBe(1);
    const names = [
      ...Object.values(template.findResources('AWS::Chatbot::SlackChannelConfiguration')),
      ...Object.values(template.findResources('AWS::Chatbot::MicrosoftTeamsChannelConfiguration')),
    ].map((config) => config.Properties.ConfigurationName as string);
    expect(new Set(names).size).toBe(2);
    for (const name of names) expect(name).toMatch(/^[A-Za-z0-9_-]{1,128}$/);
  });

  it.each([
    [{ slack: { ...SLACK, workspaceId: '' } }, 'slack.workspaceId'],
    [{ slack: { ...SLACK, workspaceId: 't01-lower' } }, 'slack.workspaceId'],
    [{ slack: { ...SLACK, channelId: '#alerts' } }, 'slack.channelId'],
    [{ teams: { ...TEAMS, teamId: 'my team' } }, 'teams.teamId'],
    [{ teams: { ...TEAMS, tenantId: '1234' } }, 'teams.tenantId'],
    [{ teams: { ...TEAMS, channelId: '19:abc@thread.tacv2' } }, 'teams.channelId'],
  ])('refuses a malformed chat setting, naming the field (%j)', (option, field) => {
    expect(() => synth(() => option as AlertsOptions)).toThrow(field);
  });
});

/** The anomaly alarms of the template, by provider and direction. */
function trafficAlarms(template: Template) {
  return Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((alarm) => {
    const props = alarm.Properties;
    const queries = props.Metrics as Query[];
    return { props, queries };
  });
}

describe('the traffic option', () => {
  it('adds, per provider served, a "dropped" alarm below and a "spiked" alarm above the anomaly band of its accepted deliveries', () => {
    const { template } = synth(() => ({ traffic: {} }));
    const alarms = trafficAlarms(template);
    expect(alarms).toHaveLength(4);
    for (const provider of [SORI, SYMPHONY]) {
      const own = alarms.filter(({ props }) => String(props.AlarmDescription).includes(`${provider.name}'s`));
      expect(own.map(({ props }) => props.ComparisonOperator).sort()).toEqual([
        'GreaterThanUpperThreshold',
        'LessThanLowerThreshold',
      ]);
      for (const { props, queries } of own) {
        const band = queries.find((q) => q.Expression?.startsWith('ANOMALY_DETECTION_BAND('));
        expect(band?.Expression).toBe('ANOMALY_DETECTION_BAND(m0, 3)');
        expect(props.ThresholdMetricId).toBe(band?.Id);
        expect(queries.find((q) => q.Id === 'm0')?.Expression).toBe(
          `FILL(SUM([${provider.events.map((_, i) => `e${i}`).join(', ')}]), 0)`,
        );
        // Exactly the provider's own event types, as the receive function counts them.
        const metrics = queries.filter((q) => q.MetricStat).map((q) => q.MetricStat?.Metric);
        expect(metrics).toEqual(
          provider.events.map((event) => ({
            MetricName: `${METRIC.accepted}.${event}`,
            Namespace: METRICS_NAMESPACE,
            Dimensions: [{ Name: 'service', Value: RECEIVE_SERVICE }],
          })),
        );
        for (const q of queries.filter((q) => q.MetricStat))
          expect(q).toMatchObject({ MetricStat: { Period: 900, Stat: 'Sum' } });
        expect(props).toMatchObject({
          EvaluationPeriods: 4,
          DatapointsToAlarm: 3,
          // A quiet provider at night has no data points: nothing to judge, no page.
          TreatMissingData: 'notBreaching',
        });
      }
    }
  });

  it("notifies the alarms' topic when a traffic alarm fires and when it clears", () => {
    const { template, ids } = synth(() => ({ traffic: {} }));
    for (const { props } of trafficAlarms(template)) {
      expect(props.AlarmActions).toEqual([{ Ref: ids.topic }]);
      expect(props.OKActions).toEqual([{ Ref: ids.topic }]);
    }
  });

  it('trains one anomaly model per provider on the same series the alarms read, in the configured time zone, before the alarms', () => {
    const { template } = synth(() => ({ traffic: { timeZone: 'Asia/Tokyo' } }));
    const detectors = template.findResources('AWS::CloudWatch::AnomalyDetector');
    expect(Object.keys(detectors)).toHaveLength(2);
    for (const [detectorId, detector] of Object.entries(detectors)) {
      const queries = detector.Properties.MetricMathAnomalyDetector.MetricDataQueries as Query[];
      const series = queries.find((q) => q.ReturnData);
      expect(series?.Id).toBe('m0');
      expect(queries.filter((q) => q.ReturnData)).toHaveLength(1);
      expect(detector.Properties.Configuration).toEqual({ MetricTimeZone: 'Asia/Tokyo' });
      const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter((alarm) =>
        (alarm.DependsOn as string[] | undefined)?.includes(detectorId),
      );
      expect(alarms).toHaveLength(2);
      for (const alarm of alarms) {
        const alarmQueries = (alarm.Properties.Metrics as Query[]).filter(
          (q) => !q.Expression?.startsWith('ANOMALY'),
        );
        const shape = (list: Query[]) =>
          list
            .map(({ Id, Expression, MetricStat }) => ({ Id, Expression, MetricStat }))
            .sort((a, b) => a.Id.localeCompare(b.Id));
        expect(shape(alarmQueries)).toEqual(shape(queries));
      }
    }
  });

  it('reads one metric per provider when the receive function counts accepted deliveries with a provider dimension', () => {
    const { template } = synth(() => ({ traffic: { providerDimension: 'provider' } }));
    const alarms = trafficAlarms(template);
    expect(alarms).toHaveLength(4);
    const sori = alarms.find(({ props }) => String(props.AlarmDescription).includes("sori's"));
    expect(sori?.queries.find((q) => q.Id === 'm0')?.Expression).toBe('FILL(a, 0)');
    expect(sori?.queries.find((q) => q.Id === 'a')?.MetricStat?.Metric).toEqual({
      MetricName: METRIC.accepted,
      Namespace: METRICS_NAMESPACE,
      Dimensions: [
        { Name: 'provider', Value: 'sori' },
        { Name: 'service', Value: RECEIVE_SERVICE },
      ],
    });
  });

  it('takes a band width, a period and how many periods must breach', () => {
    const { template } = synth(() => ({
      traffic: { stdDevs: 2.5, period: Duration.hours(1), evaluationPeriods: 3, datapointsToAlarm: 2 },
    }));
    for (const { props, queries } of trafficAlarms(template)) {
      expect(queries.find((q) => q.Expression?.startsWith('ANOMALY'))?.Expression).toBe(
        'ANOMALY_DETECTION_BAND(m0, 2.5)',
      );
      expect(props).toMatchObject({ EvaluationPeriods: 3, DatapointsToAlarm: 2 });
      for (const q of queries.filter((q) => q.MetricStat))
        expect(q).toMatchObject({ MetricStat: { Period: 3600 } });
    }
  });

  it.each([
    [{ stdDevs: 0 }, 'traffic.stdDevs'],
    [{ datapointsToAlarm: 5 }, 'traffic.datapointsToAlarm'],
    [{ period: Duration.seconds(90) }, 'traffic.period'],
    [{ period: Duration.hours(1), evaluationPeriods: 25 }, 'traffic.evaluationPeriods'],
    [{ timeZone: 'Mars/Olympus' }, 'traffic.timeZone'],
  ])('refuses a traffic setting out of range, naming it (%j)', (traffic, field) => {
    expect(() => synth(() => ({ traffic }))).toThrow(field);
  });

  it('refuses a provider whose deliveries it cannot count apart: no declared event type, or one another provider declares too', () => {
    const app = new App();
    const stack = new Stack(app, 'Refused');
    const topic = new sns.Topic(stack, 'Topic');
    expect(
      () =>
        new Alerts(stack, 'NoEvents', { topic, providers: [{ name: 'custom', events: [] }], traffic: {} }),
    ).toThrow(/custom.*no event type/);
    expect(
      () =>
        new Alerts(stack, 'Shared', {
          topic,
          providers: [SORI, { name: 'copycat', events: ['campaign.click'] }],
          traffic: {},
        }),
    ).toThrow(/campaign\.click.*sori.*copycat/);
  });
});

describe('the digest option', () => {
  it('runs a function every day at 01:00 UTC by default, through a schedule that may only invoke it', () => {
    const { template } = synth(digest);
    expect(countOf(template, 'AWS::Lambda::Function')).toBe(1);
    const [fnId] = Object.keys(template.findResources('AWS::Lambda::Function'));
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 1 * * ? *)',
      ScheduleExpressionTimezone: 'Etc/UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: Match.objectLike({ Arn: { 'Fn::GetAtt': [fnId, 'Arn'] } }),
    });
    const schedule = onlyOf(template, 'AWS::Scheduler::Schedule');
    const schedulerRole = getAttId((schedule.Properties.Target as { RoleArn: unknown }).RoleArn);
    expect(grantsOf(template, schedulerRole).map(([action]) => action)).toEqual(['lambda:InvokeFunction']);
  });

  it('takes another schedule and time zone', () => {
    const { template } = synth((parts) => ({
      digest: { ...digest(parts).digest, schedule: 'cron(0 9 * * ? *)', timeZone: 'Asia/Tokyo' },
    }));
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 9 * * ? *)',
      ScheduleExpressionTimezone: 'Asia/Tokyo',
    });
  });

  it('tells the function the table, the topic, the providers and where delivery health is read', () => {
    const { template, ids } = synth(digest);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Environment: {
        Variables: Match.objectLike({
          TABLE_NAME: { Ref: ids.table },
          SHARDS: '2',
          RECORD_RETENTION_DAYS: '30',
          TOPIC_ARN: { Ref: ids.topic },
          PROVIDERS: 'sori,symphony',
          METRICS_NAMESPACE: METRICS_NAMESPACE,
          RECEIVE_METRICS_SERVICE: RECEIVE_SERVICE,
          DLQ_URL: { Ref: ids.dlq },
        }),
      },
    });
  });

  it("grants the function reads of the table, publishing to the alarms' topic, the DLQ's counts and metric reads, and nothing else", () => {
    const { template, ids } = synth(digest);
    const roleId = getAttId(onlyOf(template, 'AWS::Lambda::Function').Properties.Role);
    const grants = grantsOf(template, roleId).map(
      ([action, resource]) => `${action} ${JSON.stringify(resource)}`,
    );
    const table = { 'Fn::GetAtt': [ids.table, 'Arn'] };
    const index = {
      'Fn::Join': ['', [table, `/index/${RECORDS_TABLE.indexes.byTypeAndDay.name}`]],
    };
    expect(grants.filter((g) => !g.startsWith('logs:')).sort()).toEqual(
      [
        `cloudwatch:GetMetricData "*"`,
        `dynamodb:BatchGetItem ${JSON.stringify(table)}`,
        `dynamodb:GetItem ${JSON.stringify(table)}`,
        `dynamodb:Query ${JSON.stringify(table)}`,
        `dynamodb:Query ${JSON.stringify(index)}`,
        `sns:Publish ${JSON.stringify({ Ref: ids.topic })}`,
        `sqs:GetQueueAttributes ${JSON.stringify({ 'Fn::GetAtt': [ids.dlq, 'Arn'] })}`,
      ].sort(),
    );
    expect(
      grants
        .filter((g) => g.startsWith('logs:'))
        .map((g) => g.split(' ')[0])
        .sort(),
    ).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
  });

  it('refuses a schedule that is not a cron() or rate() expression, naming the field', () => {
    expect(() => synth((parts) => ({ digest: { ...digest(parts).digest, schedule: '0 1 * * *' } }))).toThrow(
      'digest.schedule',
    );
  });
});

describe('the Alerts construct with every option', () => {
  it('has no unacknowledged cdk-nag AwsSolutions finding of its own', () => {
    const { app, stack } = synth((parts) => ({ slack: SLACK, teams: TEAMS, traffic: {}, ...digest(parts) }));
    const violations = new AwsSolutionsChecks(app)
      .validateScope(stack)
      .violations.flatMap((v) =>
        v.violatingResources
          .filter((r) => r.constructPath?.includes('/Alerts/'))
          .map((r) => `${v.ruleName} ${r.constructPath}`),
      );
    expect(violations).toEqual([]);
  });
});

describe('the alerts context value', () => {
  it('reads each part from cdk.json (an object) or -c (its JSON text)', () => {
    const value = {
      slack: SLACK,
      teams: TEAMS,
      traffic: {
        stdDevs: 2.5,
        periodMinutes: 30,
        evaluationPeriods: 4,
        datapointsToAlarm: 2,
        timeZone: 'Asia/Tokyo',
      },
      digest: { schedule: 'cron(0 9 * * ? *)', timeZone: 'Asia/Tokyo' },
    };
    expect(parseAlertsConfig(value)).toEqual(value);
    expect(parseAlertsConfig(JSON.stringify(value))).toEqual(value);
    expect(parseAlertsConfig({ traffic: true, digest: true })).toEqual({ traffic: {}, digest: {} });
    expect(parseAlertsConfig({})).toEqual({});
  });

  it.each([
    ['{not json', 'alerts must be'],
    [{ slak: SLACK }, 'alerts.slak'],
    [{ slack: { ...SLACK, channel: 'x' } }, 'alerts.slack.channel'],
    [{ slack: { workspaceId: 'T01' } }, 'alerts.slack.channelId'],
    [{ traffic: { periodMinutes: '15' } }, 'alerts.traffic.periodMinutes'],
    [{ digest: { schedule: 7 } }, 'alerts.digest.schedule'],
    [{ digest: false }, 'alerts.digest'],
  ])('refuses a malformed alerts value, naming the key (%j)', (value, key) => {
    expect(() => parseAlertsConfig(value)).toThrow(key);
  });

  it('turns into the construct options, the digest given the stack parts it reads', () => {
    const { template } = synth(({ records, dlq }) =>
      alertsOptions(parseAlertsConfig({ slack: SLACK, traffic: { periodMinutes: 30 }, digest: true }), {
        table: records.table,
        shards: 1,
        recordRetentionDays: 0,
        logRetentionDays: 7,
        deadLetterQueue: dlq,
      }),
    );
    expect(countOf(template, 'AWS::Chatbot::SlackChannelConfiguration')).toBe(1);
    expect(countOf(template, 'AWS::CloudWatch::Alarm')).toBe(4);
    for (const { queries } of trafficAlarms(template))
      for (const q of queries.filter((q) => q.MetricStat))
        expect(q).toMatchObject({ MetricStat: { Period: 1800 } });
    expect(countOf(template, 'AWS::Scheduler::Schedule')).toBe(1);
  });
});

describe('the providers alerted', () => {
  it('are the providers served, built-in or configured, each with the event types it declares', () => {
    const parsed = parseCustomProviders([
      {
        name: 'acme-ads',
        scheme: 'hmac',
        header: 'x-acme-signature',
        algorithm: 'sha256',
        encoding: 'hex',
        fields: { id: 'event_id', time: 'occurred_at', event: 'type', campaign: 'data.campaign.id' },
        events: ['ad.viewed', 'ad.clicked'],
        counted: { impressions: ['ad.viewed'], clicks: ['ad.clicked'] },
      },
      {
        name: 'beacon',
        scheme: 'standard-webhooks',
        fields: { time: 'timestamp', event: 'type', campaign: 'data.campaign_id' },
        counted: { impressions: ['impression.recorded'], clicks: ['click.recorded'] },
      },
    ]);
    // Served by the stack's configuration, not by the synthesizing process: nothing is registered here.
    expect(alertedProviders(['sori', 'acme-ads', 'beacon'], parsed)).toEqual([
      { name: 'sori', events: sori.events },
      { name: 'acme-ads', events: ['ad.viewed', 'ad.clicked'] },
      { name: 'beacon', events: ['impression.recorded', 'click.recorded'] },
    ]);
    expect(() => alertedProviders(['nobody'], parsed)).toThrow('nobody');
  });
});
