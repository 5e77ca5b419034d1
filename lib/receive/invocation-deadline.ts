import type { Deadline } from '../aws/deadline';

/** The receive function's timeout in the stack: under SORI's 5 s, so a slow service is a 503 SORI retries. */
export const RECEIVE_TIMEOUT_MS = 4_000;

/**
 * What the deadline keeps back from the time left: rendering the answer, its log line and a metrics flush take
 * a few milliseconds, and the rest is room for an event loop slowed by a busy or throttled CPU, so that the
 * answer leaves before Lambda stops the function (which SORI would see as a failure, whatever was done).
 */
export const DEADLINE_MARGIN_MS = 500;

/** What the deadline of one invocation is computed from. */
export interface DeadlineOptions {
  /** The time an invocation has when no Lambda context says (the local server); default {@link RECEIVE_TIMEOUT_MS}. */
  timeoutMs?: number | undefined;
  /** Default {@link DEADLINE_MARGIN_MS}. */
  marginMs?: number | undefined;
}

/**
 * The one deadline of an invocation, shared by every call it makes: the time Lambda says is left
 * (`getRemainingTimeInMillis`), or the configured timeout where no Lambda context is given, less the margin.
 */
export function invocationDeadline(
  context: { getRemainingTimeInMillis?: unknown } | undefined,
  options: DeadlineOptions = {},
  now = Date.now(),
): Deadline {
  const remaining =
    typeof context?.getRemainingTimeInMillis === 'function'
      ? Number(context.getRemainingTimeInMillis())
      : (options.timeoutMs ?? RECEIVE_TIMEOUT_MS);
  return now + remaining - (options.marginMs ?? DEADLINE_MARGIN_MS);
}
