import { currentCountedKinds } from '../receive/event-policy';
import type { ProviderDay } from '../table/provider-days';
import type { CounterItem } from '../table/records-table';
import { burstDevice, type CampaignSignals } from '../table/signal-attributes';
import { impressionsAndClicks, isHighCtr } from './signal-counts';
import type { SignalThresholds } from './thresholds';

/** A counter item as the read model reads it, with its signals (none for an item folded before they were kept). */
export type SignalledCounterItem = CounterItem & { signals?: CampaignSignals };

/** A campaign-day's figure behind a signal. */
interface CampaignDay {
  provider: string;
  campaign_id: string;
  day: string;
}

/**
 * The fraud and quality signals of a range (`events stats --signals`, the dashboard's `signals`): the fields are
 * a contract (extend, never rename). Each list holds what raised the signal, most first.
 */
export interface SignalReport {
  thresholds: SignalThresholds;
  /** Campaign-days with clicks whose activity has no impression stored (within the window either side). */
  clicks_without_impression: (CampaignDay & { clicks: number; activities: string[] })[];
  /** Devices over the clicks-per-minute threshold in a campaign: one row per campaign-day and device. */
  click_bursts: (CampaignDay & { device_id: string; minutes: string[]; lower_bound: boolean })[];
  /** Campaign-days whose CTR is over the threshold with enough impressions. */
  high_ctr: (CampaignDay & { impressions: number; clicks: number; ctr: number })[];
  /** Devices signed in to more accounts than the threshold, per provider-day. */
  shared_devices: { provider: string; day: string; device_id: string }[];
  /** Devices signed in from two countries within the threshold's minutes, per provider-day. */
  country_hops: { provider: string; day: string; device_id: string }[];
  /** How many of each: the numbers the metrics and alarms count. */
  counts: {
    clicks_without_impression: number;
    click_bursts: number;
    high_ctr: number;
    shared_devices: number;
    country_hops: number;
  };
}

/**
 * The signals of counter items and provider-day items already read (no read of its own): those the fold keeps
 * on them, and the CTR, which their counts give.
 */
export function signalReport(
  items: readonly SignalledCounterItem[],
  providerDays: readonly ProviderDay[],
  thresholds: SignalThresholds,
): SignalReport {
  const report: SignalReport = {
    thresholds,
    clicks_without_impression: [],
    click_bursts: [],
    high_ctr: [],
    shared_devices: [],
    country_hops: [],
    counts: {
      clicks_without_impression: 0,
      click_bursts: 0,
      high_ctr: 0,
      shared_devices: 0,
      country_hops: 0,
    },
  };
  for (const item of items) {
    const where = { provider: item.provider, campaign_id: item.campaign_id, day: item.day };
    const signals = item.signals;
    if (signals && signals.orphans.size + signals.orphansOver > 0) {
      const activities = [...signals.orphans].map((entry) => entry.slice(entry.indexOf(' ') + 1)).sort();
      report.clicks_without_impression.push({
        ...where,
        clicks: signals.orphans.size + signals.orphansOver,
        activities,
      });
    }
    const byDevice = new Map<string, string[]>();
    for (const entry of signals?.bursts ?? []) {
      const device = burstDevice(entry);
      byDevice.set(device, [...(byDevice.get(device) ?? []), entry.slice(0, entry.indexOf(' '))]);
    }
    for (const [device, minutes] of byDevice) {
      report.click_bursts.push({
        ...where,
        device_id: device,
        minutes: minutes.sort(),
        lower_bound: signals?.burstsFull === true,
      });
    }
    const counts: Record<string, number> = {};
    for (const [event, count] of Object.entries(item.counts)) counts[`n:${event}`] = count;
    // An item no fold wrote since items kept what their types counted as: the provider's current code tells.
    const figures = impressionsAndClicks(signals?.counted ?? currentCountedKinds(item.provider), counts);
    if (isHighCtr(figures, thresholds))
      report.high_ctr.push({ ...where, ...figures, ctr: figures.clicks / figures.impressions });
  }
  for (const day of providerDays) {
    for (const device of day.signals?.accounts ?? [])
      report.shared_devices.push({ provider: day.provider, day: day.day, device_id: device });
    for (const device of day.signals?.countries ?? [])
      report.country_hops.push({ provider: day.provider, day: day.day, device_id: device });
  }
  report.clicks_without_impression.sort((a, b) => b.clicks - a.clicks || order(a, b));
  report.click_bursts.sort((a, b) => b.minutes.length - a.minutes.length || order(a, b));
  report.high_ctr.sort((a, b) => b.ctr - a.ctr || order(a, b));
  const byDay = (a: { day: string; device_id: string }, b: { day: string; device_id: string }) =>
    a.day.localeCompare(b.day) || a.device_id.localeCompare(b.device_id);
  report.shared_devices.sort(byDay);
  report.country_hops.sort(byDay);
  report.counts = {
    clicks_without_impression: report.clicks_without_impression.reduce((sum, row) => sum + row.clicks, 0),
    click_bursts: report.click_bursts.length,
    high_ctr: report.high_ctr.length,
    shared_devices: report.shared_devices.length,
    country_hops: report.country_hops.length,
  };
  return report;
}

const order = (a: CampaignDay, b: CampaignDay) =>
  a.day.localeCompare(b.day) ||
  a.provider.localeCompare(b.provider) ||
  a.campaign_id.localeCompare(b.campaign_id);
