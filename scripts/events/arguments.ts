// The values the commands' flags take: days, times, limits and providers, each refused in one line when wrong.
import { providerNames } from '../../lib/providers';
import { UsageError } from '../entry';

/** `true` when `YYYY-MM-DD` names a real calendar day (Date.parse takes `2025-02-30` as 2 March). */
function isCalendarDay(day: string): boolean {
  const ms = Date.parse(`${day}T00:00:00.000Z`);
  return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 10) === day;
}

/** An ISO date or date-time as an ISO date-time; a day alone is its first or (`endOfDay`) its last millisecond. */
export function parseTime(flag: string, value: string | undefined, endOfDay: boolean): string | undefined {
  if (value === undefined) return undefined;
  const dayOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const ms = Date.parse(dayOnly ? `${value}T00:00:00.000Z` : value);
  const day = /^(\d{4}-\d{2}-\d{2})T/.exec(value)?.[1] ?? value.slice(0, 10);
  if (Number.isNaN(ms) || !/^\d{4}-\d{2}-\d{2}/.test(value) || !isCalendarDay(day))
    throw new UsageError(`${flag} must be an ISO 8601 date or date-time, got ${JSON.stringify(value)}`);
  return new Date(dayOnly && endOfDay ? ms + 86_399_999 : ms).toISOString();
}

/** A UTC day, `YYYY-MM-DD`. */
export function parseDay(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || !isCalendarDay(value)) {
    throw new UsageError(`${flag} must be a day, YYYY-MM-DD, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** `--limit`, 100 when not given. */
export function parseLimit(value: string | undefined): number {
  if (value === undefined) return 100;
  const limit = Number(value);
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new UsageError(`--limit must be a positive integer, got ${value}`);
  return limit;
}

/** `--provider`: one this build knows, or, when not given, every one. */
export function providersOf(provider: string | undefined): string[] {
  if (!provider) return providerNames();
  if (!providerNames().includes(provider)) {
    throw new UsageError(
      `unknown provider ${JSON.stringify(provider)}; known: ${providerNames().join(', ')}`,
    );
  }
  return [provider];
}
