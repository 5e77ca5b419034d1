import { METRIC, type MetricName, type MetricsSink, perEventMetricName } from './metrics';

/** Counts that are news: a refusal or a failure. Everything else (accepted events) may wait for the next flush. */
const ANOMALIES: ReadonlySet<string> = new Set<MetricName>([
  METRIC.quarantined,
  METRIC.signatureFailures,
  METRIC.rejected,
  METRIC.queueFailures,
  METRIC.processingFailures,
  METRIC.secretRefreshFailures,
]);

/**
 * Counts kept in memory and written to CloudWatch as one line in the embedded metric format (no API call): the
 * same namespace, names and `service` dimension the alarms read. {@link EmfMetrics.flush} writes only what was
 * counted since the last flush, so a container that flushes once a minute writes one line a minute, not one
 * per event.
 */
export class EmfMetrics implements MetricsSink {
  private counts = new Map<string, number>();
  private anomalies = false;

  constructor(
    private readonly namespace: string,
    private readonly service: string,
    private readonly write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  ) {}

  count(name: MetricName, value = 1, event?: string): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + value);
    if (event) {
      const perEvent = perEventMetricName(name, event);
      this.counts.set(perEvent, (this.counts.get(perEvent) ?? 0) + value);
    }
    if (ANOMALIES.has(name)) this.anomalies = true;
  }

  /** `true` when a refusal or a failure was counted since the last flush. */
  get hasAnomalies(): boolean {
    return this.anomalies;
  }

  /** Writes every count since the last flush as one line, and starts over; nothing when there is none. */
  flush(now = Date.now()): void {
    if (this.counts.size === 0) return;
    const values = Object.fromEntries(this.counts);
    this.write(
      JSON.stringify({
        _aws: {
          Timestamp: now,
          CloudWatchMetrics: [
            {
              Namespace: this.namespace,
              Dimensions: [['service']],
              Metrics: [...this.counts.keys()].map((Name) => ({ Name, Unit: 'Count' })),
            },
          ],
        },
        service: this.service,
        ...values,
      }),
    );
    this.counts = new Map();
    this.anomalies = false;
  }
}
