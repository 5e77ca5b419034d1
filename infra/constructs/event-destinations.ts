import { Aws, Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as pipes from 'aws-cdk-lib/aws-pipes';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { EVENT_SOURCE } from '../../lib/destinations/eventbridge';
import { SIGNAL_NAMES, type SignalName } from '../../lib/signals/signal-names';
import { NOTICE_DETAIL_TYPE, NOTICE_FIELDS } from '../../lib/signals/signal-notices';
import { NOTICE_KIND, NOTICE_PARTITION_PREFIX } from '../../lib/table/notice-items';

/** Which first inserts a destination receives: all when a list is absent or empty. */
export interface DestinationFilter {
  /** Providers whose events are sent (`sori`, …); with `signals`, only their signals too. */
  providers?: string[];
  /**
   * Event types sent, as the provider names them (`campaign.click`, …). Signals are not events: this list never
   * filters them.
   */
  types?: string[];
  /**
   * Also the signal notices the fold writes (`campaign-inbox signal`, see `SignalNotice`): `true` for every
   * signal, or the signals wanted (`["click_bursts","high_ctr"]`). Off when absent, so that a destination's
   * targets receive nothing they were not written for.
   */
  signals?: boolean | SignalName[];
}

/** Every first insert put on an EventBridge bus. */
export interface EventBridgeDestinationOption extends DestinationFilter {
  /** An existing bus, by name (`default` is the account's) or ARN; without it, a new bus of the stack's. */
  busName?: string;
}

/** Every first insert sent to an SQS queue. */
export interface SqsDestinationOption extends DestinationFilter {
  /** An existing queue's ARN (standard or FIFO); without it, a new queue with a dead-letter queue. */
  queueArn?: string;
}

/** The built-in destinations of first inserts (`destinations` in the CDK context). */
export interface EventDestinationsOptions {
  eventBridge?: EventBridgeDestinationOption;
  sqs?: SqsDestinationOption;
}

export interface EventDestinationsProps extends EventDestinationsOptions {
  /** The records table; its stream (new images) is what the destinations are fed from. */
  table: dynamodb.ITable;
}

/** A stream record's new image, as pipes' JSON paths reach it. */
const IMAGE = '$.dynamodb.NewImage';

/**
 * What each destination receives for a first insert: the bus event's `detail` and the queue message's body.
 * `record_id` and `origin` are those of every destination's event; `record` holds the fields every event item
 * has; `item` is the stored item as the stream carries it (DynamoDB JSON: the record's other fields when they
 * have a value, `metadata` and `geolocation` as JSON text). An input template cannot turn an absent attribute
 * into `null` nor JSON text into an object, so the record's optional fields are read from `item`.
 */
export const INSERT_TEMPLATE = `{"record_id": "<${IMAGE}.id.S>", "origin": "insert", "record": {${(
  ['id', 'provider', 'event', 'created_at', 'received_at'] as const
)
  .map((field) => `"${field}": "<${IMAGE}.${field}.S>"`)
  .join(', ')}}, "item": <${IMAGE}>}`;

/**
 * The stream filter of one destination: INSERTs of event items (a duplicate delivery's conditional put writes
 * nothing, so it never reaches the stream; counters, markers and quarantined deliveries are other kinds), of
 * the providers and types chosen.
 */
export function insertPattern(filter: DestinationFilter): Record<string, unknown> {
  const image: Record<string, unknown> = { kind: { S: ['event'] } };
  if (filter.providers?.length) image.provider = { S: [...filter.providers] };
  if (filter.types?.length) image.event = { S: [...filter.types] };
  return { eventName: ['INSERT'], dynamodb: { NewImage: image } };
}

/**
 * What each destination with `signals` receives for a signal notice: the notice document, every field a string
 * (see `SignalNotice`), read from the notice item's attributes of the same names, which the fold always writes.
 */
export const NOTICE_TEMPLATE = `{${NOTICE_FIELDS.map((field) => `"${field}": "<${IMAGE}.${field}.S>"`).join(', ')}}`;

/**
 * The stream filter of a destination's signal notices: INSERTs of notice items (a notice is written once, by a
 * conditional put; its TTL's removal is not an INSERT), of the signals and providers chosen.
 */
export function noticePattern(filter: DestinationFilter): Record<string, unknown> {
  const image: Record<string, unknown> = {
    pk: { S: [{ prefix: NOTICE_PARTITION_PREFIX }] },
    kind: { S: [NOTICE_KIND] },
  };
  if (Array.isArray(filter.signals) && filter.signals.length > 0) image.signal = { S: [...filter.signals] };
  if (filter.providers?.length) image.provider = { S: [...filter.providers] };
  return { eventName: ['INSERT'], dynamodb: { NewImage: image } };
}

/**
 * The option comes from `cdk.json` as often as from code: a misspelt key would otherwise publish everything, or
 * nothing, without a word.
 */
function checkKeys(value: object, known: readonly string[], where: string, signals = false) {
  const unknown = Object.keys(value).find((key) => !known.includes(key) && !(signals && key === 'signals'));
  if (unknown !== undefined)
    throw new Error(
      `${where} has ${JSON.stringify(unknown)}: only ${known.join(', ')} are known${signals ? ', and signals for the signal notices' : ''}`,
    );
}

/** A filter's lists hold names: a blank one would match nothing and hide a typo. */
function checkFilter(filter: DestinationFilter, where: string) {
  for (const key of ['providers', 'types'] as const) {
    const list = filter[key];
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.some((name) => typeof name !== 'string' || name.trim() === '')) {
      throw new Error(`destinations.${where}.${key} must be a list of non-empty names`);
    }
  }
  const signals = filter.signals;
  if (signals === undefined || typeof signals === 'boolean') return;
  if (
    !Array.isArray(signals) ||
    signals.length === 0 ||
    signals.some((name) => !SIGNAL_NAMES.includes(name as SignalName))
  ) {
    throw new Error(
      `destinations.${where}.signals must be true, false or a non-empty list of ${SIGNAL_NAMES.join(', ')}`,
    );
  }
}

/** The records table's stream, once the option's keys are all known ones and it names a destination. */
function checkedStreamArn(props: EventDestinationsProps): string {
  const streamArn = props.table.tableStreamArn;
  if (!streamArn) throw new Error('destinations need the records table to have a stream of new images');
  const { table: _table, ...option } = props;
  checkKeys(option, ['eventBridge', 'sqs'], 'destinations');
  if (props.eventBridge)
    checkKeys(props.eventBridge, ['busName', 'providers', 'types'], 'destinations.eventBridge', true);
  if (props.sqs) checkKeys(props.sqs, ['queueArn', 'providers', 'types'], 'destinations.sqs', true);
  if (!props.eventBridge && !props.sqs) throw new Error('destinations name neither eventBridge nor sqs');
  return streamArn;
}

// EventBridge names a bus with up to 256 letters, digits and . _ - / ; an ARN names one in any account.
const BUS_NAME = /^[A-Za-z0-9._\-/]{1,256}$/;
const BUS_ARN = /^arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus\/[A-Za-z0-9._\-/]{1,256}$/;
const QUEUE_ARN = /^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}(\.fifo)?$/;

/**
 * Publishes every first insert of an event to an EventBridge bus and/or an SQS queue, with no code: one EventBridge
 * Pipe per destination reads the records table's stream, keeps the INSERTs of event items of the chosen providers
 * and types, shapes each into {@link INSERT_TEMPLATE} and hands it to the bus (`source` `campaign-inbox`,
 * `detail-type` the event type, `time` the event's `created_at`) or the queue. A duplicate delivery never reaches
 * the stream, so it is never published; a record is published at least once (a batch the target refused is
 * retried, halved, then described in {@link failures}): receivers deduplicate on `record_id`.
 *
 * ```ts
 * new EventDestinations(this, 'Destinations', { table: inbox.records.table, eventBridge: {} });
 * ```
 *
 * With `signals`, a destination gets a second pipe that sends the fold's signal notices (INSERTs of `SIGNAL#<day>`
 * items) shaped into {@link NOTICE_TEMPLATE}, as `detail-type` `campaign-inbox signal` timed by `raised_at`: a
 * pipe has one input template and one detail-type for all it sends, so a notice on the records' pipe would have
 * to pass for a record. A notice is written once (a conditional put on a key made of what the signal is), so it
 * is published once, bar the pipe's own retries: receivers deduplicate on `notice_id`.
 *
 * Each pipe is one more reader of the stream; DynamoDB advises at most two per shard (the reactions' and the
 * lake's mappings count), beyond which reads are throttled and retried: later, never lost.
 *
 * Cost, at us-east-1 list prices: Pipes bills $0.40 per million events that pass its filter; the bus adds $1.00
 * per million events put on it, the queue $0.40 per million messages sent (and its consumer's receives). The
 * stream's polling by each pipe is read requests of DynamoDB Streams ($0.02 per 100,000 beyond the free 2.5
 * million a month), about four a second per shard: near $2 a month per pipe and shard whatever the traffic.
 */
export class EventDestinations extends Construct {
  /** The bus first inserts are put on, with `eventBridge`. */
  readonly bus: events.IEventBus | undefined;
  /** The queue first inserts are sent to, with `sqs`. */
  readonly queue: sqs.IQueue | undefined;
  /** The new queue's dead-letter queue (a queue given by ARN keeps its own redrive). */
  readonly queueDeadLetters: sqs.Queue | undefined;
  /** The pipes, by destination. */
  readonly pipes: { eventBridge?: pipes.CfnPipe; sqs?: pipes.CfnPipe } = {};
  /** The pipes of signal notices, by destination (with `signals`). */
  readonly signalPipes: { eventBridge?: pipes.CfnPipe; sqs?: pipes.CfnPipe } = {};
  /** Where the pipes describe stream batches a target kept refusing (to look at, then replay by range). */
  readonly failures: sqs.Queue;

  constructor(scope: Construct, id: string, props: EventDestinationsProps) {
    super(scope, id);
    const streamArn = checkedStreamArn(props);
    this.failures = this.failuresQueue();
    if (props.eventBridge) this.bus = this.publishToBus(props.eventBridge, streamArn);
    if (props.sqs) {
      const { queue, deadLetters } = this.sendToQueue(props.sqs, streamArn);
      this.queue = queue;
      this.queueDeadLetters = deadLetters;
    }
  }

  /** The queue the pipes describe the stream batches a target kept refusing in. */
  private failuresQueue(): sqs.Queue {
    const failures = new sqs.Queue(this, 'Failures', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(failures).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue is itself the dead-letter destination of the destinations' pipes: it describes the stream batches that kept failing.",
    });
    return failures;
  }

  /** The bus's pipe of first inserts and, with `signals`, its pipe of signal notices. */
  private publishToBus(option: EventBridgeDestinationOption, streamArn: string): events.IEventBus {
    checkFilter(option, 'eventBridge');
    const bus = this.busOf(option.busName);
    this.pipes.eventBridge = this.addPipe('BusPipe', streamArn, insertPattern(option), {
      arn: bus.eventBusArn,
      actions: ['events:PutEvents'],
      parameters: {
        inputTemplate: INSERT_TEMPLATE,
        eventBridgeEventBusParameters: {
          source: EVENT_SOURCE,
          detailType: `${IMAGE}.event.S`,
          time: `${IMAGE}.created_at.S`,
        },
      },
    });
    if (option.signals) {
      this.signalPipes.eventBridge = this.addPipe(
        'BusSignalsPipe',
        streamArn,
        noticePattern(option),
        {
          arn: bus.eventBusArn,
          actions: ['events:PutEvents'],
          parameters: {
            inputTemplate: NOTICE_TEMPLATE,
            eventBridgeEventBusParameters: {
              source: EVENT_SOURCE,
              detailType: NOTICE_DETAIL_TYPE,
              time: `${IMAGE}.raised_at.S`,
            },
          },
        },
        'Signal notices',
      );
    }
    return bus;
  }

  /** The queue's pipe of first inserts and, with `signals`, its pipe of signal notices. */
  private sendToQueue(
    option: SqsDestinationOption,
    streamArn: string,
  ): { queue: sqs.IQueue; deadLetters?: sqs.Queue } {
    checkFilter(option, 'sqs');
    const { queue, deadLetters } = this.queueOf(option.queueArn);
    // A FIFO queue drops a message whose deduplication id it saw in the last 5 minutes: a batch the pipe
    // sends again carries the same stream record ids. One group per provider keeps its events in order.
    const fifo = queue.fifo
      ? {
          sqsQueueParameters: {
            messageGroupId: `${IMAGE}.provider.S`,
            messageDeduplicationId: '$.eventID',
          },
        }
      : {};
    this.pipes.sqs = this.addPipe('QueuePipe', streamArn, insertPattern(option), {
      arn: queue.queueArn,
      actions: ['sqs:SendMessage'],
      parameters: { inputTemplate: INSERT_TEMPLATE, ...fifo },
    });
    if (option.signals) {
      this.signalPipes.sqs = this.addPipe(
        'QueueSignalsPipe',
        streamArn,
        noticePattern(option),
        {
          arn: queue.queueArn,
          actions: ['sqs:SendMessage'],
          parameters: { inputTemplate: NOTICE_TEMPLATE, ...fifo },
        },
        'Signal notices',
      );
    }
    return { queue, deadLetters };
  }

  private busOf(busName: string | undefined): events.IEventBus {
    if (busName === undefined) return new events.EventBus(this, 'Bus');
    if (BUS_ARN.test(busName)) return events.EventBus.fromEventBusArn(this, 'Bus', busName);
    if (BUS_NAME.test(busName)) return events.EventBus.fromEventBusName(this, 'Bus', busName);
    throw new Error(
      `destinations.eventBridge.busName must be a bus name or ARN, not ${JSON.stringify(busName)}`,
    );
  }

  private queueOf(queueArn: string | undefined): { queue: sqs.IQueue; deadLetters?: sqs.Queue } {
    if (queueArn !== undefined) {
      if (!QUEUE_ARN.test(queueArn)) {
        throw new Error(
          `destinations.sqs.queueArn must be an SQS queue ARN, not ${JSON.stringify(queueArn)}`,
        );
      }
      return { queue: sqs.Queue.fromQueueArn(this, 'Queue', queueArn) };
    }
    const deadLetters = new sqs.Queue(this, 'QueueDeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(deadLetters).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the destination queue.',
    });
    const queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // A consumer that keeps failing on a message moves it aside rather than blocking on it.
      deadLetterQueue: { queue: deadLetters, maxReceiveCount: 5 },
    });
    return { queue, deadLetters };
  }

  private addPipe(
    id: string,
    streamArn: string,
    pattern: Record<string, unknown>,
    target: { arn: string; actions: string[]; parameters: pipes.CfnPipe.PipeTargetParametersProperty },
    what = 'First inserts',
  ): pipes.CfnPipe {
    const role = new iam.Role(this, `${id}Role`, {
      // Only pipes of this account may take the role (the confused-deputy guard Pipes' documentation gives).
      assumedBy: new iam.ServicePrincipal('pipes.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: [
          'dynamodb:DescribeStream',
          'dynamodb:GetRecords',
          'dynamodb:GetShardIterator',
          'dynamodb:ListStreams',
        ],
        resources: [streamArn],
      }),
    );
    role.addToPolicy(new iam.PolicyStatement({ actions: target.actions, resources: [target.arn] }));
    role.addToPolicy(
      new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.failures.queueArn] }),
    );
    const pipe = new pipes.CfnPipe(this, id, {
      roleArn: role.roleArn,
      source: streamArn,
      description: `${what} of ${Stack.of(this).stackName}'s records table`,
      sourceParameters: {
        dynamoDbStreamParameters: {
          // What was stored before the destination existed is a replay's to send (`events replay --since`).
          startingPosition: 'LATEST',
          batchSize: 10,
          // A batch the target refuses is retried, then halved to find the record at fault; what still fails
          // is described in the failures queue, within the stream's 24 hours.
          maximumRetryAttempts: 10,
          onPartialBatchItemFailure: 'AUTOMATIC_BISECT',
          deadLetterConfig: { arn: this.failures.queueArn },
        },
        filterCriteria: { filters: [{ pattern: JSON.stringify(pattern) }] },
      },
      target: target.arn,
      targetParameters: target.parameters,
    });
    pipe.node.addDependency(role);
    return pipe;
  }
}

/**
 * The destinations behind their option: `undefined`, or `{}`, adds nothing.
 */
export function addEventDestinations(
  scope: Construct,
  table: dynamodb.ITable,
  option: EventDestinationsOptions | undefined,
): EventDestinations | undefined {
  if (!option || Object.keys(option).length === 0) return undefined;
  return new EventDestinations(scope, 'Destinations', { ...option, table });
}
