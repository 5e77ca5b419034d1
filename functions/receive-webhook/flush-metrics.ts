import type { MiddlewareObj } from '@middy/core';
import type { EmfMetrics } from '../../lib/emf-metrics';

/**
 * Flushes the counts at the end of an invocation when it counted a refusal or a failure (an alarm sees it at
 * once), else at most every `everyMs`: accepted deliveries then cost one metrics line a minute per container,
 * not one each. Registered first, so that it runs after every other middleware has counted.
 */
export function flushMetrics(metrics: EmfMetrics, everyMs: number, now = Date.now): MiddlewareObj {
  // The first invocation of a container flushes: a container that serves one delivery keeps nothing back.
  let last = Number.NEGATIVE_INFINITY;
  const flush = async () => {
    const time = now();
    if (metrics.hasAnomalies || time - last >= everyMs) {
      metrics.flush(time);
      last = time;
    }
  };
  return { after: flush, onError: flush };
}
