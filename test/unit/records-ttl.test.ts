import { describe, expect, it } from 'vitest';
import type { EventRecord } from '../../lib/events/event-record';
import { interpretSori } from '../../lib/providers/sori';
import { deviceMarkerItem, TTL_ATTRIBUTE, toItem } from '../../lib/table/records-table';
import { soriPayload } from '../support/deliveries';

// An event created long before it arrives (a late redrive, a backfill) must still be kept for the whole
// retention: the clock starts when it is received, not when it was created.
const RECEIVED = '2026-11-22T12:00:00.000Z';
const CREATED = '2025-10-14T05:25:12.421Z';
const layout = { shards: 1, retentionDays: 365 };
const expected = String(Date.parse(RECEIVED) / 1000 + 365 * 86_400);

function impression(): EventRecord & { campaign_id: string; device_id: string } {
  const result = interpretSori({ ...soriPayload('impression'), created_at: CREATED }, RECEIVED);
  if (!result.ok) throw new Error(result.reason);
  const { campaign_id, device_id } = result.record;
  if (!campaign_id || !device_id) throw new Error('the seed impression has a campaign and a device');
  return { ...result.record, campaign_id, device_id };
}

describe('expires_at (TTL)', () => {
  it("counts a record's retention from its receipt, not from a created_at over a year earlier", () => {
    const record = impression();
    const item = toItem({ v: 1, kind: 'event', record, raw: '{}', raw_encoding: 'utf8' }, layout);
    expect(item[TTL_ATTRIBUTE]).toEqual({ N: expected });
    expect(Number(item[TTL_ATTRIBUTE]?.N) * 1000).toBeGreaterThan(Date.parse(RECEIVED));
  });

  it("counts a device marker's retention from its receipt too", () => {
    expect(deviceMarkerItem(impression(), layout)?.[TTL_ATTRIBUTE]).toEqual({ N: expected });
  });

  it('is absent when records are kept for ever', () => {
    const record = impression();
    const never = { shards: 1, retentionDays: null };
    expect(
      toItem({ v: 1, kind: 'event', record, raw: '{}', raw_encoding: 'utf8' }, never)[TTL_ATTRIBUTE],
    ).toBeUndefined();
    expect(deviceMarkerItem(record, never)?.[TTL_ATTRIBUTE]).toBeUndefined();
  });
});
