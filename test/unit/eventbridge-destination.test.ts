import { describe, expect, it } from 'vitest';
import type { Transport } from '../../lib/aws/aws-json-client';
import { DestinationError } from '../../lib/destinations/destination';
import {
  type BusEvent,
  batchesOf,
  busEvent,
  EVENT_SOURCE,
  EventBridgeDestination,
  entrySize,
} from '../../lib/destinations/eventbridge';
import type { EventRecord } from '../../lib/events/event-record';

const record = (i: number, metadataBytes = 10): EventRecord => ({
  id: `sori_${String(i).padStart(4, '0')}`,
  provider: 'sori',
  event: i % 2 ? 'campaign.click' : 'campaign.impression',
  account_id: null,
  campaign_id: 'cmp_1',
  campaign_name: null,
  material_id: null,
  material_name: null,
  activity_id: null,
  device_id: null,
  platform: null,
  created_at: '2026-03-01T10:00:00.000Z',
  received_at: '2026-03-01T10:00:01.000Z',
  metadata: { pad: 'x'.repeat(metadataBytes) },
  geolocation: null,
});

const CREDENTIALS = () => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' });

/**
 * A stand-in for EventBridge's endpoint, by necessity: no server we can run refuses chosen entries of a call.
 * It answers each `PutEvents` with the entries `refuse` picks failed, and keeps every call's entries.
 */
function standIn(refuse: (entry: BusEvent, call: number) => boolean) {
  const calls: { target: string; entries: BusEvent[] }[] = [];
  const transport: Transport = async (_url, headers, body) => {
    const entries = (JSON.parse(body) as { Entries: BusEvent[] }).Entries;
    calls.push({ target: headers['x-amz-target'] ?? '', entries });
    const results = entries.map((entry) =>
      refuse(entry, calls.length)
        ? { ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }
        : { EventId: `e-${calls.length}-${entry.Detail.length}` },
    );
    return {
      status: 200,
      body: JSON.stringify({
        FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length,
        Entries: results,
      }),
    };
  };
  return { calls, transport };
}

describe('the EventBridge destination', () => {
  it('puts each record as the documented bus event: source campaign-inbox, the event type as detail-type, the record id in the detail', () => {
    const entry = busEvent(record(1), 'replay', 'my-bus');
    expect(entry).toMatchObject({
      Source: EVENT_SOURCE,
      DetailType: 'campaign.click',
      EventBusName: 'my-bus',
    });
    expect(entry.Time).toBe(Date.parse('2026-03-01T10:00:00.000Z') / 1000);
    expect(JSON.parse(entry.Detail)).toEqual({ record_id: 'sori_0001', origin: 'replay', record: record(1) });
  });

  it('makes calls of at most 10 entries and under 256 KB, in order', () => {
    const small = Array.from({ length: 23 }, (_, i) => busEvent(record(i), 'replay', 'b'));
    expect(batchesOf(small).map((batch) => batch.length)).toEqual([10, 10, 3]);
    const large = Array.from({ length: 9 }, (_, i) => busEvent(record(i, 60_000), 'replay', 'b'));
    const batches = batchesOf(large);
    for (const batch of batches) {
      expect(batch.reduce((sum, entry) => sum + entrySize(entry), 0)).toBeLessThan(256 * 1024);
    }
    expect(batches.flat()).toEqual(large);
    expect(batches.length).toBeGreaterThan(2);
  });

  it('puts again only the entries EventBridge refused in a call that succeeded', async () => {
    // The second and fifth entries of the first call are refused, nothing after.
    const { calls, transport } = standIn((entry, call) => call === 1 && /sori_000[14]/.test(entry.Detail));
    const destination = new EventBridgeDestination({
      region: 'us-east-1',
      bus: 'b',
      credentials: CREDENTIALS,
      transport,
      backoffMs: 1,
      env: {},
    });
    await destination.send(
      Array.from({ length: 6 }, (_, i) => record(i)),
      'replay',
    );
    expect(calls.map((call) => call.target)).toEqual(['AWSEvents.PutEvents', 'AWSEvents.PutEvents']);
    expect(calls[0]?.entries).toHaveLength(6);
    expect(calls[1]?.entries.map((entry) => JSON.parse(entry.Detail).record_id)).toEqual([
      'sori_0001',
      'sori_0004',
    ]);
  });

  it('names the records EventBridge kept refusing once its tries are spent', async () => {
    const { calls, transport } = standIn((entry) => entry.Detail.includes('sori_0002'));
    const destination = new EventBridgeDestination({
      region: 'us-east-1',
      bus: 'b',
      credentials: CREDENTIALS,
      transport,
      backoffMs: 1,
      attempts: 3,
      env: {},
    });
    const failure = await destination.send([record(1), record(2)], 'replay').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DestinationError);
    expect((failure as DestinationError).recordIds).toEqual(['sori_0002']);
    expect((failure as DestinationError).message).toContain('InternalFailure');
    expect(calls.map((call) => call.entries.length)).toEqual([2, 1, 1]);
  });
});
