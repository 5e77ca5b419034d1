import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { CampaignInboxStack } from '../../infra/campaign-inbox-stack';
import { DEFAULT_CONFIG } from '../../infra/config';
import { CampaignInbox } from '../../infra/constructs/campaign-inbox';
import {
  addEventDestinations,
  type EventDestinationsOptions,
  INSERT_TEMPLATE,
} from '../../infra/constructs/event-destinations';
import { RecordsTable } from '../../infra/constructs/records-table';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { fromEventItem, toItem } from '../../lib/table/records-table';
import { soriPayload } from '../support/deliveries';

/**
 * A stack holding the records table as the inbox deploys it, and the destinations behind their option as the
 * inbox would add them (`destinations?: EventDestinationsOptions`). Synthesized without bundling and without
 * the slow validation.
 */
function synth(option: EventDestinationsOptions | undefined) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'DestinationsTest');
  const records = new RecordsTable(stack, 'Records');
  const destinations = addEventDestinations(stack, records.table, option);
  return { app, stack, destinations, template: Template.fromStack(stack) };
}

type Resource = { Properties: Record<string, unknown> & { Target?: unknown } };
const pipesOf = (template: Template) =>
  Object.values(template.findResources('AWS::Pipes::Pipe')) as unknown as {
    Properties: {
      Source: unknown;
      Target: unknown;
      RoleArn: unknown;
      SourceParameters: {
        FilterCriteria: { Filters: { Pattern: string }[] };
        DynamoDBStreamParameters: Record<string, unknown>;
      };
      TargetParameters: Record<string, unknown> & { InputTemplate: string };
    };
  }[];
const patternOf = (pipe: ReturnType<typeof pipesOf>[number]) =>
  pipe.Properties.SourceParameters.FilterCriteria.Filters.map((filter) => JSON.parse(filter.Pattern));
const ref = (template: Template, type: string) => {
  const ids = Object.keys(template.findResources(type));
  expect(ids).toHaveLength(1);
  return ids[0] as string;
};

describe('the built-in destinations of first inserts', () => {
  it('adds nothing without the option, or with one naming no destination', () => {
    for (const option of [undefined, {}]) {
      const { template, destinations } = synth(option);
      expect(destinations).toBeUndefined();
      for (const type of ['AWS::Pipes::Pipe', 'AWS::Events::EventBus', 'AWS::SQS::Queue', 'AWS::IAM::Role'])
        template.resourceCountIs(type, 0);
    }
  });

  it('is not in the inbox stack by default', () => {
    const app = new App({
      context: { 'aws:cdk:bundling-stacks': [] },
      builtinCloudFormationValidation: false,
    });
    const inbox = Template.fromStack(new CampaignInboxStack(app, 'Inbox', { config: DEFAULT_CONFIG }));
    inbox.resourceCountIs('AWS::Pipes::Pipe', 0);
    inbox.resourceCountIs('AWS::Events::EventBus', 0);
  });

  it('pipes the INSERTs of event items from the table stream to a new bus, as campaign-inbox events typed by the event type and timed by created_at', () => {
    const { template } = synth({ eventBridge: {} });
    template.resourceCountIs('AWS::Events::EventBus', 1);
    const bus = ref(template, 'AWS::Events::EventBus');
    const [pipe, ...others] = pipesOf(template);
    expect(others).toEqual([]);
    expect(pipe?.Properties.Source).toEqual(
      expect.objectContaining({ 'Fn::GetAtt': [expect.stringMatching(/^RecordsTable/), 'StreamArn'] }),
    );
    expect(pipe?.Properties.Target).toEqual({ 'Fn::GetAtt': [bus, 'Arn'] });
    expect(patternOf(pipe as never)).toEqual([
      { eventName: ['INSERT'], dynamodb: { NewImage: { kind: { S: ['event'] } } } },
    ]);
    expect(pipe?.Properties.TargetParameters).toEqual({
      InputTemplate: INSERT_TEMPLATE,
      EventBridgeEventBusParameters: {
        Source: 'campaign-inbox',
        DetailType: '$.dynamodb.NewImage.event.S',
        Time: '$.dynamodb.NewImage.created_at.S',
      },
    });
    // No SQS destination queue: only the pipes' failure queue.
    template.resourceCountIs('AWS::SQS::Queue', 1);
  });

  it('filters each destination by its own providers and event types', () => {
    const { template } = synth({
      eventBridge: { providers: ['sori'], types: ['campaign.click', 'campaign.impression'] },
      sqs: { types: ['auth.login'] },
    });
    const patterns = pipesOf(template).map(patternOf);
    expect(patterns).toHaveLength(2);
    expect(patterns).toContainEqual([
      {
        eventName: ['INSERT'],
        dynamodb: {
          NewImage: {
            kind: { S: ['event'] },
            provider: { S: ['sori'] },
            event: { S: ['campaign.click', 'campaign.impression'] },
          },
        },
      },
    ]);
    expect(patterns).toContainEqual([
      {
        eventName: ['INSERT'],
        dynamodb: { NewImage: { kind: { S: ['event'] }, event: { S: ['auth.login'] } } },
      },
    ]);
  });

  it('retries a refused batch, halves it, and describes what still fails in an encrypted failures queue', () => {
    const { template, destinations } = synth({ eventBridge: {}, sqs: {} });
    const failures = Template.fromStack(Stack.of(destinations?.failures as never)).toJSON().Resources;
    const failuresId = Object.keys(failures).find((id) => id.includes('Failures')) as string;
    for (const pipe of pipesOf(template)) {
      expect(pipe.Properties.SourceParameters.DynamoDBStreamParameters).toEqual({
        StartingPosition: 'LATEST',
        BatchSize: 10,
        MaximumRetryAttempts: 10,
        OnPartialBatchItemFailure: 'AUTOMATIC_BISECT',
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [failuresId, 'Arn'] } },
      });
    }
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 86_400,
    });
  });

  it('sends to a new queue with a dead-letter queue, the body being the same insert document as the bus detail', () => {
    const { template } = synth({ sqs: {} });
    template.resourceCountIs('AWS::Events::EventBus', 0);
    // The failures queue, the destination queue and its dead-letter queue.
    template.resourceCountIs('AWS::SQS::Queue', 3);
    const queues = template.findResources('AWS::SQS::Queue', {
      Properties: { RedrivePolicy: Match.objectLike({ maxReceiveCount: 5 }) },
    });
    const [queueId] = Object.keys(queues);
    const [pipe] = pipesOf(template);
    expect(pipe?.Properties.Target).toEqual({ 'Fn::GetAtt': [queueId, 'Arn'] });
    expect(pipe?.Properties.TargetParameters).toEqual({ InputTemplate: INSERT_TEMPLATE });
  });

  it('uses an existing bus by ARN or name, and an existing FIFO queue by ARN with a group per provider and the stream record as deduplication id', () => {
    const busArn = 'arn:aws:events:eu-west-1:123456789012:event-bus/analytics';
    const queueArn = 'arn:aws:sqs:eu-west-1:123456789012:fan-out.fifo';
    const { template } = synth({ eventBridge: { busName: busArn }, sqs: { queueArn } });
    template.resourceCountIs('AWS::Events::EventBus', 0);
    template.resourceCountIs('AWS::SQS::Queue', 1);
    const targets = pipesOf(template).map((pipe) => pipe.Properties.Target);
    expect(targets.sort()).toEqual([busArn, queueArn]);
    const fifo = pipesOf(template).find((pipe) => pipe.Properties.Target === queueArn);
    expect(fifo?.Properties.TargetParameters).toEqual({
      InputTemplate: INSERT_TEMPLATE,
      SqsQueueParameters: {
        MessageGroupId: '$.dynamodb.NewImage.provider.S',
        MessageDeduplicationId: '$.eventID',
      },
    });
    const byName = synth({ eventBridge: { busName: 'default' } }).template;
    const [pipe] = pipesOf(byName);
    expect(JSON.stringify(pipe?.Properties.Target)).toContain('event-bus/default');
  });

  it('refuses at synth a bus or queue that is not one, a blank provider or type, and a misspelt key', () => {
    expect(() => synth({ eventBridge: { busName: 'not a bus' } })).toThrow(/eventBridge\.busName/);
    expect(() => synth({ sqs: { queueArn: 'arn:aws:sns:eu-west-1:123456789012:topic' } })).toThrow(
      /sqs\.queueArn/,
    );
    expect(() => synth({ sqs: { providers: [''] } })).toThrow(/sqs\.providers/);
    expect(() => synth({ eventBridge: { types: ['campaign.click', ' '] } })).toThrow(/eventBridge\.types/);
    expect(() => synth({ eventbridge: {} } as never)).toThrow(
      'destinations has "eventbridge": only eventBridge, sqs are known',
    );
    expect(() => synth({ sqs: { provider: ['sori'] } } as never)).toThrow(
      'destinations.sqs has "provider": only queueArn, providers, types are known',
    );
  });

  it("gives each pipe a role only pipes of the account assume, reading the table's stream and writing only its target and the failures queue", () => {
    const { template } = synth({ eventBridge: {}, sqs: {} });
    const roles = template.findResources('AWS::IAM::Role');
    expect(Object.keys(roles)).toHaveLength(2);
    for (const role of Object.values(roles) as Resource[]) {
      expect(role.Properties.AssumeRolePolicyDocument).toEqual({
        Version: '2012-10-17',
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Principal: { Service: 'pipes.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          },
        ],
      });
    }
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (policy) =>
        (policy as { Properties: { PolicyDocument: { Statement: unknown[] } } }).Properties.PolicyDocument
          .Statement,
    ) as { Action: string | string[]; Resource: unknown }[];
    const actions = statements.flatMap((statement) => [statement.Action].flat());
    expect(new Set(actions)).toEqual(
      new Set([
        'dynamodb:DescribeStream',
        'dynamodb:GetRecords',
        'dynamodb:GetShardIterator',
        'dynamodb:ListStreams',
        'events:PutEvents',
        'sqs:SendMessage',
      ]),
    );
    for (const statement of statements) expect(JSON.stringify(statement.Resource)).not.toContain('"*"');
    for (const statement of statements.filter((s) => [s.Action].flat()[0]?.startsWith('dynamodb:')))
      expect(statement.Resource).toEqual({
        'Fn::GetAtt': [expect.stringMatching(/^RecordsTable/), 'StreamArn'],
      });
  });

  it('reports no unacknowledged cdk-nag AwsSolutions finding, alone or inside the inbox construct', () => {
    const { app, stack } = synth({ eventBridge: {}, sqs: {} });
    const report = new AwsSolutionsChecks(app).validateScope(stack);
    expect(
      report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.resourceLogicalId)}`),
    ).toEqual([]);
    const userApp = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const userStack = new Stack(userApp, 'UserStack');
    const inbox = new CampaignInbox(userStack, 'Inbox');
    expect(addEventDestinations(inbox, inbox.records.table, { eventBridge: {}, sqs: {} })).toBeDefined();
    const inboxReport = new AwsSolutionsChecks(userApp).validateScope(userStack);
    expect(
      inboxReport.violations.map(
        (v) => `${v.ruleName} ${v.violatingResources.map((r) => r.resourceLogicalId)}`,
      ),
    ).toEqual([]);
  });
});

describe('the insert document a pipe sends', () => {
  it("is JSON once its paths are filled with an event item's stream image, naming the record id, the origin, the fields every event has and the whole item, from which the stored record reads back", () => {
    const payload = soriPayload('impression');
    const body = JSON.stringify({
      ...payload,
      event: 'campaign.click',
      campaign: { ...(payload.campaign as object), name: 'Spring "sale" \\ 50%' },
    });
    const message = buildQueueMessage(sori, Buffer.from(body), '2026-03-01T10:15:01.000Z');
    if (message.kind !== 'event') throw new Error('not an event');
    const record = message.record;
    // The stream's JSON: binary attributes as base64 text.
    const image = JSON.parse(
      JSON.stringify(toItem(message), (_, value) =>
        value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value,
      ),
    ) as Record<string, AttributeValue>;
    // As Pipes fills it: a quoted path gets the string's escaped text, an unquoted one the JSON value.
    const filled = INSERT_TEMPLATE.replace(/"<\$\.dynamodb\.NewImage\.(\w+)\.S>"/g, (_, field: string) =>
      JSON.stringify(image[field]?.S),
    ).replace('<$.dynamodb.NewImage>', JSON.stringify(image));
    const document = JSON.parse(filled);
    expect(document).toEqual({
      record_id: record.id,
      origin: 'insert',
      record: {
        id: record.id,
        provider: record.provider,
        event: 'campaign.click',
        created_at: record.created_at,
        received_at: record.received_at,
      },
      item: image,
    });
    expect(fromEventItem(document.item)).toMatchObject(record);
    expect(fromEventItem(document.item).campaign_name).toBe('Spring "sale" \\ 50%');
  });
});
