import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { CampaignInboxStack, type CampaignInboxStackProps } from '../../infra/campaign-inbox-stack';
import { DEFAULT_CONFIG, type InboxConfig, readConfig } from '../../infra/config';
import { CampaignInbox } from '../../infra/constructs/campaign-inbox';
import { providerNames } from '../../lib/providers';
import { RECORDS_TABLE } from '../../lib/table/records-table';

/** Synthesizes without bundling (no esbuild run) and without the slow built-in CloudFormation validation. */
function synth(overrides: Partial<InboxConfig> = {}, onEvent?: CampaignInboxStackProps['onEvent']) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new CampaignInboxStack(app, 'Test', { config: { ...DEFAULT_CONFIG, ...overrides }, onEvent });
  return { app, stack, template: Template.fromStack(stack) };
}

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };
function statementsOf(template: Template, roleLogicalIdPrefix: string): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.entries(policies)
    .filter(([, policy]) =>
      (policy.Properties.Roles as { Ref: string }[]).some((role) => role.Ref.startsWith(roleLogicalIdPrefix)),
    )
    .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement as Statement[]);
}
const actionsOf = (statements: Statement[]) => statements.flatMap((s) => [s.Action].flat()).sort();

let template: Template;
let stack: Stack;
let app: App;

beforeAll(() => {
  ({ template, stack, app } = synth());
});

describe('CampaignInbox stack', () => {
  it('routes ANY /webhooks/{provider} (and its URL-token form) to the receive function, throttled and logged', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'ANY /webhooks/{provider}' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: 'ANY /webhooks/{provider}/{token}',
    });
    // Besides them, each served provider's two POST routes (test/infra/provider-routes.test.ts) and the
    // campaign dashboard's two routes (test/infra/dashboard.test.ts).
    template.resourceCountIs('AWS::ApiGatewayV2::Route', 4 + 2 * providerNames().length);
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('routeKey') },
    });
  });

  it('lets SORI take the URL-token route only when allowUnsigned is on', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ ALLOW_UNSIGNED: 'false' }) },
    });
    const { template: unsigned } = synth({ allowUnsigned: true });
    unsigned.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ ALLOW_UNSIGNED: 'true' }) },
    });
  });

  it('keeps raw bodies in a private, encrypted, TLS-only bucket that expires them with the records', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 365, Prefix: 'raw/' })] },
    });
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ RAW_BUCKET: Match.anyValue() }) },
    });
  });

  it('passes providers and per-provider authentication to the receive function, checked at synth', () => {
    const auth = { optimizely: { scheme: { kind: 'url-token' }, allowIps: ['193.169.180.1'] } };
    const { template: configured } = synth({ providers: ['sori', 'optimizely'], auth });
    configured.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ PROVIDERS: 'sori,optimizely', AUTH_CONFIG: JSON.stringify(auth) }),
      },
    });
    expect(() =>
      synth(readConfig({ tryGetContext: (key: string) => (key === 'auth' ? '{"acme":{}}' : undefined) })),
    ).toThrow();
    expect(() =>
      readConfig({ tryGetContext: (key: string) => (key === 'providers' ? 'sori,acme' : undefined) }),
    ).toThrow('acme');
  });

  it('passes the shard count and record retention to the process function and the outputs', () => {
    const { template: sharded } = synth({ shards: 8, recordRetentionDays: 30 });
    sharded.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ SHARDS: '8', RECORD_RETENTION_DAYS: '30' }) },
    });
    sharded.hasOutput('Shards', { Value: '8' });
  });

  it('applies configuration from context', () => {
    const config = readConfig({
      tryGetContext: (key: string) =>
        ({ throttleRateLimit: '7', dlqMaxReceiveCount: '9', allowUnsigned: 'false' })[key],
    });
    const { template: custom } = synth(config);
    custom.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: Match.objectLike({ ThrottlingRateLimit: 7 }),
    });
    custom.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 9 }),
    });
    expect(() =>
      readConfig({ tryGetContext: (key: string) => (key === 'batchSize' ? 'ten' : undefined) }),
    ).toThrow('batchSize');
  });

  it('runs all four functions (receive, process, counter repair, campaign dashboard) on ARM64 and the current Node runtime', () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function'));
    expect(functions).toHaveLength(4);
    for (const fn of functions) {
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
    }
  });

  it("logs JSON with Lambda's own START, END and REPORT lines off (system log level WARN)", () => {
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.LoggingConfig).toMatchObject({ LogFormat: 'JSON', SystemLogLevel: 'WARN' });
    }
  });

  it('keeps signing secrets out of environment variables', () => {
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      const variables = Object.keys(fn.Properties.Environment?.Variables ?? {});
      // The dashboard's token issuer, client id and key set are public values, not secrets.
      const PUBLIC = ['TOKEN_ISSUER', 'TOKEN_CLIENT_ID', 'TOKEN_JWKS_URL'];
      expect(variables.filter((name) => /SECRET_KEY|TOKEN/.test(name) && !PUBLIC.includes(name))).toEqual([]);
    }
  });

  it('runs the counter repair every minute, allowed to query only the index that lists claimed counters', () => {
    const [rule] = Object.values(template.findResources('AWS::Events::Rule'));
    expect(rule?.Properties.ScheduleExpression).toBe('rate(1 minute)');
    const target = rule?.Properties.Targets[0].Arn['Fn::GetAtt'][0];
    const repair = template.findResources('AWS::Lambda::Function')[target];
    expect(repair?.Properties.Environment.Variables.TABLE_NAME).toBeDefined();
    const policies = JSON.stringify(
      Object.values(template.findResources('AWS::IAM::Policy')).filter((policy) =>
        JSON.stringify(policy.Properties.Roles).includes(repair?.Properties.Role['Fn::GetAtt'][0]),
      ),
    );
    expect(policies).toContain('/index/gsi2');
    expect(policies).not.toContain('/index/*');
  });

  it('turns batch item failures on, batches of up to 100 gathered for up to 2 s, and bounded concurrency', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 2,
      ScalingConfig: { MaximumConcurrency: 20 },
    });
  });

  it('redrives to an encrypted DLQ kept 14 days, with a visibility timeout six times the consumer timeout', () => {
    const queues = template.findResources('AWS::SQS::Queue');
    const main = Object.values(queues).find((q) => q.Properties.RedrivePolicy);
    const dlq = Object.values(queues).find((q) => !q.Properties.RedrivePolicy);
    expect(main?.Properties.RedrivePolicy.maxReceiveCount).toBe(5);
    expect(dlq?.Properties.MessageRetentionPeriod).toBe(14 * 86_400);
    const [mapping] = Object.values(template.findResources('AWS::Lambda::EventSourceMapping'));
    const processFn = template.findResources('AWS::Lambda::Function')[mapping?.Properties.FunctionName.Ref];
    expect(main?.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * processFn?.Properties.Timeout);
    for (const queue of Object.values(queues)) expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    // enforceSSL: a deny on insecure transport for both queues.
    const denies = Object.values(template.findResources('AWS::SQS::QueuePolicy')).filter((policy) =>
      JSON.stringify(policy.Properties.PolicyDocument).includes('"aws:SecureTransport":"false"'),
    );
    expect(denies).toHaveLength(2);
  });

  it('keeps the records table safe: on-demand, PITR, deletion protection, retained, encrypted, TTL, indexes', () => {
    template.hasResource('AWS::DynamoDB::GlobalTable', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
        SSESpecification: Match.objectLike({ SSEEnabled: true }),
        Replicas: [
          Match.objectLike({
            DeletionProtectionEnabled: true,
            PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          }),
        ],
        GlobalSecondaryIndexes: Object.values(RECORDS_TABLE.indexes).map((index) =>
          Match.objectLike({
            IndexName: index.name,
            Projection: Match.objectLike({ ProjectionType: 'INCLUDE' }),
          }),
        ),
      }),
    });
  });

  it('grants the receive function only SendMessage on its queue, reading its secret, raw bodies and its logs', () => {
    const statements = statementsOf(template, 'InboxReceiveRole');
    expect(actionsOf(statements)).toEqual([
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      's3:PutObject',
      'secretsmanager:GetSecretValue',
      'sqs:SendMessage',
    ]);
    const put = statements.find((s) => s.Action === 's3:PutObject');
    expect(JSON.stringify(put?.Resource)).toContain('/raw/*');
    const send = statements.find((s) => s.Action === 'sqs:SendMessage');
    expect(JSON.stringify(send?.Resource)).toMatch(/InboxEventsQueue/);
  });

  it('grants the process function only item writes and reads on the table (no index ARNs) besides consuming the queue and sending to its DLQ', () => {
    const statements = statementsOf(template, 'InboxProcessRole');
    expect(actionsOf(statements)).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'sqs:ChangeMessageVisibility',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:ReceiveMessage',
      'sqs:SendMessage',
    ]);
    const send = statements.find((s) => [s.Action].flat().includes('sqs:SendMessage'));
    expect(JSON.stringify(send?.Resource)).toContain('DeadLetter');
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ DLQ_URL: Match.anyValue(), TABLE_NAME: Match.anyValue() }),
      },
    });
    const table = statements.find((s) => [s.Action].flat().includes('dynamodb:PutItem'));
    expect(JSON.stringify(table?.Resource)).not.toContain('index');
    expect(JSON.stringify(table?.Resource)).not.toContain('*');
  });

  it('alarms on the DLQ, message age, 5xx, signature failures, processing errors, secret reads, the counter repair and a quiet source', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    const descriptions = alarms.map((alarm) => String(alarm.Properties.AlarmDescription));
    for (const words of [
      'DLQ',
      '5 minutes in the queue',
      '5xx',
      'signature check',
      'consumer failed',
      'Reading the signing secret has failed',
      'counter repair has failed',
      'No event accepted for 24 hours',
    ]) {
      expect(descriptions.some((description) => description.includes(words))).toBe(true);
    }
    template.resourceCountIs('AWS::SNS::Topic', 0);
  });

  it('notifies the alarm e-mail through an SNS topic when one is configured', () => {
    const { template: withEmail } = synth({ alarmEmail: 'ops@example.com' });
    withEmail.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
    for (const alarm of Object.values(withEmail.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toHaveLength(1);
    }
  });

  it('has a dashboard and the outputs the docs and scripts rely on', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    for (const output of [
      'WebhookUrl',
      'EventsTableName',
      'SigningSecretArn',
      'DashboardUrl',
      'QueueUrl',
      'DeadLetterQueueUrl',
    ]) {
      template.hasOutput(output, {});
    }
    expect(JSON.stringify(template.toJSON().Outputs.WebhookUrl.Value)).toContain('/webhooks/sori');
  });
});

describe('CampaignInbox in a stack of its user', () => {
  it('adds, with addOutputs(), every output the command-line tools read with --stack', () => {
    const userApp = new App({
      context: { 'aws:cdk:bundling-stacks': [] },
      builtinCloudFormationValidation: false,
    });
    const userStack = new Stack(userApp, 'Theirs');
    new CampaignInbox(userStack, 'Webhooks', {}).addOutputs();
    const outputs = Object.keys(Template.fromStack(userStack).toJSON().Outputs ?? {});
    expect(outputs.sort()).toEqual(
      [
        'CampaignDashboardUrl',
        'DashboardUserPoolClientId',
        'DashboardUserPoolId',
        'DeadLetterQueueUrl',
        'EventsTableName',
        'QueueUrl',
        'RecordRetentionDays',
        'Shards',
        'SigningSecretArn',
        'WebhookUrl',
      ].sort(),
    );
  });
});

describe('reactions (onEvent)', () => {
  const REACTION = { module: 'test/fixtures/on-event.ts', events: ['campaign.click'], providers: ['sori'] };

  it("feeds the user's function first inserts of the chosen event types from the table's stream, retried, split and then parked on failure", () => {
    const { template: reacting } = synth({}, REACTION);
    reacting.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
    });
    const mappings = Object.values(reacting.findResources('AWS::Lambda::EventSourceMapping')).filter(
      (mapping) => mapping.Properties.StartingPosition === 'LATEST',
    );
    expect(mappings).toHaveLength(1);
    const mapping = mappings[0]?.Properties;
    expect(mapping).toMatchObject({
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: { OnFailure: { Destination: expect.anything() } },
    });
    expect(JSON.parse(mapping?.FilterCriteria.Filters[0].Pattern)).toEqual({
      eventName: ['INSERT'],
      dynamodb: {
        NewImage: { kind: { S: ['event'] }, event: { S: ['campaign.click'] }, provider: { S: ['sori'] } },
      },
    });
    reacting.hasOutput('OnEventFailuresQueueUrl', {});
  });

  it('adds nothing when no module is given', () => {
    expect(
      Object.values(template.findResources('AWS::Lambda::EventSourceMapping')).filter(
        (mapping) => mapping.Properties.StartingPosition === 'LATEST',
      ),
    ).toEqual([]);
  });

  it('reports no unacknowledged cdk-nag finding with a reaction', () => {
    const { app: reactingApp, stack: reactingStack } = synth({}, REACTION);
    expect(new AwsSolutionsChecks(reactingApp).validateScope(reactingStack).violations).toEqual([]);
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('reports no unacknowledged finding', () => {
    const report = new AwsSolutionsChecks(app).validateScope(stack);
    expect(
      report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.resourceLogicalId)}`),
    ).toEqual([]);
  });

  it('does report findings: an insecure queue added next to the inbox is caught', () => {
    const { app: control, stack: controlStack } = synth();
    new Queue(controlStack, 'Insecure', { encryption: QueueEncryption.UNENCRYPTED });
    const rules = new AwsSolutionsChecks(control)
      .validateScope(controlStack)
      .violations.map((v) => v.ruleName);
    expect(rules).toEqual(expect.arrayContaining(['AwsSolutions-SQS3', 'AwsSolutions-SQS4']));
  });

  it('reports no unacknowledged finding when the construct is used alone in a user stack', () => {
    const userApp = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const userStack = new Stack(userApp, 'UserStack');
    new CampaignInbox(userStack, 'Inbox');
    expect(new AwsSolutionsChecks(userApp).validateScope(userStack).violations).toEqual([]);
  });

  it('reports no unacknowledged finding with every option on', () => {
    const { app: full, stack: fullStack } = synth({ alarmEmail: 'ops@example.com', allowUnsigned: true });
    expect(new AwsSolutionsChecks(full).validateScope(fullStack).violations).toEqual([]);
  });
});
