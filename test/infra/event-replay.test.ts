import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { EventReplay, type ReplayDestinations } from '../../infra/constructs/event-replay';
import { RecordsTable } from '../../infra/constructs/records-table';

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

/** A test stack: the records table, a bus, a queue, and the replay construct given `destinations`. */
function synth(pick: (parts: { bus: events.EventBus; queue: sqs.Queue }) => ReplayDestinations) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'ReplayTest', { env: { account: '123456789012', region: 'eu-west-1' } });
  const records = new RecordsTable(stack, 'Records');
  const bus = new events.EventBus(stack, 'Bus');
  const queue = new sqs.Queue(stack, 'Target', {
    encryption: sqs.QueueEncryption.KMS,
    encryptionMasterKey: new kms.Key(stack, 'Key', { enableKeyRotation: true }),
    enforceSSL: true,
    deadLetterQueue: { queue: new sqs.Queue(stack, 'TargetDlq', { enforceSSL: true }), maxReceiveCount: 5 },
  });
  const replay = new EventReplay(stack, 'Replay', {
    table: records.table,
    shards: 4,
    destinations: pick({ bus, queue }),
    logRetentionDays: 30,
  });
  const template = Template.fromStack(stack);
  const id = (construct: { node: { defaultChild?: unknown } }) =>
    stack.resolve(stack.getLogicalId(construct.node.defaultChild as never)) as string;
  return {
    app,
    stack,
    template,
    replay,
    ids: {
      table: id(records.table),
      bus: id(bus),
      queue: id(queue),
      fn: id(replay.function.function),
      role: id(replay.function.role),
      failures: id(replay.failures),
    },
  };
}

/** The statements of every policy attached to `roleId`, as `[action, resource]` pairs. */
function grantsOf(template: Template, roleId: string) {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) => (policy.Properties.Roles as { Ref: string }[]).some((role) => role.Ref === roleId))
    .flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
    .flatMap((statement) => [statement.Action].flat().map((action) => [action, statement.Resource] as const));
}

describe('the EventReplay construct', () => {
  it('gives a function of 15 minutes the table, its layout and the destinations it may send to', () => {
    const { template, ids } = synth(({ bus, queue }) => ({
      eventBus: bus,
      queue,
      httpUrl: 'https://hooks.example.com/replay',
    }));
    template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 900,
      Runtime: 'nodejs24.x',
      Environment: {
        Variables: Match.objectLike({
          TABLE_NAME: { Ref: ids.table },
          SHARDS: '4',
          REPLAY_DESTINATIONS: {
            'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('"eventBusName":"'), { Ref: ids.bus }])],
          },
        }),
      },
    });
    const variables =
      template.findResources('AWS::Lambda::Function')[ids.fn]?.Properties.Environment.Variables;
    expect(JSON.stringify(variables.REPLAY_DESTINATIONS)).toContain(
      '"httpUrl\\":\\"https://hooks.example.com/replay\\"',
    );
  });

  it('may query the table and the two indexes a replay reads, batch-get from the table, put events on its bus, send to its queue and invoke itself, and nothing else', () => {
    const { template, ids } = synth(({ bus, queue }) => ({ eventBus: bus, queue }));
    const grants = grantsOf(template, ids.role).filter(([action]) => !action.startsWith('logs:'));
    const tableArn = { 'Fn::GetAtt': [ids.table, 'Arn'] };
    const index = (name: string) => ({ 'Fn::Join': ['', [tableArn, `/index/${name}`]] });
    expect(grants).toEqual(
      expect.arrayContaining([
        ['dynamodb:Query', [tableArn, index('gsi3'), index('gsi1')]],
        ['dynamodb:BatchGetItem', tableArn],
        ['events:PutEvents', { 'Fn::GetAtt': [ids.bus, 'Arn'] }],
        ['sqs:SendMessage', { 'Fn::GetAtt': [ids.queue, 'Arn'] }],
        ['lambda:InvokeFunction', { 'Fn::GetAtt': [ids.fn, 'Arn'] }],
      ]),
    );
    const actions = grants.map(([action]) => action);
    expect(actions.filter((action) => action.startsWith('dynamodb:')).sort()).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:Query',
    ]);
    expect(actions.filter((action) => action.startsWith('lambda:'))).toEqual(['lambda:InvokeFunction']);
    // The queue's key, for encrypting what it sends; the failures queue, Lambda's own destination.
    expect(actions.filter((action) => action.startsWith('kms:')).sort()).toEqual([
      'kms:Decrypt',
      'kms:GenerateDataKey',
    ]);
    expect(grants).toEqual(
      expect.arrayContaining([['sqs:SendMessage', { 'Fn::GetAtt': [ids.failures, 'Arn'] }]]),
    );
  });

  it('grants only the destinations it is given', () => {
    const { template, ids } = synth(() => ({ httpUrl: 'https://hooks.example.com/replay' }));
    const actions = grantsOf(template, ids.role).map(([action]) => action);
    expect(actions).not.toContain('events:PutEvents');
    expect(actions.filter((action) => action === 'sqs:SendMessage')).toHaveLength(1);
  });

  it('sends a leg Lambda gave up on, after two retries and at most 6 hours, to its failures queue', () => {
    const { template, ids } = synth(({ bus }) => ({ eventBus: bus }));
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: ids.fn },
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 21_600,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [ids.failures, 'Arn'] } } },
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      MessageRetentionPeriod: 1_209_600,
      SqsManagedSseEnabled: true,
    });
  });

  it('refuses to be built with no destination, or with an http URL that is not one', () => {
    expect(() => synth(() => ({}))).toThrow('at least one destination');
    expect(() => synth(() => ({ httpUrl: 'ftp://example.com' }))).toThrow('must be an http(s) URL');
  });

  it('reports no unacknowledged cdk-nag finding', () => {
    const { app, stack } = synth(({ bus, queue }) => ({
      eventBus: bus,
      queue,
      httpUrl: 'https://hooks.example.com/replay',
    }));
    const violations = new AwsSolutionsChecks(app).validateScope(stack).violations;
    expect(
      violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath)}`),
    ).toEqual([]);
  });
});
