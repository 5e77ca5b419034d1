import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { type MetricName, type MetricsSink, perEventMetricName } from './metrics';

/**
 * Sends counts to CloudWatch through Powertools (embedded metric format: log lines, no API calls), flushed once
 * per invocation by the `logMetrics` middleware. A per-event count is a second metric whose name carries the
 * event, rather than a dimension: a dimension would need a single-metric instance per call, which measured at
 * half the receive function's own CPU time.
 */
export class PowertoolsMetrics implements MetricsSink {
  constructor(private readonly metrics: Metrics) {}

  count(name: MetricName, value = 1, event?: string): void {
    this.metrics.addMetric(name, MetricUnit.Count, value);
    if (event) this.metrics.addMetric(perEventMetricName(name, event), MetricUnit.Count, value);
  }
}
