import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileRewardStore, rewardFirstClick } from '../../examples/reward-first-click';

const click = (campaign: string, device: string, id = `sori_${campaign}_${device}`) => ({
  id,
  provider: 'sori',
  event: 'campaign.click',
  campaign_id: campaign,
  device_id: device,
});

describe("the worked example's reward store", () => {
  it('grants each (campaign, device) once, for ids of any length, case and characters', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'campaign-inbox-rewards-'));
    const store = fileRewardStore(dir);
    const pairs: [string, string][] = [
      ['cmp_1', 'd'.repeat(256)],
      [`cmp_${'ü'.repeat(30)}`, 'device'],
      ['cmp_case', 'ABC'],
      ['cmp_case', 'abc'],
      ['a#b', 'c'],
      ['a', 'b#c'],
    ];
    for (const [campaign, device] of pairs) {
      expect(await rewardFirstClick(click(campaign, device), store)).toMatchObject({ device_id: device });
      // The same pair again (another click, or the same one's reaction run again) finds its reward taken.
      expect(await rewardFirstClick(click(campaign, device, 'sori_other'), store)).toBeUndefined();
    }
    expect(readdirSync(dir).filter((name) => name.endsWith('.json'))).toHaveLength(pairs.length);
  });
});
