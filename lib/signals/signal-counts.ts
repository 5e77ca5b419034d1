import type { CountedKinds } from '../events/event-record';
import { countAttribute } from '../table/records-table';
import type { SignalThresholds } from './thresholds';

/** Signals counted by kind: see `CampaignSignals` and `LoginSignals`. */
export interface SignalCounts {
  /** Clicks whose activity has no impression stored. */
  clicks_without_impression: number;
  /** Devices over the clicks-per-minute threshold (a device per campaign and minute). */
  click_bursts: number;
  /** Campaign-days whose CTR went over the threshold, with enough impressions. */
  high_ctr: number;
  /** Devices signed in to more accounts than the threshold (a device per provider-day). */
  shared_devices: number;
  /** Devices signed in from two countries within the threshold's minutes (a device per provider-day). */
  country_hops: number;
}

/** No signal. */
export const noSignals = (): SignalCounts => ({
  clicks_without_impression: 0,
  click_bursts: 0,
  high_ctr: 0,
  shared_devices: 0,
  country_hops: 0,
});

/**
 * Impressions and clicks of a campaign-day's counts, its event types counted as `kinds` says (what they counted as
 * when received, as the counter item keeps it).
 */
export function impressionsAndClicks(
  kinds: CountedKinds,
  counts: Readonly<Record<string, number>>,
): { impressions: number; clicks: number } {
  let impressions = 0;
  let clicks = 0;
  for (const [event, kind] of Object.entries(kinds)) {
    const count = counts[countAttribute(event)] ?? 0;
    if (kind === 'impressions') impressions += count;
    else clicks += count;
  }
  return { impressions, clicks };
}

/** Whether a campaign-day's CTR is over the threshold, with enough impressions to tell. */
export const isHighCtr = (figures: { impressions: number; clicks: number }, thresholds: SignalThresholds) =>
  figures.impressions >= thresholds.ctrMinImpressions &&
  figures.clicks / figures.impressions > thresholds.ctr;
