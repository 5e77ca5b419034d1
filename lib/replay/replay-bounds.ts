const DAY_MS = 86_400_000;

/**
 * The most days a replay's range may span, its first and last day included: a replay reads each day of its range
 * partition by partition, so an unbounded one (year 1 to 9999) would read millions of days before it ended. A
 * longer replay is split into ranges of at most this many days.
 */
export const MAX_REPLAY_DAYS = 400;

/** `true` when `YYYY-MM-DD` names a real calendar day (Date.parse takes `2026-02-30` as 2 March). */
function isCalendarDay(day: string): boolean {
  const ms = Date.parse(`${day}T00:00:00.000Z`);
  return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 10) === day;
}

/**
 * An ISO 8601 date or date-time as an ISO date-time (UTC, milliseconds); a day alone is its first or (`endOfDay`)
 * its last millisecond.
 * @returns `undefined` when `value` is not one, an impossible calendar day (2026-02-29, 2026-04-31) included.
 */
export function replayTime(value: unknown, endOfDay: boolean): string | undefined {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}/.test(value)) return undefined;
  const dayOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const ms = Date.parse(dayOnly ? `${value}T00:00:00.000Z` : value);
  const day = /^(\d{4}-\d{2}-\d{2})T/.exec(value)?.[1] ?? value.slice(0, 10);
  if (Number.isNaN(ms) || !isCalendarDay(day)) return undefined;
  return new Date(dayOnly && endOfDay ? ms + 86_399_999 : ms).toISOString();
}

/**
 * What is wrong with a replay's range given as ISO date-times (`since` and `until` as {@link replayTime} gives
 * them), named by `names` (the CLI's flags or the function's fields).
 * @returns the problem in one line, or `undefined` when the range is one a replay takes.
 */
export function replayRangeProblem(
  since: string,
  until: string,
  names: { since: string; until: string },
): string | undefined {
  if (since > until) return `${names.since} is after ${names.until}`;
  const days = Math.floor(Date.parse(until) / DAY_MS) - Math.floor(Date.parse(since) / DAY_MS) + 1;
  if (days > MAX_REPLAY_DAYS)
    return `the range ${names.since} to ${names.until} spans ${days} days, over ${MAX_REPLAY_DAYS} days: split the range into replays of at most ${MAX_REPLAY_DAYS} days`;
  return undefined;
}
