/** The metrics the pipeline emits, all counts. Alarms and the dashboard are built on these names. */
export const METRIC = {
  accepted: 'Accepted',
  quarantined: 'Quarantined',
  signatureFailures: 'SignatureFailures',
  rejected: 'Rejected',
  queueFailures: 'QueueFailures',
  stored: 'Stored',
  duplicates: 'Duplicates',
  processingFailures: 'ProcessingFailures',
  /** Reads of the signing secret that failed (the receive function kept its cached copy, or answered 503). */
  secretRefreshFailures: 'SecretRefreshFailures',
} as const;
/** The name of one of the pipeline's {@link METRIC}s. */
export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/**
 * The counts of deliveries the receive function refused (any 4xx it answers), the only metrics also counted per
 * provider: with the `service` dimension alone as well, which alarms read, and with `service` and `provider` for
 * a provider this build serves. Never per path segment: every dimension value CloudWatch sees is one more custom
 * metric billed each month, so a value a sender could choose would be a cost anyone could raise.
 */
export const REFUSAL_METRICS = [METRIC.signatureFailures, METRIC.rejected] as const;
/** The name of one of the {@link REFUSAL_METRICS}, the only ones also counted per provider. */
export type RefusalMetric = (typeof REFUSAL_METRICS)[number];
/** Whether a metric is one of the {@link REFUSAL_METRICS}. */
export const isRefusalMetric = (name: MetricName): name is RefusalMetric =>
  (REFUSAL_METRICS as readonly string[]).includes(name);

/** The `service` dimension value of the receive function's metrics. */
export const RECEIVE_SERVICE = 'receive-webhook';

/** The metric name that carries an event's name, e.g. `Accepted.campaign.impression`. */
export const perEventMetricName = (name: MetricName, event: string) => `${name}.${event}`;

/** The CloudWatch namespace of the metrics. */
export const METRICS_NAMESPACE = 'CampaignInbox';

/** Where counts go: CloudWatch (embedded metric format) in AWS, memory locally and in tests. */
export interface MetricsSink {
  /**
   * Adds `value` to the metric; `event` adds an `event` dimension (the canonical event name). `provider` counts a
   * refusal ({@link REFUSAL_METRICS}) for that provider too; a sink ignores it for any other metric.
   */
  count(name: MetricName, value?: number, event?: string, provider?: string): void;
}

/** Counts kept in memory, keyed `Name`, `Name|event` and, for a refusal of a provider, `Name@provider`. */
export class CountingMetrics implements MetricsSink {
  readonly counts = new Map<string, number>();

  count(name: MetricName, value = 1, event?: string, provider?: string): void {
    const keys = [name as string];
    if (event) keys.push(`${name}|${event}`);
    if (provider && isRefusalMetric(name)) keys.push(`${name}@${provider}`);
    for (const key of keys) this.counts.set(key, (this.counts.get(key) ?? 0) + value);
  }

  get(name: MetricName, event?: string): number {
    return this.counts.get(event ? `${name}|${event}` : name) ?? 0;
  }

  /** A refusal metric's count for one provider. */
  forProvider(name: RefusalMetric, provider: string): number {
    return this.counts.get(`${name}@${provider}`) ?? 0;
  }
}
