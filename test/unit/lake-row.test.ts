import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { QueueMessage } from '../../lib/events/event-record';
import {
  LAKE_COLUMNS,
  type LakeRow,
  lakePartitionPath,
  lakeRowOf,
  lakeRowOfItem,
} from '../../lib/lake/lake-row';
import { optimizely } from '../../lib/providers/optimizely';
import type { Provider } from '../../lib/providers/provider';
import { sori } from '../../lib/providers/sori';
import { symphony } from '../../lib/providers/symphony';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { deviceMarkerItem, toItem } from '../../lib/table/records-table';
import { SORI_FIXTURES, soriPayload } from '../support/deliveries';

const FIXTURES = join(import.meta.dirname, '../../examples/payloads');
const RECEIVED = '2025-10-14T12:00:00.000Z';

const message = (provider: Provider, payload: unknown): Extract<QueueMessage, { kind: 'event' }> => {
  const built = buildQueueMessage(provider, Buffer.from(JSON.stringify(payload)), RECEIVED);
  if (built.kind !== 'event') throw new Error(`not an event: ${built.record.reason}`);
  return built;
};
const fixture = (provider: string, name: string) =>
  JSON.parse(readFileSync(join(FIXTURES, provider, `${name}.json`), 'utf8'));

/** Every fixture that is an event, of a provider with time and one keyed by id. */
const EVENTS = [
  ...SORI_FIXTURES.map((name) => message(sori, soriPayload(name))),
  message(optimizely, fixture('optimizely', 'bounce')),
  ...['campaign-created', 'campaign-updated', 'campaign-completed'].map((name) =>
    message(symphony, fixture('symphony', name)),
  ),
];

describe('the lake row', () => {
  it('is the same whether built from the stored item (the deployed stream transform) or from the record (the local sink), for every layout', () => {
    for (const layout of [
      { shards: 1, retentionDays: null },
      { shards: 8, retentionDays: 30 },
    ]) {
      for (const event of EVENTS) {
        const item = toItem(event, layout, 'batch-1.0');
        expect(lakeRowOfItem(item)).toEqual(lakeRowOf(event.record, event.policy?.keyed_by_id));
      }
    }
  });

  it('names the counter a campaign event moves as its provider counts it, and none for other events', () => {
    const rowOf = (event: (typeof EVENTS)[number]) => lakeRowOf(event.record, event.policy?.keyed_by_id);
    const [impression, click, authentication] = [
      soriPayload('impression'),
      soriPayload('click'),
      soriPayload('authentication'),
    ].map((payload) => rowOf(message(sori, payload)));
    expect(impression?.counter).toBe('impressions');
    expect(click?.counter).toBe('clicks');
    expect(authentication?.counter).toBeNull();
    // An impression of no campaign moves no campaign counter (SORI's own always name one).
    const impressionRecord = message(sori, soriPayload('impression')).record;
    expect(lakeRowOf({ ...impressionRecord, campaign_id: null }).counter).toBeNull();
    for (const event of EVENTS.filter((e) => e.record.provider === 'symphony')) {
      expect(rowOf(event)).toMatchObject({ keyed_by_id: true, counter: null });
    }
  });

  it('flattens the geolocation and keeps metadata as JSON text, the day of created_at as its partition', () => {
    const event = message(sori, soriPayload('impression'));
    const row: LakeRow = lakeRowOf(event.record);
    expect(row).toMatchObject({
      id: event.record.id,
      provider: 'sori',
      event: 'campaign.impression',
      day: '2025-10-14',
      created_at: '2025-10-14T05:25:12.421Z',
      received_at: RECEIVED,
      campaign_id: 'cmp_1234',
      material_id: 'mat_5678',
      material_name: 'Audio Spot 15s',
      device_id: 'device_abc',
      platform: 'Android',
      country: 'United States',
      region: 'Michigan',
      city: 'Ann Arbor',
      keyed_by_id: false,
    });
    expect(JSON.parse(row.metadata ?? 'null')).toEqual(event.record.metadata);
    expect(lakePartitionPath(row)).toBe('day=2025-10-14/provider=sori');
    expect(lakePartitionPath({ day: '2025-10-14', provider: 'a/b c' })).toBe(
      'day=2025-10-14/provider=a%2Fb%20c',
    );
  });

  it("has exactly the lake table's columns, in order, each value of its column's type, the required ones never null", () => {
    for (const event of EVENTS) {
      const row = lakeRowOf(event.record, event.policy?.keyed_by_id);
      expect(Object.keys(row)).toEqual(LAKE_COLUMNS.map((column) => column.name));
      for (const column of LAKE_COLUMNS) {
        const value = row[column.name];
        if (value === null) expect(column.required, column.name).toBe(false);
        else expect(typeof value, column.name).toBe(column.type);
      }
    }
  });

  it('is never made of an item that is not an event (a device marker, a quarantined delivery)', () => {
    const event = message(sori, soriPayload('impression'));
    const marker = deviceMarkerItem(event.record, { shards: 1, retentionDays: null });
    expect(marker).toBeDefined();
    expect(lakeRowOfItem(marker ?? {})).toBeUndefined();
    const quarantined = buildQueueMessage(sori, Buffer.from('{"event":"campaign.unknown"}'), RECEIVED);
    expect(quarantined.kind).toBe('quarantine');
    expect(lakeRowOfItem(toItem(quarantined))).toBeUndefined();
  });
});
