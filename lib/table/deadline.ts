import { AsyncLocalStorage } from 'node:async_hooks';

const deadlines = new AsyncLocalStorage<number>();

/**
 * Runs `work` with a deadline (epoch ms) that every table call made inside it obeys (see {@link callOptions}): a call
 * still running at the deadline is aborted, and none starts after it. A batch's writes must be over before its
 * claims can be taken for stale, or a write landing late would escape the recount that replaced them.
 */
export function withDeadline<T>(deadline: number, work: () => Promise<T>): Promise<T> {
  return deadlines.run(deadline, work);
}

/**
 * The options a table call is sent with: aborted at the current deadline, if there is one (retries included:
 * none starts after it). Pass them as `client.send(command, callOptions())`.
 */
export function callOptions(): { abortSignal?: AbortSignal } {
  const deadline = deadlines.getStore();
  if (deadline === undefined) return {};
  return { abortSignal: AbortSignal.timeout(Math.max(0, deadline - Date.now())) };
}

/**
 * `true` when DynamoDB answered the failed call (any status), so nothing of it can still be applied later;
 * `false` for a call cut off without an answer (a reset, a timeout, an abort), which may still be in flight.
 */
export function wasAnswered(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata
    ?.httpStatusCode;
  return typeof status === 'number';
}
