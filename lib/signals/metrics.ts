import { METRICS_NAMESPACE } from '../metrics';
import type { SignalCounts } from './signal-counts';

/** The metric each signal is counted under (one per signal, so each can have an alarm of its own). */
export const SIGNAL_METRICS: Readonly<Record<keyof SignalCounts, string>> = {
  clicks_without_impression: 'SignalClicksWithoutImpression',
  click_bursts: 'SignalClickBursts',
  high_ctr: 'SignalHighCtr',
  shared_devices: 'SignalSharedDevices',
  country_hops: 'SignalCountryHops',
};

/** The `service` dimension of the signals' metrics. */
export const SIGNAL_METRICS_SERVICE = 'repair-counters';

/**
 * The line in CloudWatch's embedded metric format that counts the signals a repair pass raised: every signal
 * named, zeros included, so that an alarm on one sees a data point each pass rather than missing data.
 * @returns one JSON line (no API call: CloudWatch reads it from the function's log).
 */
export function signalMetricsLine(raised: SignalCounts | undefined, now = Date.now()): string {
  const names = Object.keys(SIGNAL_METRICS) as (keyof SignalCounts)[];
  const values = Object.fromEntries(names.map((name) => [SIGNAL_METRICS[name], raised?.[name] ?? 0]));
  return JSON.stringify({
    _aws: {
      Timestamp: now,
      CloudWatchMetrics: [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: [['service']],
          Metrics: names.map((name) => ({ Name: SIGNAL_METRICS[name], Unit: 'Count' })),
        },
      ],
    },
    service: SIGNAL_METRICS_SERVICE,
    ...values,
  });
}
