import { Duration, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { RECORDS_TABLE } from '../../lib/table/records-table';
import { NodeFunction } from './node-function';

/** Where a replay may send events; each one given is granted, and a replay names one of them (`to`). */
export interface ReplayDestinations {
  /** `to: "eventbridge"`: events are put on this bus (`events:PutEvents` on it). */
  eventBus?: events.IEventBus;
  /** `to: "sqs"`: events are sent to this queue (`sqs:SendMessage`, and its key when it has one). */
  queue?: sqs.IQueue;
  /**
   * `to: "http"`: events are POSTed to this URL. Fixed here, never taken from the invocation: whoever may invoke
   * the function cannot make it call another address.
   */
  httpUrl?: string;
}

export interface EventReplayProps {
  /**
   * The records table the events are read from (`dynamodb:Query` on it and the two indexes a replay reads,
   * `dynamodb:BatchGetItem` on it for what an index finds).
   */
  table: dynamodb.ITableV2 | dynamodb.ITable;
  /** The table's layout, as the stack writes it: replays read every shard. */
  shards: number;
  destinations: ReplayDestinations;
  logRetentionDays: number;
  /** `CUSTOM_PROVIDERS` as the other functions get it, so a replay knows the configured providers' events. */
  customProviders?: string;
}

/** The function's timeout: Lambda's longest, so each leg makes the most of one invocation. */
const LEG_TIMEOUT = Duration.minutes(15);

/**
 * Replays the stored events of a time range to a destination, for the deployed stack: a function that pages
 * through the range and, before its time runs out, invokes itself asynchronously with the cursor it reached (the
 * invocation's payload is the checkpoint). Start one with an asynchronous invocation:
 *
 * ```sh
 * aws lambda invoke --function-name <ReplayFunctionName> --invocation-type Event \
 *   --cli-binary-format raw-in-base64-out \
 *   --payload '{"since":"2026-03-01","until":"2026-03-07","to":"eventbridge","provider":"sori"}' /dev/null
 * ```
 *
 * A leg that fails is tried twice more by Lambda from the cursor it started with; one that still fails is put,
 * payload and cursor included, on {@link failures}, from where invoking the function with the payload resumes it.
 *
 * Why a function that pages rather than a Step Functions distributed map: a distributed map reads its items from
 * S3 (or a state's output), not from a DynamoDB query, so the range would first have to be listed to S3 by a
 * function like this one; it bills each child execution's state transitions on top of the same Lambda time; and
 * its parallelism is of little use here, since the destinations (one HTTP endpoint, a reaction, a bus whose
 * targets have their own limits) are paced by what they take, not by how fast the table is read. Several ranges
 * can still be replayed at once: one invocation per range starts a chain of its own.
 */
export class EventReplay extends Construct {
  readonly function: NodeFunction;
  /** Legs Lambda gave up on, with their payloads (14 days). */
  readonly failures: sqs.Queue;

  constructor(scope: Construct, id: string, props: EventReplayProps) {
    super(scope, id);
    checkDestinations(props.destinations);
    this.function = new NodeFunction(this, 'Function', {
      name: 'replay-events',
      timeout: LEG_TIMEOUT,
      logRetentionDays: props.logRetentionDays,
      environment: replayEnvironment(props),
    });
    const role = this.function.role;
    grantTableReads(role, props.table);
    grantDestinations(role, props.destinations);
    // Its own ARN, in a policy of its own: in the role's default policy, which the function depends on, the
    // function's ARN would make a circular dependency.
    new iam.Policy(this, 'InvokeNextLeg', {
      roles: [role],
      statements: [
        new iam.PolicyStatement({
          actions: ['lambda:InvokeFunction'],
          resources: [this.function.function.functionArn],
        }),
      ],
    });
    this.failures = this.failureDestination();
    this.acknowledge();
  }

  /** The queue of the legs Lambda gave up on, set as the function's asynchronous failure destination. */
  private failureDestination(): sqs.Queue {
    const failures = new sqs.Queue(this, 'Failures', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.function.function.configureAsyncInvoke({
      retryAttempts: 2,
      // A leg waits in Lambda's queue at most this long; past it, it goes to the failures queue too.
      maxEventAge: Duration.hours(6),
      onFailure: new SqsDestination(failures),
    });
    return failures;
  }

  private acknowledge() {
    Validations.of(this.failures).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue is itself the failure destination of the replay function's asynchronous invocations: it keeps the legs Lambda gave up on.",
    });
    Validations.of(this.function.role).acknowledge({
      id: 'AwsSolutions-IAM5',
      reason:
        "logs:CreateLogStream/PutLogEvents on the function's own log group; its streams are created at run time, hence log-group:<name>:*.",
    });
  }
}

/** @throws when no destination is given, or the HTTP one is not an http(s) URL. */
function checkDestinations({ eventBus, queue, httpUrl }: ReplayDestinations): void {
  if (!eventBus && !queue && !httpUrl)
    throw new Error('EventReplay needs at least one destination (eventBus, queue or httpUrl)');
  if (httpUrl !== undefined && !/^https?:\/\//.test(httpUrl))
    throw new Error(`EventReplay's httpUrl must be an http(s) URL, not ${httpUrl}`);
}

/** The function's environment: the table, its layout, the destinations it may send to. */
function replayEnvironment(props: EventReplayProps): Record<string, string> {
  const { eventBus, queue, httpUrl } = props.destinations;
  return {
    TABLE_NAME: props.table.tableName,
    SHARDS: String(props.shards),
    REPLAY_DESTINATIONS: JSON.stringify({
      ...(eventBus ? { eventBusName: eventBus.eventBusName } : {}),
      ...(queue ? { queueUrl: queue.queueUrl } : {}),
      ...(httpUrl ? { httpUrl } : {}),
    }),
    ...(props.customProviders ? { CUSTOM_PROVIDERS: props.customProviders } : {}),
    POWERTOOLS_LOG_LEVEL: 'INFO',
  };
}

/**
 * The table and the indexes a replay reads: gsi3 (a type's events keyed by id, a day's campaigns) and gsi1 (a
 * campaign's events keyed by id). No write of any kind.
 */
function grantTableReads(role: iam.Role, table: EventReplayProps['table']): void {
  role.addToPolicy(
    new iam.PolicyStatement({
      actions: ['dynamodb:Query'],
      resources: [
        table.tableArn,
        `${table.tableArn}/index/${RECORDS_TABLE.indexes.byTypeAndDay.name}`,
        `${table.tableArn}/index/${RECORDS_TABLE.indexes.byCampaign.name}`,
      ],
    }),
  );
  // An event an index finds is read whole from the table: the index does not project every field.
  role.addToPolicy(
    new iam.PolicyStatement({ actions: ['dynamodb:BatchGetItem'], resources: [table.tableArn] }),
  );
}

/** What each destination given needs: the bus's PutEvents, the queue's SendMessage and its key. */
function grantDestinations(role: iam.Role, { eventBus, queue }: ReplayDestinations): void {
  if (eventBus)
    role.addToPolicy(
      new iam.PolicyStatement({ actions: ['events:PutEvents'], resources: [eventBus.eventBusArn] }),
    );
  if (!queue) return;
  role.addToPolicy(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn] }));
  // A producer of a queue under a KMS key needs, as SQS documents, kms:GenerateDataKey and kms:Decrypt on it.
  const key = queue.encryptionMasterKey;
  if (key)
    role.addToPolicy(
      new iam.PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [key.keyArn] }),
    );
}
