/**
 * A stack holding the campaign dashboard construct next to the pieces it reads (an events queue and its DLQ,
 * the records table, the webhook API), synthesized without bundling: what the construct grants and passes for
 * delivery health, whether or not the queues are given to it.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { CfnQueue } from 'aws-cdk-lib/aws-sqs';
import { CampaignDashboard } from '../../infra/constructs/campaign-dashboard';
import { EventQueue } from '../../infra/constructs/event-queue';
import type { NodeFunction } from '../../infra/constructs/node-function';
import { ReceiverApi } from '../../infra/constructs/receiver-api';
import { RecordsTable } from '../../infra/constructs/records-table';

export interface HealthStackOptions {
  /** Give the construct the events queue and the DLQ (default `true`). */
  queues?: boolean;
  providers?: string[];
}

export function synthesizeDashboardStack(options: HealthStackOptions = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'DeliveryHealth', { env: { account: '123456789012', region: 'us-east-1' } });
  const events = new EventQueue(stack, 'Events', {
    consumerTimeout: Duration.seconds(30),
    maxReceiveCount: 5,
  });
  const records = new RecordsTable(stack, 'Records');
  const webhook = new lambda.Function(stack, 'Webhook', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 202 });'),
  });
  const api = new ReceiverApi(stack, 'Api', {
    handler: webhook,
    throttleRateLimit: 100,
    throttleBurstLimit: 200,
    logRetentionDays: 7,
  });
  const dashboard = new CampaignDashboard(stack, 'Dashboard', {
    api,
    records,
    users: [],
    shards: 1,
    recordRetentionDays: 30,
    logRetentionDays: 7,
    ...(options.queues === false ? {} : { queue: events.queue, deadLetterQueue: events.deadLetterQueue }),
    ...(options.providers ? { providers: options.providers } : {}),
  });
  const template = Template.fromStack(stack);
  const logicalId = (construct: { node: { defaultChild?: unknown } }) =>
    stack.resolve(stack.getLogicalId(construct.node.defaultChild as CfnQueue)) as string;
  const fn = dashboard.function as NodeFunction;
  return {
    app,
    stack,
    dashboard,
    template,
    resources: template.toJSON().Resources as Record<
      string,
      { Type: string; Properties: Record<string, unknown> }
    >,
    ids: {
      queue: logicalId(events.queue),
      deadLetterQueue: logicalId(events.deadLetterQueue),
      table: logicalId(records.table),
      function: logicalId(fn.function),
      role: logicalId(fn.role),
    },
  };
}
