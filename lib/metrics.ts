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
export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/** The metric name that carries an event's name, e.g. `Accepted.campaign.impression`. */
export const perEventMetricName = (name: MetricName, event: string) => `${name}.${event}`;

/** The CloudWatch namespace of the metrics. */
export const METRICS_NAMESPACE = 'CampaignInbox';

/** Where counts go: CloudWatch (embedded metric format) in AWS, memory locally and in tests. */
export interface MetricsSink {
  /** Adds `value` to the metric; `event` adds an `event` dimension (the canonical event name). */
  count(name: MetricName, value?: number, event?: string): void;
}

/** Counts kept in memory, keyed `Name` and `Name|event`. */
export class CountingMetrics implements MetricsSink {
  readonly counts = new Map<string, number>();

  count(name: MetricName, value = 1, event?: string): void {
    for (const key of event ? [name, `${name}|${event}`] : [name]) {
      this.counts.set(key, (this.counts.get(key) ?? 0) + value);
    }
  }

  get(name: MetricName, event?: string): number {
    return this.counts.get(event ? `${name}|${event}` : name) ?? 0;
  }
}
