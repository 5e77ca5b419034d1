import type { Destination, DestinationKind } from '../../lib/destinations/destination';
import { findProvider, providerNames } from '../../lib/providers';
import type { RangeReader, ReplayCursor, ReplayRange } from '../../lib/replay/range-reader';
import { replayRangeProblem, replayTime } from '../../lib/replay/replay-bounds';
import { replayRange } from '../../lib/replay/replay-range';

/**
 * What the replay function is invoked with: the range, the destination (one the stack configured), and, for the
 * legs after the first, where the previous leg stopped. The function hands each next leg this same object with
 * `cursor`, `sent` and `leg` moved on, so the payload is the checkpoint.
 *
 * ```sh
 * aws lambda invoke --function-name <ReplayFunction> --invocation-type Event \
 *   --cli-binary-format raw-in-base64-out \
 *   --payload '{"since":"2026-03-01","until":"2026-03-01","to":"eventbridge"}' /dev/null
 * ```
 */
export interface ReplayRequest {
  since: string;
  until: string;
  to: DestinationKind;
  campaign?: string;
  type?: string;
  provider?: string;
  cursor?: ReplayCursor | null;
  /** Events sent by the legs before this one. */
  sent?: number;
  /** 1 for the first leg. */
  leg?: number;
}

/** What one leg did. */
export type ReplayLegResult =
  | { status: 'complete'; sent: number; legs: number }
  | { status: 'continued'; sent: number; leg: number; cursor: ReplayCursor | null };

/** The request is not one the function can run. */
export class ReplayRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplayRequestError';
  }
}

/** An ISO date or date-time as an ISO date-time, as the CLI's `--since` and `--until` take it. */
function time(field: string, value: unknown, endOfDay: boolean): string {
  const parsed = replayTime(value, endOfDay);
  if (parsed === undefined)
    throw new ReplayRequestError(
      `${field} must be an ISO 8601 date or date-time, got ${JSON.stringify(value)}`,
    );
  return parsed;
}

/** The range a request asks for. @throws {ReplayRequestError} when it is malformed. */
export function rangeOfRequest(request: ReplayRequest): ReplayRange {
  const since = time('since', request.since, false);
  const until = time('until', request.until, true);
  const problem = replayRangeProblem(since, until, { since: 'since', until: 'until' });
  if (problem) throw new ReplayRequestError(problem);
  const known = providerNames();
  if (request.provider !== undefined && !known.includes(request.provider))
    throw new ReplayRequestError(`unknown provider ${JSON.stringify(request.provider)}`);
  const providers = request.provider ? [request.provider] : known;
  return {
    since,
    until,
    providers,
    // The types whose partitions hold each provider's events of no campaign, as the providers served here list them.
    eventTypes: Object.fromEntries(providers.map((name) => [name, findProvider(name)?.events ?? []])),
    campaign: request.campaign,
    type: request.type,
  };
}

export interface ReplayLegDeps {
  reader: RangeReader;
  /** The destinations the stack configured, by kind. */
  destinations: Partial<Record<DestinationKind, Destination>>;
  /** Milliseconds left before the invocation times out (the context's `getRemainingTimeInMillis`). */
  remainingMs: () => number;
  /** No page is started with less than this left: a page's sends must end before the timeout. */
  reserveMs: number;
  /** Hands the next leg its request (an asynchronous invocation of this function). */
  continueWith: (request: ReplayRequest) => Promise<void>;
}

/**
 * Runs one leg of a replay: pages of the range are sent from the request's cursor until the range is done or too
 * little time is left for another page, and then the next leg is invoked with the last page's cursor. A leg that
 * fails throws with its request unchanged, so Lambda's own retries of an asynchronous invocation, and at last its
 * failure destination, keep the cursor the leg started from: the replay resumes there, each event sent at least
 * once.
 * @throws {ReplayRequestError} for a malformed request or a destination the stack did not configure; what the
 *   destination or the reader threw.
 */
export async function replayLeg(request: ReplayRequest, deps: ReplayLegDeps): Promise<ReplayLegResult> {
  const range = rangeOfRequest(request);
  // Own properties only: a kind named like an object's property (`constructor`, `__proto__`) is no destination.
  const destination = Object.hasOwn(deps.destinations, request.to)
    ? deps.destinations[request.to]
    : undefined;
  if (!destination)
    throw new ReplayRequestError(
      `no ${JSON.stringify(request.to)} destination is configured for replays (configured: ${Object.keys(deps.destinations).join(', ') || 'none'})`,
    );
  const leg = request.leg ?? 1;
  const before = request.sent ?? 0;
  const outcome = await replayRange({
    reader: deps.reader,
    destination,
    range,
    from: request.cursor ?? undefined,
    shouldStop: () => deps.remainingMs() < deps.reserveMs,
  });
  const sent = before + outcome.sent;
  if (outcome.complete) return { status: 'complete', sent, legs: leg };
  await deps.continueWith({ ...request, cursor: outcome.cursor, sent, leg: leg + 1 });
  return { status: 'continued', sent, leg, cursor: outcome.cursor };
}
