import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { CloudWatchMetrics, type MetricQuery, type MetricSeries } from '../aws/cloudwatch-metrics';
import { readEnabledProviders } from '../config';
import { ConfigError } from '../errors';
import type { Logger } from '../log';
import { REFUSAL_METRICS } from '../metrics';
import { providerNames } from '../providers';

/** Deliveries the receive side refused (any 4xx it answered) over a range of days. */
export interface RefusedFigures {
  /** Every refusal, whatever the path named; `null` when the source could not be read. */
  total: number | null;
  /**
   * Refusals of deliveries to each provider served (a POST whose provider was found), every served provider
   * listed, with 0 when none; empty when `total` is `null`. Their sum may be less than `total`: a path naming no
   * provider served, and another method than POST, are counted in the total only.
   */
  by_provider: Record<string, number>;
}

/** What the pipeline's own counts say of its health: refusals over a range, and the queues now. */
export interface PipelineHealthFigures {
  refused: RefusedFigures;
  /** Messages in the dead-letter queue now (visible, being looked at, delayed); `null` when unknown. */
  dead_letters: number | null;
  /** The age in seconds of the oldest message in the events queue now; `null` when it cannot be known. */
  oldest_message_age_s: number | null;
}

/** Where the dashboard's delivery-health figures come from (the AWS stack, the local one). */
export interface PipelineHealth {
  /**
   * @param from first UTC day of the range, `YYYY-MM-DD`
   * @param to last UTC day of the range (included), `YYYY-MM-DD`
   * @returns every figure it can give; a figure it cannot give is `null`, never a guess.
   */
  read(from: string, to: string): Promise<PipelineHealthFigures>;
}

/** The figures of a source that can give none. */
export const unknownPipelineHealth = (): PipelineHealthFigures => ({
  refused: { total: null, by_provider: {} },
  dead_letters: null,
  oldest_message_age_s: null,
});

const DAY_MS = 86_400_000;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * The instants a range of UTC days covers, `[start, end)`.
 * @throws {RangeError} for a day that is not a calendar day as `YYYY-MM-DD`, or `from` after `to`.
 */
export function rangeOfDays(from: string, to: string): { start: Date; end: Date } {
  const parse = (day: string) => {
    const time = DAY.test(day) ? Date.parse(`${day}T00:00:00Z`) : Number.NaN;
    if (!Number.isFinite(time) || new Date(time).toISOString().slice(0, 10) !== day)
      throw new RangeError(`not a UTC day as YYYY-MM-DD: ${JSON.stringify(day)}`);
    return time;
  };
  const start = parse(from);
  const end = parse(to) + DAY_MS;
  if (end <= start) throw new RangeError(`the range starts (${from}) after it ends (${to})`);
  return { start: new Date(start), end: new Date(end) };
}

/** A queue's messages now, as SQS counts them: visible, in flight and delayed. */
export async function queueMessageCount(sqs: Pick<SQSClient, 'send'>, queueUrl: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  const counts = [
    Attributes.ApproximateNumberOfMessages,
    Attributes.ApproximateNumberOfMessagesNotVisible,
    Attributes.ApproximateNumberOfMessagesDelayed,
  ].map((value) => Number(value ?? 0));
  if (!counts.every(Number.isSafeInteger) || Attributes.ApproximateNumberOfMessages === undefined)
    throw new Error(`GetQueueAttributes gave no message counts for ${queueUrl}`);
  return counts.reduce((sum, count) => sum + count, 0);
}

// SQS's rule for a queue name: 1 to 80 letters, digits, hyphens and underscores, `.fifo` at the end of a FIFO
// queue's.
const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}(\.fifo)?$/;

/**
 * The queue's name, the last part of its URL (`https://sqs.<region>.amazonaws.com/<account>/<name>`). Read from
 * the text: a local server's URL may name a host a URL parser refuses (`sqs.<region>.127.0.0.1`).
 * @throws {ConfigError} when the URL does not end in a queue name.
 */
export function queueNameOf(queueUrl: string): string {
  const name = queueUrl.slice(queueUrl.lastIndexOf('/') + 1);
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(queueUrl) || !QUEUE_NAME.test(name))
    throw new ConfigError(`not a queue URL: ${queueUrl}`);
  return name;
}

/** The dashboard function's settings for {@link AwsPipelineHealth}. */
export interface PipelineHealthConfig {
  region: string;
  /** The receive function's metrics: their namespace and `service` dimension. */
  namespace: string;
  service: string;
  /** The providers the stack serves, whose refusals are read one by one. */
  providers: string[];
  /** The events queue, for its oldest message's age; without it that figure is `null`. */
  queueUrl: string | undefined;
  /** The dead-letter queue; without it the dead letters are `null`. */
  dlqUrl: string | undefined;
}

type Env = Record<string, string | undefined>;

/**
 * Reads where the delivery-health figures are: `METRICS_NAMESPACE` and `RECEIVE_METRICS_SERVICE` (the receive
 * function's metrics), `PROVIDERS` (the providers served, default all), `QUEUE_URL` and `DLQ_URL` (optional: a
 * figure without its queue is `null`), `AWS_REGION`.
 * @returns `undefined` when neither metrics variable is set: the function was given no delivery health to read
 *   (every such figure is then `null`).
 * @throws {ConfigError} at cold start when one metrics variable is set without the other, or a queue URL is
 *   not one.
 */
export function loadPipelineHealthConfig(env: Env = process.env): PipelineHealthConfig | undefined {
  const namespace = env.METRICS_NAMESPACE || undefined;
  const service = env.RECEIVE_METRICS_SERVICE || undefined;
  if (namespace === undefined && service === undefined) return undefined;
  if (namespace === undefined || service === undefined) {
    const missing = namespace === undefined ? 'METRICS_NAMESPACE' : 'RECEIVE_METRICS_SERVICE';
    throw new ConfigError(`environment variable ${missing} is required with the other metrics variable`);
  }
  const queue = (name: string) => {
    const value = env[name] || undefined;
    if (value !== undefined) {
      try {
        queueNameOf(value);
      } catch {
        throw new ConfigError(
          `environment variable ${name} must be a queue URL, got ${JSON.stringify(value)}`,
        );
      }
    }
    return value;
  };
  return {
    region: env.AWS_REGION || 'us-east-1',
    namespace,
    service,
    providers: readEnabledProviders(env, providerNames()),
    queueUrl: queue('QUEUE_URL'),
    dlqUrl: queue('DLQ_URL'),
  };
}

/** What {@link AwsPipelineHealth} reads with, and how. */
export interface AwsPipelineHealthOptions {
  cloudWatch: Pick<CloudWatchMetrics, 'getMetricData'>;
  sqs: Pick<SQSClient, 'send'>;
  namespace: string;
  service: string;
  providers: readonly string[];
  queueUrl?: string | undefined;
  dlqUrl?: string | undefined;
  /** Told why a figure is `null` when a read failed. */
  logger?: Logger;
  /**
   * How long CloudWatch's answers are reused (default {@link METRICS_REUSE_MS}). Each metric a `GetMetricData`
   * call asks for is billed, and an open page asks every few seconds; the counts move once a minute at most.
   */
  reuseMs?: number;
  now?: () => number;
}

/**
 * CloudWatch's answers are reused for a minute: the receive function writes its counts at most once a minute
 * (at once for a refusal, which CloudWatch then takes a minute or more to show), and SQS's metrics are
 * per minute.
 */
export const METRICS_REUSE_MS = 60_000;
/** How far back the newest point of the events queue's oldest-message age is looked for. */
export const AGE_LOOKBACK_MS = 15 * 60_000;
/** Answers kept for reuse at most (one per range asked). */
const REUSED = 32;

/** SQS's own metric of a queue's oldest message, in `AWS/SQS`, per queue name. */
const SQS_NAMESPACE = 'AWS/SQS';
const OLDEST_MESSAGE_AGE = 'ApproximateAgeOfOldestMessage';

const sum = (series: MetricSeries | undefined) => (series?.values ?? []).reduce((total, v) => total + v, 0);

/**
 * The deployed stack's delivery health, from counts the pipeline keeps anyway (nothing is written per event for
 * it):
 * - refusals: the receive function's `SignatureFailures` and `Rejected` metrics (its embedded metric lines),
 *   summed per UTC day over the range with `GetMetricData` (one call, a query per metric and provider): by
 *   `service` for the total, by `service` and `provider` for each provider served;
 * - dead letters: the DLQ's message counts (`GetQueueAttributes`), now;
 * - the oldest message's age: none when the events queue holds no message (`GetQueueAttributes`), else the
 *   newest point of SQS's `ApproximateAgeOfOldestMessage` within {@link AGE_LOOKBACK_MS}, else `null`.
 * A source that fails makes its figures `null` (and is logged); the others are still given.
 */
export class AwsPipelineHealth implements PipelineHealth {
  private readonly reused = new Map<string, { at: number; answer: Promise<Map<string, MetricSeries>> }>();
  private readonly now: () => number;

  constructor(private readonly options: AwsPipelineHealthOptions) {
    this.now = options.now ?? Date.now;
  }

  async read(from: string, to: string): Promise<PipelineHealthFigures> {
    const range = rangeOfDays(from, to);
    const [refused, deadLetters, age] = await Promise.all([
      this.refused(range).catch((error) => this.failed('refusals', error, { total: null, by_provider: {} })),
      this.options.dlqUrl
        ? queueMessageCount(this.options.sqs, this.options.dlqUrl).catch((error) =>
            this.failed('dead letters', error, null),
          )
        : null,
      this.oldestMessageAge().catch((error) => this.failed('oldest message age', error, null)),
    ]);
    return { refused, dead_letters: deadLetters, oldest_message_age_s: age };
  }

  private failed<T>(figure: string, error: unknown, fallback: T): T {
    this.options.logger?.warn('a delivery health figure could not be read', { figure, error });
    return fallback;
  }

  private async refused(range: { start: Date; end: Date }): Promise<RefusedFigures> {
    const { namespace, service, providers } = this.options;
    const queries: MetricQuery[] = [];
    // One query per metric for the totals, and per metric and provider; ids by position, since a name is not
    // an id CloudWatch takes.
    REFUSAL_METRICS.forEach((metricName, m) => {
      const query = { namespace, metricName, period: 86_400, stat: 'Sum' } as const;
      queries.push({ ...query, id: `total_${m}`, dimensions: { service } });
      providers.forEach((provider, p) => {
        queries.push({ ...query, id: `provider_${p}_${m}`, dimensions: { service, provider } });
      });
    });
    const series = await this.reuse(`refused ${range.start.toISOString()} ${range.end.toISOString()}`, () =>
      this.options.cloudWatch.getMetricData(queries, range.start, range.end),
    );
    const total = REFUSAL_METRICS.reduce((count, _, m) => count + sum(series.get(`total_${m}`)), 0);
    const byProvider = Object.fromEntries(
      providers.map((provider, p) => [
        provider,
        REFUSAL_METRICS.reduce((count, _, m) => count + sum(series.get(`provider_${p}_${m}`)), 0),
      ]),
    );
    return { total, by_provider: byProvider };
  }

  private async oldestMessageAge(): Promise<number | null> {
    const { queueUrl } = this.options;
    if (!queueUrl) return null;
    // An empty queue has no oldest message: SQS's metric gives it age 0 too.
    if ((await queueMessageCount(this.options.sqs, queueUrl)) === 0) return 0;
    const minute = 60_000;
    const end = Math.ceil(this.now() / minute) * minute;
    const start = end - AGE_LOOKBACK_MS;
    const series = await this.reuse(`age ${end}`, () =>
      this.options.cloudWatch.getMetricData(
        [
          {
            id: 'age',
            namespace: SQS_NAMESPACE,
            metricName: OLDEST_MESSAGE_AGE,
            dimensions: { QueueName: queueNameOf(queueUrl) },
            period: 60,
            stat: 'Maximum',
          },
        ],
        new Date(start),
        new Date(end),
      ),
    );
    const values = series.get('age')?.values ?? [];
    const newest = values[values.length - 1];
    return newest === undefined ? null : Math.round(newest);
  }

  /** An answer given less than `reuseMs` ago, or a new one; a failed one is not kept. */
  private reuse(
    key: string,
    ask: () => Promise<Map<string, MetricSeries>>,
  ): Promise<Map<string, MetricSeries>> {
    const now = this.now();
    const reuseMs = this.options.reuseMs ?? METRICS_REUSE_MS;
    const kept = this.reused.get(key);
    if (kept && now - kept.at < reuseMs) return kept.answer;
    const answer = ask();
    // Oldest first in the map: an answer given again goes last.
    this.reused.delete(key);
    this.reused.set(key, { at: now, answer });
    answer.catch(() => {
      if (this.reused.get(key)?.answer === answer) this.reused.delete(key);
    });
    for (const [old, entry] of this.reused) {
      if (this.reused.size <= REUSED && now - entry.at < reuseMs) break;
      this.reused.delete(old);
    }
    return answer;
  }
}

/**
 * The deployed dashboard's {@link AwsPipelineHealth}: CloudWatch through the signed client of `lib/aws`
 * (`AWS_ENDPOINT_URL_CLOUDWATCH` overrides its endpoint), SQS through the SDK's client, both with the role's
 * credentials from the environment.
 */
export function awsPipelineHealth(
  config: PipelineHealthConfig,
  options: { logger?: Logger; env?: NodeJS.ProcessEnv; sqs?: SQSClient } = {},
): AwsPipelineHealth {
  return new AwsPipelineHealth({
    // A person waits for the page: two short tries, well within the 29 s the function has.
    cloudWatch: new CloudWatchMetrics({
      region: config.region,
      maxAttempts: 2,
      timeoutMs: 3_000,
      ...(options.env ? { env: options.env } : {}),
    }),
    sqs: options.sqs ?? new SQSClient({ region: config.region }),
    namespace: config.namespace,
    service: config.service,
    providers: config.providers,
    queueUrl: config.queueUrl,
    dlqUrl: config.dlqUrl,
    ...(options.logger ? { logger: options.logger } : {}),
  });
}
