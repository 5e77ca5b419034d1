import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { CampaignInboxStack } from '../../infra/campaign-inbox-stack';
import { DEFAULT_CONFIG } from '../../infra/config';
import { CampaignInbox } from '../../infra/constructs/campaign-inbox';
import { addEventLake, type EventLakeOptions } from '../../infra/constructs/event-lake';
import { RecordsTable } from '../../infra/constructs/records-table';
import { LAKE_QUERIES, lakeQueryText } from '../../lib/lake/lake-queries';
import { LAKE_COLUMNS, LAKE_TABLE_NAME } from '../../lib/lake/lake-row';

/**
 * A stack holding the records table as the inbox deploys it, and the lake behind its option as the inbox would
 * add it (`lake?: boolean | EventLakeOptions`). Synthesized without bundling and without the slow validation.
 */
function synth(option: boolean | EventLakeOptions | undefined) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'LakeTest');
  const records = new RecordsTable(stack, 'Records');
  const lake = addEventLake(stack, records.table, option);
  return { app, stack, lake, template: Template.fromStack(stack) };
}

const LAKE_TYPES = [
  'AWS::KinesisFirehose::DeliveryStream',
  'AWS::Glue::Database',
  'AWS::Glue::Table',
  'AWS::Athena::WorkGroup',
  'AWS::Athena::NamedQuery',
  'AWS::S3::Bucket',
];

let template: Template;
let stack: Stack;
let app: App;

beforeAll(() => {
  ({ template, stack, app } = synth(true));
});

describe('the event lake', () => {
  it('adds nothing without its option, or with it off', () => {
    for (const option of [undefined, false]) {
      const { template: none, lake } = synth(option);
      expect(lake).toBeUndefined();
      for (const type of LAKE_TYPES) none.resourceCountIs(type, 0);
      expect(Object.keys(none.findResources('AWS::Lambda::EventSourceMapping'))).toEqual([]);
    }
  });

  it('is not in the inbox stack by default', () => {
    const inboxApp = new App({
      context: { 'aws:cdk:bundling-stacks': [] },
      builtinCloudFormationValidation: false,
    });
    const inbox = Template.fromStack(new CampaignInboxStack(inboxApp, 'Inbox', { config: DEFAULT_CONFIG }));
    for (const type of LAKE_TYPES.filter((t) => t !== 'AWS::S3::Bucket')) inbox.resourceCountIs(type, 0);
  });

  it('creates an Iceberg table in Glue with the lake row as its schema, partitioned by day and provider', () => {
    template.hasResourceProperties('AWS::Glue::Database', {
      DatabaseInput: { Name: 'laketest_lake' },
    });
    const tables = Object.values(template.findResources('AWS::Glue::Table'));
    expect(tables).toHaveLength(1);
    const table = tables[0]?.Properties;
    expect(table.TableInput.Name).toBe(LAKE_TABLE_NAME);
    const iceberg = table.OpenTableFormatInput.IcebergInput;
    expect(iceberg.MetadataOperation).toBe('CREATE');
    expect(iceberg.Version).toBe('2');
    const fields = iceberg.IcebergTableInput.Schema.Fields as { Id: number; Name: string; Type: string }[];
    expect(fields.map((field) => [field.Id, field.Name, field.Type])).toEqual(
      LAKE_COLUMNS.map((column, i) => [i + 1, column.name, column.type]),
    );
    // Each commit's metadata file is not kept for ever, nor are snapshots.
    expect(iceberg.IcebergTableInput.Properties).toMatchObject({
      'write.metadata.delete-after-commit.enabled': 'true',
      'write.metadata.previous-versions-max': '100',
      'history.expire.max-snapshot-age-ms': '604800000',
    });
    const idOf = (name: string) => fields.find((field) => field.Name === name)?.Id;
    expect(iceberg.IcebergTableInput.PartitionSpec.Fields).toEqual([
      { Name: 'day', SourceId: idOf('day'), Transform: 'identity', FieldId: 1000 },
      { Name: 'provider', SourceId: idOf('provider'), Transform: 'identity', FieldId: 1001 },
    ]);
  });

  it("numbers the app column after every earlier column, so the deployed table's field ids stay where they were", () => {
    const table = Object.values(template.findResources('AWS::Glue::Table'))[0]?.Properties;
    const fields = table.OpenTableFormatInput.IcebergInput.IcebergTableInput.Schema.Fields as {
      Id: number;
      Name: string;
      Type: string;
      Required: boolean;
    }[];
    expect(fields.slice(0, 2).map((field) => [field.Id, field.Name])).toEqual([
      [1, 'id'],
      [2, 'provider'],
    ]);
    expect(fields.find((field) => field.Name === 'metadata')?.Id).toBe(20);
    expect(fields.at(-1)).toMatchObject({ Id: 21, Name: 'app', Type: 'string', Required: false });
  });

  it('delivers through Firehose into that table: append only, encrypted, failed rows kept in the bucket', () => {
    template.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 1);
    template.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
      DeliveryStreamType: 'DirectPut',
      DeliveryStreamEncryptionConfigurationInput: { KeyType: 'AWS_OWNED_CMK' },
      IcebergDestinationConfiguration: Match.objectLike({
        AppendOnly: true,
        CatalogConfiguration: {
          CatalogArn: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(':catalog$')])] },
        },
        DestinationTableConfigurationList: [
          Match.objectLike({
            DestinationDatabaseName: 'laketest_lake',
            DestinationTableName: LAKE_TABLE_NAME,
          }),
        ],
        BufferingHints: { IntervalInSeconds: 300, SizeInMBs: 128 },
        // CloudFormation spells this one property of the Iceberg destination in lower camel case.
        s3BackupMode: 'FailedDataOnly',
        S3Configuration: Match.objectLike({ ErrorOutputPrefix: 'errors/' }),
      }),
    });
  });

  it("takes its options: the buffering interval, the database name, the configured providers' counters", () => {
    const customProviders = JSON.stringify([{ name: 'acme' }]);
    const { template: tuned } = synth({ bufferSeconds: 900, databaseName: 'my_events', customProviders });
    tuned.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ CUSTOM_PROVIDERS: customProviders }) },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.not(Match.objectLike({ CUSTOM_PROVIDERS: Match.anyValue() })) },
    });
    tuned.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
      IcebergDestinationConfiguration: Match.objectLike({
        BufferingHints: { IntervalInSeconds: 900, SizeInMBs: 128 },
        DestinationTableConfigurationList: [Match.objectLike({ DestinationDatabaseName: 'my_events' })],
      }),
    });
    tuned.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: { Name: 'my_events' } });
  });

  it('refuses a buffering interval Firehose does not take and a database name Firehose or Athena cannot read', () => {
    expect(() => synth({ bufferSeconds: 901 })).toThrow(/bufferSeconds must be a whole number from 0 to 900/);
    expect(() => synth({ bufferSeconds: 1.5 })).toThrow(/bufferSeconds/);
    expect(() => synth({ databaseName: 'My-Events' })).toThrow(/databaseName must be lower-case/);
    expect(() => synth({ bufferSeconds: 0, databaseName: 'events_2' })).not.toThrow();
  });

  it('lets Firehose touch only its table, its bucket and its log group', () => {
    const role = Object.entries(template.findResources('AWS::IAM::Role')).find(([, r]) =>
      JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('firehose.amazonaws.com'),
    );
    expect(role).toBeDefined();
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((policy) => JSON.stringify(policy.Properties.Roles).includes(role?.[0] ?? '?'))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as { Action: string | string[] }[]);
    expect(statements.flatMap((s) => [s.Action].flat()).sort()).toEqual(
      [
        'glue:GetDatabase',
        'glue:GetTable',
        'glue:UpdateTable',
        'logs:PutLogEvents',
        's3:AbortMultipartUpload',
        's3:DeleteObject',
        's3:GetBucketLocation',
        's3:GetObject',
        's3:ListBucket',
        's3:ListBucketMultipartUploads',
        's3:PutObject',
      ].sort(),
    );
    expect(JSON.stringify(role?.[1].Properties.AssumeRolePolicyDocument)).toContain('sts:ExternalId');
  });

  it('feeds the transform from the table stream with first inserts of event items only, in large batches', () => {
    const mappings = Object.values(template.findResources('AWS::Lambda::EventSourceMapping'));
    expect(mappings).toHaveLength(1);
    const mapping = mappings[0]?.Properties;
    expect(mapping.EventSourceArn).toEqual({
      'Fn::GetAtt': [expect.stringMatching(/^Records/), 'StreamArn'],
    });
    expect(mapping.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(mapping.BatchSize).toBe(1000);
    expect(mapping.MaximumBatchingWindowInSeconds).toBe(30);
    expect(mapping.DestinationConfig.OnFailure.Destination).toBeDefined();
    expect(mapping.FilterCriteria.Filters.map((f: { Pattern: string }) => JSON.parse(f.Pattern))).toEqual([
      { eventName: ['INSERT'], dynamodb: { NewImage: { kind: { S: ['event'] } } } },
    ]);
  });

  it('lets the transform put records into its delivery stream and nowhere else', () => {
    const fn = Object.entries(template.findResources('AWS::Lambda::Function')).find(
      ([, f]) => f.Properties.Environment?.Variables?.DELIVERY_STREAM_NAME,
    );
    expect(fn).toBeDefined();
    expect(fn?.[1].Properties.Environment.Variables.DELIVERY_STREAM_NAME).toEqual({
      Ref: expect.stringMatching(/DeliveryStream/),
    });
    const roleRef = fn?.[1].Properties.Role['Fn::GetAtt'][0];
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((policy) => JSON.stringify(policy.Properties.Roles).includes(roleRef))
      .flatMap(
        (policy) =>
          policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
      );
    const firehoseStatements = statements.filter((s) =>
      [s.Action].flat().some((a) => a.startsWith('firehose:')),
    );
    expect(firehoseStatements).toEqual([
      expect.objectContaining({
        Action: 'firehose:PutRecordBatch',
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/DeliveryStream/), 'Arn'] },
      }),
    ]);
  });

  it('ships each query as an Athena named query of its workgroup (engine 3, results encrypted), text as in the repository', () => {
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: 'LakeTest-lake',
      WorkGroupConfiguration: Match.objectLike({
        EnforceWorkGroupConfiguration: true,
        EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' },
        ResultConfiguration: Match.objectLike({ EncryptionConfiguration: { EncryptionOption: 'SSE_S3' } }),
      }),
    });
    const named = Object.values(template.findResources('AWS::Athena::NamedQuery')).map((q) => q.Properties);
    expect(named.map((q) => q.Name).sort()).toEqual(LAKE_QUERIES.map((q) => q.name).sort());
    expect(named.map((q) => q.Name)).toEqual(
      expect.arrayContaining([
        'platform-breakdown',
        'country-breakdown',
        'material-breakdown',
        'app-breakdown',
      ]),
    );
    for (const query of LAKE_QUERIES) {
      const found = named.find((q) => q.Name === query.name);
      expect(found.QueryString).toBe(lakeQueryText(query));
      expect(found.Database).toBe('laketest_lake');
      expect(found.WorkGroup).toEqual({ Ref: expect.stringMatching(/WorkGroup/) });
    }
  });

  it('keeps its bucket private, encrypted, TLS only, and retained with the stack deleted', () => {
    const buckets = template.findResources('AWS::S3::Bucket');
    expect(Object.keys(buckets)).toHaveLength(1);
    const bucket = Object.values(buckets)[0];
    expect(bucket?.DeletionPolicy).toBe('Retain');
    expect(bucket?.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('reports no unacknowledged cdk-nag AwsSolutions finding', () => {
    const report = new AwsSolutionsChecks(app).validateScope(stack);
    expect(
      report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.resourceLogicalId)}`),
    ).toEqual([]);
  });
});

describe('the lake beside the whole inbox', () => {
  it('adds no unacknowledged cdk-nag finding when added inside the inbox construct, on its records table', () => {
    const userApp = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const userStack = new Stack(userApp, 'UserStack');
    const inbox = new CampaignInbox(userStack, 'Inbox');
    expect(addEventLake(inbox, inbox.records.table, true)).toBeDefined();
    const report = new AwsSolutionsChecks(userApp).validateScope(userStack);
    expect(
      report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.resourceLogicalId)}`),
    ).toEqual([]);
    Template.fromStack(userStack).resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 1);
  });
});

describe('the records table the lake reads', () => {
  it('has a stream of new images', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
    });
  });
});
