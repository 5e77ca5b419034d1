import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { CountedKinds } from '../events/event-record';
import { countedKindsOfItem } from './counter-items';

type Item = Record<string, AttributeValue>;

/**
 * The signals a campaign-day's counter item carries, written by the fold with its counts (no write of their own):
 * - `orphans`: its clicks whose activity has no impression stored yet, as `<created_at> <activity_id>`, kept so
 *   that an impression stored later takes its click off; `orphansOver` counts those past {@link MAX_ORPHANS},
 *   which an impression stored later can no longer take off;
 * - `bursts`: the devices over the clicks-per-minute threshold, as `<minute> <device_id>`.
 */
export interface CampaignSignals {
  orphans: Set<string>;
  orphansOver: number;
  bursts: Set<string>;
  /** Some bursts were left out ({@link MAX_FLAGS} kept): the number is a lower bound. */
  burstsFull: boolean;
  /**
   * What the item's counted event types count as, as received (the high CTR reads its counts by it); absent on
   * an item no fold wrote since items said. Written with the counts, not with the signals.
   */
  counted?: CountedKinds;
}

/** The signals a provider-day item carries: devices flagged that day, by why. */
export interface LoginSignals {
  /** Devices signed in that day to more accounts than the threshold. */
  accounts: Set<string>;
  /** Devices signed in that day from two countries within the threshold's minutes. */
  countries: Set<string>;
  /** Some devices were left out ({@link MAX_FLAGS} kept of each): the numbers are lower bounds. */
  full: boolean;
}

/**
 * Orphan clicks a counter item keeps. Each entry a signal keeps is a sender's value of at most a few dozen
 * bytes: 1,000 orphans and {@link MAX_FLAGS} flags of each kind keep a counter item or a provider-day item
 * far below DynamoDB's 400 KB item limit, and the fold is their one writer, so the bound holds exactly.
 */
export const MAX_ORPHANS = 1_000;
/** Flags of each kind (bursts, accounts, countries) an item keeps; see {@link MAX_ORPHANS} for why. */
export const MAX_FLAGS = 500;

const A = {
  orphans: 'sig_orphans',
  orphansOver: 'sig_orphans_over',
  bursts: 'sig_bursts',
  burstsFull: 'sig_bursts_full',
  accounts: 'sig_accounts',
  countries: 'sig_countries',
  loginsFull: 'sig_logins_full',
} as const;

/** The names of the signal attributes (kept apart from counts, which are `n:` and breakdown names). */
export const SIGNAL_ATTRIBUTES: readonly string[] = Object.values(A);

const set = (item: Item | undefined, name: string) => new Set(item?.[name]?.SS ?? []);

/** @returns the campaign signals a counter item holds (none for an item without). */
export function campaignSignalsOf(item: Item | undefined): CampaignSignals {
  const counted = countedKindsOfItem(item);
  return {
    orphans: set(item, A.orphans),
    orphansOver: Number(item?.[A.orphansOver]?.N ?? 0),
    bursts: set(item, A.bursts),
    burstsFull: item?.[A.burstsFull]?.BOOL === true,
    ...(counted ? { counted } : {}),
  };
}

/** The attributes that hold campaign signals on a counter item (a string set cannot be empty: none then). */
export function campaignSignalAttributes(signals: CampaignSignals): Item {
  const item: Item = {};
  if (signals.orphans.size > 0) item[A.orphans] = { SS: [...signals.orphans].sort() };
  if (signals.orphansOver > 0) item[A.orphansOver] = { N: String(signals.orphansOver) };
  if (signals.bursts.size > 0) item[A.bursts] = { SS: [...signals.bursts].sort() };
  if (signals.burstsFull) item[A.burstsFull] = { BOOL: true };
  return item;
}

/** @returns the login signals a provider-day item holds. */
export function loginSignalsOf(item: Item | undefined): LoginSignals {
  return {
    accounts: set(item, A.accounts),
    countries: set(item, A.countries),
    full: item?.[A.loginsFull]?.BOOL === true,
  };
}

/** The attributes that hold login signals on a provider-day item. */
export function loginSignalAttributes(signals: LoginSignals): Item {
  const item: Item = {};
  if (signals.accounts.size > 0) item[A.accounts] = { SS: [...signals.accounts].sort() };
  if (signals.countries.size > 0) item[A.countries] = { SS: [...signals.countries].sort() };
  if (signals.full) item[A.loginsFull] = { BOOL: true };
  return item;
}

/** An orphan click's entry: `<created_at> <activity_id>` (a created_at has no space). */
export const orphanEntry = (at: string, activity: string) => `${at} ${activity}`;
/** @returns the created_at and activity of an orphan click's entry. */
export function parseOrphan(entry: string): { at: string; activity: string } {
  const space = entry.indexOf(' ');
  return { at: entry.slice(0, space), activity: entry.slice(space + 1) };
}
/** A burst's entry: `<minute> <device_id>` (the minute is `YYYY-MM-DDTHH:MM`). */
export const burstEntry = (minute: string, device: string) => `${minute} ${device}`;
/** @returns the device of a burst's entry. */
export const burstDevice = (entry: string) => entry.slice(entry.indexOf(' ') + 1);

/** Adds `entries` to `target` up to `max` entries. @returns whether some were left out. */
export function addBounded(target: Set<string>, entries: Iterable<string>, max: number): boolean {
  let full = false;
  for (const entry of entries) {
    if (target.has(entry)) continue;
    if (target.size >= max) full = true;
    else target.add(entry);
  }
  return full;
}
