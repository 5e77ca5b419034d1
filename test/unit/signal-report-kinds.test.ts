import { describe, expect, it } from 'vitest';
import { type SignalledCounterItem, signalReport } from '../../lib/signals/report';
import { DEFAULT_SIGNAL_THRESHOLDS } from '../../lib/signals/thresholds';
import { counterItem } from '../../lib/table/counter-items';
import { fromCounterItem } from '../../lib/table/records-table';
import { campaignSignalsOf } from '../../lib/table/signal-attributes';

const THRESHOLDS = { ...DEFAULT_SIGNAL_THRESHOLDS, ctr: 0.5, ctrMinImpressions: 10 };
const key = { provider: 'sori', campaignId: 'cmp_r', day: '2025-10-14' };

/** A counter item of 10 `campaign.impression` and 8 `campaign.click`, as the read model reads it. */
function readItem(counted?: Record<string, 'impressions' | 'clicks'>): SignalledCounterItem {
  const item = counterItem(key, {
    counts: { 'n:campaign.impression': 10, 'n:campaign.click': 8 },
    devices: 18,
    name: null,
    version: 1,
    fold: 'f',
    legacyClaims: new Map(),
    ...(counted ? { counted } : {}),
  });
  return { ...fromCounterItem(item), signals: campaignSignalsOf(item) };
}

describe('the high CTR of the signal report', () => {
  it('reads a counter item’s counts as the item says its types counted when received, and an item that does not say as its provider counts them now', () => {
    const swapped = signalReport(
      [readItem({ 'campaign.impression': 'clicks', 'campaign.click': 'impressions' })],
      [],
      THRESHOLDS,
    );
    // 8 impressions: too few for a CTR.
    expect(swapped.high_ctr).toEqual([]);
    const earlier = signalReport([readItem()], [], THRESHOLDS);
    expect(earlier.high_ctr.map((row) => [row.impressions, row.clicks])).toEqual([[10, 8]]);
  });
});
