import { AwsJsonClient, type AwsJsonClientOptions } from './aws-json-client';
import type { Deadline } from './deadline';

/**
 * Where CloudWatch's API is reached, the way the AWS SDK finds it: `AWS_ENDPOINT_URL_CLOUDWATCH` (the service id
 * "CloudWatch", upper-cased), else `AWS_ENDPOINT_URL`, else the region's `monitoring` endpoint. Both are ignored
 * when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is `true`, as the SDK ignores them.
 */
export function cloudWatchEndpoint(region: string, env: NodeJS.ProcessEnv = process.env): string {
  const ignored = env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() === 'true';
  const override = ignored ? undefined : env.AWS_ENDPOINT_URL_CLOUDWATCH || env.AWS_ENDPOINT_URL || undefined;
  if (override) return override;
  const suffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://monitoring.${region}.${suffix}`;
}

/** The statistics asked for here. */
export type MetricStatistic = 'Sum' | 'Maximum' | 'Minimum' | 'Average' | 'SampleCount';

/** One metric's statistic per period, as `GetMetricData` takes a `MetricStat` query. */
export interface MetricQuery {
  /** The query's id in the answer: a lower-case letter, then letters, digits and underscores. */
  id: string;
  namespace: string;
  metricName: string;
  /** The metric's whole dimension set: CloudWatch matches a metric only with exactly these dimensions. */
  dimensions: Readonly<Record<string, string>>;
  /** Seconds; a multiple of 60. */
  period: number;
  stat: MetricStatistic;
}

/** A query's datapoints, oldest first. */
export interface MetricSeries {
  id: string;
  /** The start of each period with data; a period without data has no point. */
  timestamps: Date[];
  values: number[];
}

/** Where and as whom a {@link CloudWatchMetrics} calls. */
export type CloudWatchMetricsOptions = Pick<
  AwsJsonClientOptions,
  'maxAttempts' | 'timeoutMs' | 'credentials' | 'transport' | 'now'
> & { region: string; env?: NodeJS.ProcessEnv };

// GetMetricData takes at most 500 queries a call.
const MAX_QUERIES = 500;
// The query id rule CloudWatch states: it starts with a lower-case letter; letters, digits, underscores follow.
const QUERY_ID = /^[a-z][a-zA-Z0-9_]{0,254}$/;

interface AnswerPage {
  MetricDataResults?: {
    Id?: string;
    Timestamps?: (number | string)[];
    Values?: number[];
    StatusCode?: string;
  }[];
  NextToken?: string;
  Messages?: { Code?: string; Value?: string }[];
}

/** CloudWatch refused a query, or gave an answer for it that is not whole. */
export class MetricDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetricDataError';
  }
}

/**
 * CloudWatch's `GetMetricData` over the AWS JSON 1.0 protocol (`GraniteServiceVersion20100801.GetMetricData`,
 * `application/x-amz-json-1.0`, signed as `monitoring`), with the signed client the receive function uses: one
 * read of a few metrics costs no SDK client at a cold start. Timestamps travel as seconds since the epoch, as
 * the JSON protocols give them.
 */
export class CloudWatchMetrics {
  private readonly client: AwsJsonClient;
  readonly endpoint: string;

  constructor(options: CloudWatchMetricsOptions) {
    const { region, env, ...tuning } = options;
    this.endpoint = cloudWatchEndpoint(region, env);
    this.client = new AwsJsonClient({
      service: 'monitoring',
      region,
      endpoint: this.endpoint,
      targetPrefix: 'GraniteServiceVersion20100801',
      jsonVersion: '1.0',
      ...tuning,
    });
  }

  /**
   * The datapoints of each query between `start` (included) and `end` (excluded), every page of them.
   * @returns a series per query id, each query present (with no points when CloudWatch has none).
   * @throws an `AwsServiceError` as CloudWatch refused the call, {@link MetricDataError} when a query's answer is
   *   not complete (CloudWatch says `InternalError` or `Forbidden` for it) or names a query never asked.
   */
  async getMetricData(
    queries: readonly MetricQuery[],
    start: Date,
    end: Date,
    deadline?: Deadline,
  ): Promise<Map<string, MetricSeries>> {
    if (queries.length === 0) return new Map();
    if (queries.length > MAX_QUERIES)
      throw new RangeError(`GetMetricData takes at most ${MAX_QUERIES} queries, not ${queries.length}`);
    const series = new Map<string, { id: string; points: [number, number][] }>();
    for (const query of queries) {
      if (!QUERY_ID.test(query.id)) throw new RangeError(`not a GetMetricData query id: ${query.id}`);
      if (series.has(query.id)) throw new RangeError(`query id ${query.id} given twice`);
      if (!Number.isInteger(query.period) || query.period <= 0 || query.period % 60 !== 0)
        throw new RangeError(`a period is a positive multiple of 60 seconds, not ${query.period}`);
      series.set(query.id, { id: query.id, points: [] });
    }
    const input = {
      MetricDataQueries: queries.map((query) => ({
        Id: query.id,
        MetricStat: {
          Metric: {
            Namespace: query.namespace,
            MetricName: query.metricName,
            Dimensions: Object.entries(query.dimensions).map(([Name, Value]) => ({ Name, Value })),
          },
          Period: query.period,
          Stat: query.stat,
        },
        ReturnData: true,
      })),
      StartTime: start.getTime() / 1000,
      EndTime: end.getTime() / 1000,
      ScanBy: 'TimestampAscending',
    };
    let token: string | undefined;
    // A token CloudWatch gives again would loop forever: each is followed once.
    const followed = new Set<string>();
    do {
      const page: AnswerPage = await this.client.call<AnswerPage>(
        'GetMetricData',
        token ? { ...input, NextToken: token } : input,
        { deadline, accept: (answer) => Array.isArray(answer.MetricDataResults) },
      );
      for (const result of page.MetricDataResults ?? []) {
        const found = series.get(result.Id ?? '');
        if (!found) throw new MetricDataError(`an answer for a query never asked: ${result.Id}`);
        if (result.StatusCode === 'InternalError' || result.StatusCode === 'Forbidden')
          throw new MetricDataError(`CloudWatch answered ${result.StatusCode} for ${result.Id}`);
        const times = result.Timestamps ?? [];
        const values = result.Values ?? [];
        if (times.length !== values.length)
          throw new MetricDataError(`${times.length} timestamps for ${values.length} values in ${result.Id}`);
        times.forEach((time, i) => {
          found.points.push([epochMs(time), values[i] as number]);
        });
      }
      token = page.NextToken || undefined;
      if (token && followed.has(token))
        throw new MetricDataError('CloudWatch gave the same page token twice');
      if (token) followed.add(token);
    } while (token);
    return new Map(
      [...series.values()].map(({ id, points }) => {
        points.sort((a, b) => a[0] - b[0]);
        return [
          id,
          { id, timestamps: points.map(([time]) => new Date(time)), values: points.map(([, v]) => v) },
        ];
      }),
    );
  }
}

/** A JSON-protocol timestamp (seconds since the epoch, possibly with a fraction) in milliseconds. */
function epochMs(time: number | string): number {
  const ms = typeof time === 'number' ? time * 1000 : Date.parse(time);
  if (!Number.isFinite(ms)) throw new MetricDataError(`not a timestamp: ${JSON.stringify(time)}`);
  return ms;
}
