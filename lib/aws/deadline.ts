/**
 * The time by which an invocation must have its answer, in milliseconds since the epoch (as `Date.now()`).
 * Every call it makes to a service shares it: each try takes its own limit or what is left, whichever is less,
 * and a try that cannot start before it is not started.
 */
export type Deadline = number;

/** The milliseconds left before `deadline`; unbounded when there is none. */
export function timeLeft(deadline: Deadline | undefined, now = Date.now()): number {
  return deadline === undefined ? Number.POSITIVE_INFINITY : deadline - now;
}

/**
 * The time one try may take: its own limit, or what is left before the deadline when that is less.
 * @throws {DeadlineExceededError} when nothing is left, so the try is not started.
 */
export function tryTimeout(limitMs: number, deadline: Deadline | undefined, now = Date.now()): number {
  const left = timeLeft(deadline, now);
  if (left <= 0) throw new DeadlineExceededError();
  return Math.min(limitMs, left);
}

/** A call that was not started, or not tried again, because the invocation's deadline had come. */
export class DeadlineExceededError extends Error {
  constructor() {
    super("no time left before the invocation's deadline");
    this.name = 'DeadlineExceededError';
  }
}

/**
 * Runs `work` with an abort signal that fires after `limitMs` or at the deadline, whichever comes first, and
 * settles by then even if `work` does not heed the signal: for a client of its own (the SDK's) that takes one.
 * @throws {DeadlineExceededError} without running `work` when the deadline has passed.
 * @throws {Error} named `TimeoutError` when the time ran out first.
 */
export async function withinTime<T>(
  limitMs: number,
  deadline: Deadline | undefined,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const timeoutMs = tryTimeout(limitMs, deadline);
  const controller = new AbortController();
  // Neither a limit nor a deadline: nothing to time.
  if (!Number.isFinite(timeoutMs)) return work(controller.signal);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const reason = Object.assign(new Error(`no answer within ${Math.round(timeoutMs)} ms`), {
        name: 'TimeoutError',
      });
      // Settled first, so the caller learns of the time running out rather than of the abort it causes.
      reject(reason);
      controller.abort(reason);
    }, timeoutMs);
  });
  try {
    return await Promise.race([work(controller.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}
