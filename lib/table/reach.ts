import type { AttributeValue } from '@aws-sdk/client-dynamodb';

/**
 * Unique devices over a range of days, exact, from one small histogram per day.
 *
 * A device counted on day `d` is kept in `d`'s histogram under the gap, in days, to the last day before `d` on
 * which it was counted in the same scope (a campaign, or all of a provider's campaigns); gap 0 when there is
 * none within {@link MAX_RANGE_DAYS} − 1 days. Over a range `[from, to]`, a device is counted once, on its first
 * day in the range: the day `d` whose previous day lies before `from`, that is whose gap is 0 or larger than
 * `d − from`. So the reach of any range of up to {@link MAX_RANGE_DAYS} days is a sum over its days' histograms
 * (at most 92 entries each), whatever the number of devices.
 */
export type ReachHistogram = ReadonlyMap<number, number>;

/** The attribute of a counter item or a provider-day item that holds its day's histogram. */
export const REACH_ATTRIBUTE = 'reach';

/**
 * The attribute of a counter item folded before histograms were kept that holds the devices it had then (they
 * count as new to any range; the day's provider-day item counts them once).
 */
export const REACH_SEED_ATTRIBUTE = 'reach_seed';

/** The longest range whose unique devices the histograms give exactly. */
export const MAX_RANGE_DAYS = 92;

/** Gaps above this are kept as 0: no range of {@link MAX_RANGE_DAYS} days holds both days. */
const LONGEST_GAP = MAX_RANGE_DAYS - 1;

const DAY_MS = 86_400_000;

/** A UTC day `YYYY-MM-DD` as a number of days since 1970-01-01. */
export const dayNumber = (day: string): number => Math.round(Date.parse(`${day}T00:00:00Z`) / DAY_MS);
/** The UTC day `YYYY-MM-DD` of a day number. */
export const dayOfNumber = (n: number): string => new Date(n * DAY_MS).toISOString().slice(0, 10);

/** The day's unique devices in its scope. */
export function devicesOf(histogram: ReachHistogram): number {
  let total = 0;
  for (const count of histogram.values()) total += count;
  return total;
}

/** Adds a histogram's counts into another. */
export function addInto(target: Map<number, number>, histogram: ReachHistogram): void {
  for (const [gap, count] of histogram) target.set(gap, (target.get(gap) ?? 0) + count);
}

/**
 * Unique devices over `[from, to]` (UTC days, inclusive; at most {@link MAX_RANGE_DAYS} days), exact.
 * @param byDay the scope's histogram per day; a day missing saw no device.
 * @throws RangeError for a range longer than {@link MAX_RANGE_DAYS} days.
 */
export function uniqueOver(byDay: ReadonlyMap<string, ReachHistogram>, from: string, to: string): number {
  const first = dayNumber(from);
  const length = dayNumber(to) - first + 1;
  if (length > MAX_RANGE_DAYS)
    throw new RangeError(`a range of unique devices spans at most ${MAX_RANGE_DAYS} days`);
  let total = 0;
  for (let offset = 0; offset < length; offset++) {
    const histogram = byDay.get(dayOfNumber(first + offset));
    if (!histogram) continue;
    for (const [gap, count] of histogram) if (gap === 0 || gap > offset) total += count;
  }
  return total;
}

/**
 * What adding days to a scope's set of counted days does to its histograms: per day, the changes by gap.
 * @param before the days the histograms hold now (day numbers, any order)
 * @param after `before` with the new days
 */
export function reachChanges(
  before: Iterable<number>,
  after: Iterable<number>,
): Map<number, Map<number, number>> {
  const changes = new Map<number, Map<number, number>>();
  const move = (day: number, gap: number, by: number) => {
    const byGap = changes.get(day) ?? new Map<number, number>();
    byGap.set(gap, (byGap.get(gap) ?? 0) + by);
    if (byGap.get(gap) === 0) byGap.delete(gap);
    if (byGap.size === 0) changes.delete(day);
    else changes.set(day, byGap);
  };
  const old = gapsOf(before);
  const next = gapsOf(after);
  for (const [day, gap] of old) if (next.get(day) !== gap) move(day, gap, -1);
  for (const [day, gap] of next) if (old.get(day) !== gap) move(day, gap, +1);
  return changes;
}

/** Each day of a set with its gap to the day before it in the set (0 when none is close enough). */
function gapsOf(days: Iterable<number>): Map<number, number> {
  const sorted = [...new Set(days)].sort((a, b) => a - b);
  const gaps = new Map<number, number>();
  sorted.forEach((day, i) => {
    const previous = sorted[i - 1];
    const gap = previous === undefined ? 0 : day - previous;
    gaps.set(day, gap > LONGEST_GAP ? 0 : gap);
  });
  return gaps;
}

/** A histogram as an attribute (`[[gap, count], …]`, counts above 0 only). */
export function histogramAttribute(histogram: ReachHistogram): AttributeValue {
  const entries = [...histogram].filter(([, count]) => count > 0).sort(([a], [b]) => a - b);
  return { S: JSON.stringify(entries) };
}

/** A histogram read back from its attribute (empty for none). */
export function histogramOf(value: AttributeValue | undefined): Map<number, number> {
  const histogram = new Map<number, number>();
  if (!value?.S) return histogram;
  for (const [gap, count] of JSON.parse(value.S) as [number, number][]) {
    if (Number.isInteger(gap) && Number.isInteger(count) && count > 0) histogram.set(gap, count);
  }
  return histogram;
}

/** A histogram with a change applied (counts that reach 0 dropped). */
export function changed(
  histogram: ReachHistogram,
  change: ReadonlyMap<number, number> | undefined,
): Map<number, number> {
  const next = new Map(histogram);
  for (const [gap, by] of change ?? []) {
    const count = (next.get(gap) ?? 0) + by;
    if (count > 0) next.set(gap, count);
    else next.delete(gap);
  }
  return next;
}

/**
 * A set of days as a string: the first day's number, then a bitmap of the days from it, base64
 * (`<first>:<bits>`); a device seen every day of a year takes about 70 bytes.
 */
export function encodeDays(days: Iterable<number>): string {
  const sorted = [...new Set(days)].sort((a, b) => a - b);
  const first = sorted[0];
  if (first === undefined) return '';
  const bits = Buffer.alloc(Math.floor(((sorted.at(-1) as number) - first) / 8) + 1);
  for (const day of sorted) {
    const offset = day - first;
    bits[offset >> 3] = (bits[offset >> 3] as number) | (1 << (offset & 7));
  }
  return `${first}:${bits.toString('base64')}`;
}

/** The days of {@link encodeDays}'s string. */
export function decodeDays(value: string | undefined): number[] {
  if (!value) return [];
  const [first, encoded] = value.split(':');
  const start = Number(first);
  const bits = Buffer.from(encoded ?? '', 'base64');
  const days: number[] = [];
  for (let offset = 0; offset < bits.length * 8; offset++) {
    if (((bits[offset >> 3] as number) >> (offset & 7)) & 1) days.push(start + offset);
  }
  return days;
}
