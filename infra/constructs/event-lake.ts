import { Aws, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { LAKE_QUERIES, lakeQueryText } from '../../lib/lake/lake-queries';
import { LAKE_COLUMNS, LAKE_PARTITION_COLUMNS, LAKE_TABLE_NAME } from '../../lib/lake/lake-row';
import { NodeFunction } from './node-function';

/** What can be chosen about the lake (`lake: true` takes every default). */
export interface EventLakeOptions {
  /**
   * Seconds Firehose gathers rows before it commits them to the table (0 to 900, default 300): fewer, larger
   * files and commits with a longer wait, rows queryable sooner with a shorter one.
   */
  bufferSeconds?: number;
  /** The Glue database's name (letters, digits, underscores); default: the stack's name, then `_lake`. */
  databaseName?: string;
  /** Days the transform function's and Firehose's logs are kept (default 30). */
  logRetentionDays?: number;
  /**
   * The configured providers' JSON (as `CUSTOM_PROVIDERS` holds it), so the transform knows which of their
   * event types each campaign counter counts.
   */
  customProviders?: string;
}

export interface EventLakeProps extends EventLakeOptions {
  /** The records table; its stream (new images) feeds the lake. */
  table: dynamodb.ITable;
}

/** Where the table's data and metadata live in the bucket, and where Athena writes its results. */
const TABLE_PREFIX = 'events/';
const ERRORS_PREFIX = 'errors/';
const RESULTS_PREFIX = 'athena-results/';

/** A Glue name from a stack name: Firehose and Glue take letters, digits and underscores, Athena lower case. */
const glueName = (name: string) =>
  `${name
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '')}_lake`;

/**
 * A lake for Athena, off the records table's stream: each first insert of an event (the stream's INSERTs of
 * event items; a duplicate delivery writes nothing, so it is never there) becomes one row of an Apache Iceberg
 * table catalogued in AWS Glue, partitioned by day and provider, written by Amazon Data Firehose into an S3
 * bucket of its own. A small function turns stream records into rows (`lib/lake/lake-row.ts`, the same mapping
 * the local sink uses); Athena named queries in a workgroup of the lake's reproduce `events stats` and the
 * dashboard's breakdowns over any range.
 *
 * ```ts
 * new EventLake(this, 'Lake', { table: inbox.records.table });
 * ```
 *
 * Cost, at us-east-1 list prices: Firehose bills rows delivered to Iceberg by the GB ingested (about 560 bytes a
 * row), some $0.04 per million events; the transform, a few hundred to a thousand rows per invocation, under
 * $0.002 per million (the stream's reads are free). Stored as zstd Parquet, about 35 bytes a row: under $0.001
 * per million events per month in S3, where DynamoDB keeps them for $0.42. Each commit (every `bufferSeconds`)
 * writes a few S3 objects: some $0.20 a month whatever the traffic.
 */
export class EventLake extends Construct {
  readonly bucket: s3.Bucket;
  readonly database: glue.CfnDatabase;
  readonly table: glue.CfnTable;
  readonly deliveryStream: firehose.CfnDeliveryStream;
  readonly transform: NodeFunction;
  readonly workGroup: athena.CfnWorkGroup;
  readonly namedQueries: athena.CfnNamedQuery[];
  /** Where stream batches that kept failing are described (to look at, then replay by hand). */
  readonly failures: sqs.Queue;
  /** The Glue database's name, which Athena queries name the table in. */
  readonly databaseName: string;

  constructor(scope: Construct, id: string, props: EventLakeProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const logRetentionDays = props.logRetentionDays ?? 30;
    this.databaseName = props.databaseName ?? glueName(stack.stackName);
    const bufferSeconds = props.bufferSeconds ?? 300;
    // Firehose buffers an Iceberg destination for 0 to 900 seconds.
    if (!Number.isInteger(bufferSeconds) || bufferSeconds < 0 || bufferSeconds > 900) {
      throw new Error(`lake bufferSeconds must be a whole number from 0 to 900, not ${bufferSeconds}`);
    }
    // Firehose takes a database name of letters, digits, dots and underscores; Athena reads names in lower case.
    if (!/^[a-z0-9_]{1,255}$/.test(this.databaseName)) {
      throw new Error(
        `lake databaseName must be lower-case letters, digits and underscores, not ${JSON.stringify(this.databaseName)}`,
      );
    }

    this.bucket = this.addBucket();
    const { database, table } = this.addCatalog();
    this.database = database;
    this.table = table;
    this.deliveryStream = this.addDeliveryStream(table, bufferSeconds, logRetentionDays);
    const { transform, failures } = this.addTransform(props, logRetentionDays);
    this.transform = transform;
    this.failures = failures;
    const { workGroup, namedQueries } = this.addQueries();
    this.workGroup = workGroup;
    this.namedQueries = namedQueries;
  }

  /** The lake's bucket: private, encrypted, TLS only, kept when the stack goes. */
  private addBucket(): s3.Bucket {
    const bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      // The lake is a copy users query and may have built on: it outlives the stack, like the records table.
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        // Query results and refused rows are working files, not the lake; the table's files are never expired
        // by age (an Iceberg table would lose files its metadata still names).
        { prefix: RESULTS_PREFIX, expiration: Duration.days(30) },
        { prefix: ERRORS_PREFIX, expiration: Duration.days(90) },
        { abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
    Validations.of(bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Only Firehose writes here and only Athena reads, through the roles and workgroup of this construct; CloudTrail records their API calls, and a log bucket would cost more than the lake.',
    });
    return bucket;
  }

  /** The Glue database and its Iceberg table, the lake row as its schema, partitioned by day and provider. */
  private addCatalog(): { database: glue.CfnDatabase; table: glue.CfnTable } {
    const database = new glue.CfnDatabase(this, 'Database', {
      catalogId: Aws.ACCOUNT_ID,
      databaseInput: {
        name: this.databaseName,
        description: 'Stored webhook events, one row per first insert',
      },
    });
    const fieldId = (name: string) => LAKE_COLUMNS.findIndex((column) => column.name === name) + 1;
    const table = new glue.CfnTable(this, 'Table', {
      catalogId: Aws.ACCOUNT_ID,
      databaseName: this.databaseName,
      tableInput: { name: LAKE_TABLE_NAME, tableType: 'EXTERNAL_TABLE' },
      openTableFormatInput: {
        icebergInput: {
          metadataOperation: 'CREATE',
          version: '2',
          icebergTableInput: {
            location: this.bucket.s3UrlForObject(TABLE_PREFIX.slice(0, -1)),
            schema: {
              type: 'struct',
              fields: LAKE_COLUMNS.map((column, i) => ({
                id: i + 1,
                name: column.name,
                type: column.type,
                required: column.required,
                doc: column.doc,
              })),
            },
            partitionSpec: {
              specId: 0,
              fields: LAKE_PARTITION_COLUMNS.map((name, i) => ({
                name,
                sourceId: fieldId(name),
                transform: 'identity',
                fieldId: 1000 + i,
              })),
            },
            properties: {
              'write.parquet.compression-codec': 'zstd',
              // Firehose commits every buffering interval, and each commit writes a new metadata file and
              // snapshot: old metadata files are dropped as new ones come, snapshots expire after a week
              // (the shipped `vacuum` query removes them and the files only they named).
              'write.metadata.delete-after-commit.enabled': 'true',
              'write.metadata.previous-versions-max': '100',
              'history.expire.max-snapshot-age-ms': String(7 * 24 * 3600 * 1000),
            },
          },
        },
      },
    });
    table.node.addDependency(database);
    return { database, table };
  }

  /** Firehose into the Iceberg table, append only, with its logs and a role that reaches the lake only. */
  private addDeliveryStream(
    table: glue.CfnTable,
    bufferSeconds: number,
    logRetentionDays: number,
  ): firehose.CfnDeliveryStream {
    const stack = Stack.of(this);
    const firehoseLogs = new logs.LogGroup(this, 'DeliveryLogs', {
      retention: logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const firehoseLogStream = new logs.LogStream(this, 'DeliveryLogStream', {
      logGroup: firehoseLogs,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const catalogArn = stack.formatArn({ service: 'glue', resource: 'catalog' });
    const deliveryRole = this.addDeliveryRole(catalogArn, firehoseLogs);

    const deliveryStream = new firehose.CfnDeliveryStream(this, 'DeliveryStream', {
      deliveryStreamType: 'DirectPut',
      deliveryStreamEncryptionConfigurationInput: { keyType: 'AWS_OWNED_CMK' },
      icebergDestinationConfiguration: {
        // Rows are first inserts, never updates or deletes: Firehose then scales its throughput by itself.
        appendOnly: true,
        roleArn: deliveryRole.roleArn,
        catalogConfiguration: { catalogArn },
        destinationTableConfigurationList: [
          {
            destinationDatabaseName: this.databaseName,
            destinationTableName: LAKE_TABLE_NAME,
            s3ErrorOutputPrefix: ERRORS_PREFIX,
          },
        ],
        bufferingHints: { intervalInSeconds: bufferSeconds, sizeInMBs: 128 },
        retryOptions: { durationInSeconds: 3600 },
        s3BackupMode: 'FailedDataOnly',
        s3Configuration: {
          bucketArn: this.bucket.bucketArn,
          roleArn: deliveryRole.roleArn,
          errorOutputPrefix: ERRORS_PREFIX,
        },
        cloudWatchLoggingOptions: {
          enabled: true,
          logGroupName: firehoseLogs.logGroupName,
          logStreamName: firehoseLogStream.logStreamName,
        },
      },
    });
    deliveryStream.node.addDependency(deliveryRole);
    deliveryStream.node.addDependency(table);
    return deliveryStream;
  }

  /** Firehose's role: the lake's table in Glue, the lake's bucket and its own log group, nothing else. */
  private addDeliveryRole(catalogArn: string, firehoseLogs: logs.LogGroup): iam.Role {
    const stack = Stack.of(this);
    const deliveryRole = new iam.Role(this, 'DeliveryRole', {
      assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com', {
        conditions: { StringEquals: { 'sts:ExternalId': Aws.ACCOUNT_ID } },
      }),
    });
    const tableArn = stack.formatArn({
      service: 'glue',
      resource: 'table',
      resourceName: `${this.databaseName}/${LAKE_TABLE_NAME}`,
    });
    deliveryRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['glue:GetTable', 'glue:GetDatabase', 'glue:UpdateTable'],
        resources: [
          catalogArn,
          stack.formatArn({ service: 'glue', resource: 'database', resourceName: this.databaseName }),
          tableArn,
        ],
      }),
    );
    deliveryRole.addToPolicy(
      new iam.PolicyStatement({
        actions: [
          's3:AbortMultipartUpload',
          's3:GetBucketLocation',
          's3:GetObject',
          's3:ListBucket',
          's3:ListBucketMultipartUploads',
          's3:PutObject',
          's3:DeleteObject',
        ],
        resources: [this.bucket.bucketArn, this.bucket.arnForObjects('*')],
      }),
    );
    deliveryRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:PutLogEvents'],
        resources: [firehoseLogs.logGroupArn],
      }),
    );
    // cdk-nag names this finding after the bucket's logical id, which depends on where the construct sits.
    const bucketId = stack.resolve(stack.getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket));
    Validations.of(deliveryRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/*]`,
      reason:
        "Firehose writes data and metadata files under names it makes at run time (the table's data/ and metadata/ under events/, failed rows under errors/), so its role reaches the lake bucket's objects, and no other bucket.",
    });
    return deliveryRole;
  }

  /** The transform from the table's stream (first inserts of event items) to Firehose, and its failures queue. */
  private addTransform(
    props: EventLakeProps,
    logRetentionDays: number,
  ): { transform: NodeFunction; failures: sqs.Queue } {
    // The transform's code lives with the lake's domain (the row mapping it shares with the local sink).
    const transform = new NodeFunction(this, 'Transform', {
      name: 'write-lake-rows',
      timeout: Duration.seconds(60),
      memorySize: 256,
      logRetentionDays,
      environment: {
        DELIVERY_STREAM_NAME: this.deliveryStream.ref,
        ...(props.customProviders ? { CUSTOM_PROVIDERS: props.customProviders } : {}),
      },
    });
    transform.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['firehose:PutRecordBatch'],
        resources: [this.deliveryStream.attrArn],
      }),
    );
    Validations.of(transform.role).acknowledge({
      id: 'AwsSolutions-IAM5',
      reason:
        "logs:CreateLogStream/PutLogEvents on the function's own log group; its streams are created at run time, hence log-group:<name>:*. The stream's read actions are the event source mapping's, on the table's stream.",
    });
    const failures = new sqs.Queue(this, 'Failures', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(failures).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue is itself the dead-letter destination of the lake's stream mapping: it describes the batches that kept failing.",
    });
    transform.function.addEventSource(
      new DynamoEventSource(props.table, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        // Many rows per call: the function's cost is per invocation, the stream's reads are free.
        batchSize: 1000,
        maxBatchingWindow: Duration.seconds(30),
        bisectBatchOnError: true,
        retryAttempts: 10,
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(failures),
        filters: [
          lambda.FilterCriteria.filter({
            eventName: lambda.FilterRule.isEqual('INSERT'),
            dynamodb: { NewImage: { kind: { S: lambda.FilterRule.isEqual('event') } } },
          }),
        ],
      }),
    );
    return { transform, failures };
  }

  /** The workgroup and the shipped named queries. */
  private addQueries(): { workGroup: athena.CfnWorkGroup; namedQueries: athena.CfnNamedQuery[] } {
    const stack = Stack.of(this);
    const workGroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: `${stack.stackName}-lake`,
      description: 'Queries of the webhook event lake',
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: {
          outputLocation: this.bucket.s3UrlForObject(RESULTS_PREFIX),
          encryptionConfiguration: { encryptionOption: 'SSE_S3' },
        },
      },
    });
    const namedQueries = LAKE_QUERIES.map((query) => {
      const named = new athena.CfnNamedQuery(this, `Query-${query.name}`, {
        name: query.name,
        description: query.description,
        database: this.databaseName,
        workGroup: workGroup.ref,
        queryString: lakeQueryText(query),
      });
      named.node.addDependency(workGroup, this.database);
      return named;
    });
    return { workGroup, namedQueries };
  }
}

/**
 * The lake behind its option: `undefined` or `false` adds nothing, `true` adds it with every default, an object
 * adds it with those options.
 */
export function addEventLake(
  scope: Construct,
  table: dynamodb.ITable,
  option: boolean | EventLakeOptions | undefined,
  defaults: EventLakeOptions = {},
): EventLake | undefined {
  if (!option) return undefined;
  return new EventLake(scope, 'Lake', { ...defaults, ...(option === true ? {} : option), table });
}
