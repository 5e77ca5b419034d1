import {
  isRefusalMetric,
  METRIC,
  type MetricName,
  type MetricsSink,
  perEventMetricName,
  type RefusalMetric,
} from './metrics';

/** Counts that are news: a refusal or a failure. Everything else (accepted events) may wait for the next flush. */
const ANOMALIES: ReadonlySet<string> = new Set<MetricName>([
  METRIC.quarantined,
  METRIC.signatureFailures,
  METRIC.rejected,
  METRIC.queueFailures,
  METRIC.processingFailures,
  METRIC.secretRefreshFailures,
]);

const metricsOf = (names: Iterable<string>) => [...names].map((Name) => ({ Name, Unit: 'Count' }));

/**
 * Counts kept in memory and written to CloudWatch as one line in the embedded metric format (no API call): the
 * same namespace, names and `service` dimension the alarms read. {@link EmfMetrics.flush} writes only what was
 * counted since the last flush, so a container that flushes once a minute writes one line a minute, not one
 * per event.
 *
 * A refusal counted for a provider ({@link MetricsSink.count}'s `provider`) is also written with the dimensions
 * `service` and `provider`, for the providers given (by default every provider this build serves) and no other
 * name: a path segment a sender made up never becomes a dimension value, each of which CloudWatch bills as one
 * more custom metric.
 */
export class EmfMetrics implements MetricsSink {
  private counts = new Map<string, number>();
  private refusals = new Map<string, Map<RefusalMetric, number>>();
  private anomalies = false;
  private readonly providers: ReadonlySet<string>;

  constructor(
    private readonly namespace: string,
    private readonly service: string,
    private readonly write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
    providers: readonly string[],
  ) {
    this.providers = new Set(providers);
  }

  count(name: MetricName, value = 1, event?: string, provider?: string): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + value);
    if (event) {
      const perEvent = perEventMetricName(name, event);
      this.counts.set(perEvent, (this.counts.get(perEvent) ?? 0) + value);
    }
    if (provider !== undefined && isRefusalMetric(name) && this.providers.has(provider)) {
      const counts = this.refusals.get(provider) ?? new Map<RefusalMetric, number>();
      counts.set(name, (counts.get(name) ?? 0) + value);
      this.refusals.set(provider, counts);
    }
    if (ANOMALIES.has(name)) this.anomalies = true;
  }

  /** `true` when a refusal or a failure was counted since the last flush. */
  get hasAnomalies(): boolean {
    return this.anomalies;
  }

  /**
   * Writes every count since the last flush, and starts over; nothing when there is none. One line, unless
   * refusals of more than one provider (or of a provider and of none) wait: a line gives each member one value,
   * so each provider's counts then take a line of their own.
   */
  flush(now = Date.now()): void {
    if (this.counts.size === 0) return;
    const values = Object.fromEntries(this.counts);
    const base = {
      Namespace: this.namespace,
      Dimensions: [['service']],
      Metrics: metricsOf(this.counts.keys()),
    };
    const byProvider = (counts: Map<RefusalMetric, number>) => ({
      Namespace: this.namespace,
      Dimensions: [['service', 'provider']],
      Metrics: metricsOf(counts.keys()),
    });
    const [only, ...others] = [...this.refusals];
    // The flush's refusals all came from one provider: the totals are that provider's counts, so the refusal
    // members take both dimension sets in one directive (as happens when each refusal is flushed as it is
    // counted), and the other members keep theirs.
    const oneProvider =
      only !== undefined &&
      others.length === 0 &&
      [...this.counts].every(([name, total]) =>
        isRefusalMetric(name as MetricName) ? only[1].get(name as RefusalMetric) === total : true,
      );
    if (only && oneProvider) {
      const [provider, counts] = only;
      const rest = [...this.counts.keys()].filter((name) => !isRefusalMetric(name as MetricName));
      const directives = [
        ...(rest.length > 0 ? [{ ...base, Metrics: metricsOf(rest) }] : []),
        { ...byProvider(counts), Dimensions: [['service'], ['service', 'provider']] },
      ];
      this.writeLine(now, directives, { service: this.service, provider, ...values });
    } else {
      this.writeLine(now, [base], { service: this.service, ...values });
      for (const [provider, counts] of this.refusals) {
        this.writeLine(now, [byProvider(counts)], {
          service: this.service,
          provider,
          ...Object.fromEntries(counts),
        });
      }
    }
    this.counts = new Map();
    this.refusals = new Map();
    this.anomalies = false;
  }

  private writeLine(now: number, directives: object[], members: Record<string, unknown>): void {
    this.write(JSON.stringify({ _aws: { Timestamp: now, CloudWatchMetrics: directives }, ...members }));
  }
}
