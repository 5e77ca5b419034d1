/**
 * The consumer's device-marker cache against the local DynamoDB-API server: a marker write is skipped only when
 * the container knows the marker is in the table (and, for a counted event, that its counted flag is set). The
 * client records the commands it sends and injects no fault.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import type { EventRecord } from '../../lib/events/event-record';
import { EventWriter } from '../../lib/ingest/event-writer';
import { COUNTED_ATTRIBUTE, DEFAULT_LAYOUT, deviceMarkerItem } from '../../lib/table/records-table';
import { keyOf } from '../../lib/table/table-io';
import { ensureRecordsTable } from '../../local/create-records-table';
import { faultyDynamoDb, uniqueName } from '../support/local-aws';

const recordOf = (device: string, campaign = 'cmp_0001'): EventRecord =>
  ({
    id: '',
    provider: 'sori',
    event: 'campaign.impression',
    created_at: '2025-10-14T12:00:00.000Z',
    received_at: '2025-10-14T12:00:00.000Z',
    device_id: device,
    campaign_id: campaign,
  }) as EventRecord;

async function setUp(markerCacheSize?: number) {
  const { client, seen } = faultyDynamoDb();
  const tableName = uniqueName('markers');
  await ensureRecordsTable(client, tableName);
  const writer = new EventWriter(client, tableName, DEFAULT_LAYOUT, markerCacheSize);
  const counted = async (record: EventRecord) => {
    const marker = deviceMarkerItem(record, DEFAULT_LAYOUT);
    const { Item } = await client.send(
      new GetItemCommand({ TableName: tableName, Key: keyOf(marker ?? {}), ConsistentRead: true }),
    );
    return Item?.[COUNTED_ATTRIBUTE]?.S;
  };
  return { writer, seen, counted, writes: () => seen.filter((c) => c.name !== 'GetItemCommand').length };
}

describe("the consumer's marker cache", () => {
  it('answers a counted marker it wrote from the cache, with no second write', async () => {
    const { writer, writes } = await setUp();
    const before = writes();
    expect(await writer.markDevice(recordOf('device-a'), true, 'w1')).toBe('first');
    expect(await writer.markDevice(recordOf('device-a'), true, 'w2')).toBe('seen');
    expect(await writer.markDevice(recordOf('device-a'), false)).toBe('seen');
    expect(writes() - before).toBe(1);
    expect(writer.cachedMarkers).toBe(1);
  });

  it('writes the counted flag for a counted event whose marker it knows only as present, and counts it first', async () => {
    const { writer, writes, counted } = await setUp();
    const before = writes();
    expect(await writer.markDevice(recordOf('device-b'), false)).toBe('seen');
    expect(await counted(recordOf('device-b'))).toBeUndefined();
    expect(await writer.markDevice(recordOf('device-b'), true, 'w1')).toBe('first');
    expect(await counted(recordOf('device-b'))).toBe('w1');
    expect(await writer.markDevice(recordOf('device-b'), true, 'w2')).toBe('seen');
    expect(writes() - before).toBe(2);
    expect(writer.cachedMarkers).toBe(1);
  });

  it('writes again a marker its full cache forgot, and finds it already counted', async () => {
    const { writer, writes, counted } = await setUp(1);
    const before = writes();
    expect(await writer.markDevice(recordOf('device-c'), true, 'w1')).toBe('first');
    expect(await writer.markDevice(recordOf('device-d'), true, 'w1')).toBe('first');
    expect(writer.cachedMarkers).toBe(1);
    expect(await writer.markDevice(recordOf('device-c'), true, 'w2')).toBe('seen');
    expect(writes() - before).toBe(3);
    expect(await counted(recordOf('device-c'))).toBe('w1');
  });

  it('keeps the markers of two campaigns of one device apart', async () => {
    const { writer, writes } = await setUp();
    const before = writes();
    expect(await writer.markDevice(recordOf('device-e', 'cmp_0001'), true, 'w1')).toBe('first');
    expect(await writer.markDevice(recordOf('device-e', 'cmp_0002'), true, 'w1')).toBe('first');
    expect(writes() - before).toBe(2);
  });
});
