import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricName, MetricsSink } from './metrics';

/**
 * Sends counts to CloudWatch through Powertools (embedded metric format: log lines, no API calls). Plain
 * counts are flushed once per invocation by the `logMetrics` middleware; a count with an `event` dimension is
 * written as its own metric so dimensions never leak onto the others.
 */
export class PowertoolsMetrics implements MetricsSink {
  constructor(private readonly metrics: Metrics) {}

  count(name: MetricName, value = 1, event?: string): void {
    this.metrics.addMetric(name, MetricUnit.Count, value);
    if (event) {
      const single = this.metrics.singleMetric();
      single.addDimension('event', event);
      single.addMetric(name, MetricUnit.Count, value);
    }
  }
}
