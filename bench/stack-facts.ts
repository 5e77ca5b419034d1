// What the deployed stack is, read from its synthesized template with the default settings (no bundling):
// the resources that cost money whatever the traffic, the event source's settings, the functions' memory, the
// access log format.
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CampaignInboxStack } from '../infra/campaign-inbox-stack';
import { DEFAULT_CONFIG } from '../infra/config';

type Resource = { Type: string; Properties?: Record<string, unknown> };

export type FunctionRole = 'Receive' | 'Process' | 'Repair';

export interface StackFacts {
  secrets: number;
  dashboards: number;
  kmsKeys: number;
  alarms: number;
  /** Metrics the alarms read: one per plain alarm, one per metric of a metric-math alarm. */
  alarmMetrics: number;
  /** Scheduled runs a month of each rule (`rate(1 minute)` → 43,800). */
  scheduledRunsPerMonth: number;
  /** The SQS event source: batch size, batching window (s), most invocations at once. */
  eventSource: { batchSize: number; windowSeconds: number; maxConcurrency: number };
  /**
   * Memory of each function, MB, by its role, found by what invokes it: `Receive` (the API's integration),
   * `Process` (the queue's event source), `Repair` (the schedule).
   */
  memoryMb: Record<FunctionRole, number>;
  /** One access log line as the stage writes it for a 202, bytes. */
  accessLogBytes: number;
  accessLogFormat: string;
}

const MINUTES_PER_MONTH = 730 * 60;

function rateMinutes(expression: string): number | undefined {
  const match = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (!match) return undefined;
  const n = Number(match[1]);
  const unit = match[2] ?? '';
  return unit.startsWith('minute') ? n : unit.startsWith('hour') ? n * 60 : n * 1440;
}

/** Typical values of the context variables an access log line holds, for a SORI delivery answered 202. */
const TYPICAL: Record<string, string> = {
  '$context.requestId': 'Hk3lqgXyoAMEJ_A=',
  '$context.requestTime': '14/Oct/2025:12:00:00 +0000',
  '$context.identity.sourceIp': '203.0.113.10',
  '$context.routeKey': 'ANY /webhooks/{provider}',
  '$context.status': '202',
  '$context.responseLength': '2',
  '$context.responseLatency': '14',
  '$context.integrationLatency': '12',
  '$context.integrationErrorMessage': '-',
};

/** The stack's template with the default settings, synthesized without bundling. */
export function synthesizeTemplate(): { Resources: Record<string, Resource> } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new CampaignInboxStack(app, 'Bench', { config: DEFAULT_CONFIG });
  return Template.fromStack(stack).toJSON() as { Resources: Record<string, Resource> };
}

/** What a synthesized template deploys (the default stack's when none is given). */
export function readStackFacts(template = synthesizeTemplate()): StackFacts {
  const resources = Object.entries(template.Resources);
  const ofType = (type: string) => resources.filter(([, resource]) => resource.Type === type);
  const alarms = ofType('AWS::CloudWatch::Alarm');
  const alarmMetrics = alarms.reduce((sum, [, alarm]) => {
    const metrics = alarm.Properties?.Metrics as Array<{ MetricStat?: unknown }> | undefined;
    return sum + (metrics ? metrics.filter((m) => m.MetricStat).length : 1);
  }, 0);
  const scheduled = ofType('AWS::Events::Rule').reduce((sum, [, rule]) => {
    const minutes = rateMinutes(String(rule.Properties?.ScheduleExpression ?? ''));
    return sum + (minutes ? MINUTES_PER_MONTH / minutes : 0);
  }, 0);
  const [, mapping] = ofType('AWS::Lambda::EventSourceMapping')[0] ?? [];
  // A function is referred to by `Ref` (its name) or `Fn::GetAtt [id, 'Arn']`.
  const target = (value: unknown): string | undefined => {
    const ref = value as { Ref?: string; 'Fn::GetAtt'?: [string, string] } | undefined;
    return ref?.Ref ?? ref?.['Fn::GetAtt']?.[0];
  };
  const [, integration] = ofType('AWS::ApiGatewayV2::Integration')[0] ?? [];
  const [, schedule] =
    ofType('AWS::Events::Rule').find(([, rule]) => rule.Properties?.ScheduleExpression) ?? [];
  const invoked: Record<FunctionRole, string | undefined> = {
    Receive: target(integration?.Properties?.IntegrationUri),
    Process: target(mapping?.Properties?.FunctionName),
    Repair: target((schedule?.Properties?.Targets as Array<{ Arn?: unknown }> | undefined)?.[0]?.Arn),
  };
  const functions = new Map(ofType('AWS::Lambda::Function'));
  const memoryMb = Object.fromEntries(
    Object.entries(invoked).map(([role, id]) => {
      const fn = id ? functions.get(id) : undefined;
      if (!fn) throw new Error(`the template has no ${role} function where the bench looks for it`);
      // Lambda's default when the template sets none.
      return [role, Number(fn.Properties?.MemorySize ?? 128)];
    }),
  ) as Record<FunctionRole, number>;
  const [, stage] = ofType('AWS::ApiGatewayV2::Stage')[0] ?? [];
  const format = String(
    (stage?.Properties?.AccessLogSettings as { Format?: string } | undefined)?.Format ?? '',
  );
  const line = format.replace(/\$context\.[A-Za-z.]+/g, (name) => TYPICAL[name] ?? '-');
  const scaling = mapping?.Properties?.ScalingConfig as { MaximumConcurrency?: number } | undefined;
  return {
    secrets: ofType('AWS::SecretsManager::Secret').length,
    dashboards: ofType('AWS::CloudWatch::Dashboard').length,
    kmsKeys: ofType('AWS::KMS::Key').length,
    alarms: alarms.length,
    alarmMetrics,
    scheduledRunsPerMonth: scheduled,
    eventSource: {
      batchSize: Number(mapping?.Properties?.BatchSize ?? 10),
      windowSeconds: Number(mapping?.Properties?.MaximumBatchingWindowInSeconds ?? 0),
      maxConcurrency: Number(scaling?.MaximumConcurrency ?? 1000),
    },
    memoryMb,
    accessLogBytes: Buffer.byteLength(`${line}\n`),
    accessLogFormat: format,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(readStackFacts());
}
