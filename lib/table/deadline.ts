import { AsyncLocalStorage } from 'node:async_hooks';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

const deadlines = new AsyncLocalStorage<number>();

/**
 * Runs `work` with a deadline (epoch ms) that every table call made inside it obeys (see {@link callOptions}): a call
 * still running at the deadline is aborted, and none starts after it. A batch's writes must be over before its
 * claims can be taken for stale, or a write landing late would escape the recount that replaced them.
 */
export function withDeadline<T>(deadline: number, work: () => Promise<T>): Promise<T> {
  // A deadline inside another never extends it.
  return deadlines.run(Math.min(deadline, deadlines.getStore() ?? Number.POSITIVE_INFINITY), work);
}

/**
 * The options a table call is sent with: aborted at the current deadline, if there is one (retries included:
 * none starts after it). Pass them as `client.send(command, callOptions())`.
 */
export function callOptions(): { abortSignal?: AbortSignal } {
  const deadline = deadlines.getStore();
  if (deadline === undefined) return {};
  return { abortSignal: AbortSignal.timeout(Math.max(0, Math.floor(deadline - Date.now()))) };
}

/** Marks an error whose call had an attempt cut off without an answer (see {@link trackUnansweredAttempts}). */
const UNANSWERED = Symbol('an attempt of this call got no answer');

/**
 * Makes every call of `client` remember whether any of its attempts, not only the last, was cut off without an
 * answer: the SDK retries such an attempt, and the call's final error (a 500, a throttle) then says nothing of
 * the attempt that may still be applied. Adding it again changes nothing.
 */
export function trackUnansweredAttempts(client: DynamoDBClient): void {
  // Inside the retry loop (the SDK's retry middleware is `finalizeRequest`, priority high): once per attempt.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        // No answer, or a 5xx: DynamoDB documents a 500 as "may or may not have succeeded".
        if (!answeredNotApplied(error)) (context as Record<symbol, boolean>)[UNANSWERED] = true;
        throw error;
      }
    },
    { step: 'finalizeRequest', priority: 'low', name: 'unansweredAttempts', override: true },
  );
  // Outside it: the call's final error carries what any attempt saw.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        if ((context as Record<symbol, boolean>)[UNANSWERED] && error && typeof error === 'object') {
          Object.defineProperty(error, UNANSWERED, { value: true });
        }
        throw error;
      }
    },
    { step: 'initialize', name: 'unansweredCall', override: true },
  );
}

/** `true` for an error DynamoDB answered with a status below 500: a refusal, so nothing was applied. */
const answeredNotApplied = (error: unknown) => {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata
    ?.httpStatusCode;
  return typeof status === 'number' && status < 500;
};

/**
 * `true` when DynamoDB answered every attempt of the failed call with a refusal (a status below 500: a throttle,
 * a failed condition, a validation error), so nothing of it was applied nor can be later; `false` when an attempt
 * was cut off without an answer (a reset, a timeout, an abort: it may still be in flight) or answered 5xx (which
 * DynamoDB documents as "may or may not have succeeded"). Only calls of a client given to
 * {@link trackUnansweredAttempts} know their earlier attempts.
 */
export function wasAnswered(error: unknown): boolean {
  return answeredNotApplied(error) && !(error as Record<symbol, unknown>)[UNANSWERED];
}
