import { describe, expect, it } from 'vitest';
import { DEFAULT_APP } from '../../lib/events/app-name';
import type { QueueMessage } from '../../lib/events/event-record';
import { LAKE_COLUMNS, lakeRowOf, lakeRowOfItem } from '../../lib/lake/lake-row';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { DEFAULT_LAYOUT, toItem } from '../../lib/table/records-table';
import { soriPayload } from '../support/deliveries';

const RECEIVED = '2025-10-14T12:00:00.000Z';

const message = (app?: string): Extract<QueueMessage, { kind: 'event' }> => {
  const built = buildQueueMessage(
    sori,
    Buffer.from(JSON.stringify(soriPayload('impression'))),
    RECEIVED,
    app === undefined ? undefined : { app },
  );
  if (built.kind !== 'event') throw new Error(`not an event: ${built.record.reason}`);
  return built;
};

/** The lake table's columns before apps: Iceberg numbers columns by position, so these keep their places. */
const COLUMNS_BEFORE_APPS = [
  'id',
  'provider',
  'event',
  'day',
  'created_at',
  'received_at',
  'account_id',
  'campaign_id',
  'campaign_name',
  'material_id',
  'material_name',
  'activity_id',
  'device_id',
  'platform',
  'country',
  'region',
  'city',
  'counter',
  'keyed_by_id',
  'metadata',
];

describe("the lake row's app", () => {
  it('is the last column, an optional string (rows kept before it have none), every earlier column where it was', () => {
    expect(LAKE_COLUMNS.map((column) => column.name)).toEqual([...COLUMNS_BEFORE_APPS, 'app']);
    // Iceberg's schema evolution adds no required column to a table that already has files.
    expect(LAKE_COLUMNS.at(-1)).toMatchObject({ name: 'app', type: 'string', required: false });
  });

  it("is the app the delivery came for, from the record (the local sink) and from the stored item (the stream's transform)", () => {
    const event = message('agency-a');
    expect(lakeRowOf(event.record).app).toBe('agency-a');
    expect(lakeRowOfItem(toItem(event, DEFAULT_LAYOUT))?.app).toBe('agency-a');
  });

  it('is the default app for a record that names none, from the record and from an item stored before records named theirs', () => {
    const event = message();
    expect(event.record.app).toBe(DEFAULT_APP);
    const { app: _, ...before } = event.record;
    expect(lakeRowOf(before).app).toBe(DEFAULT_APP);
    const { app: __, ...item } = toItem({ ...event, record: before }, DEFAULT_LAYOUT);
    expect(item.app).toBeUndefined();
    expect(lakeRowOfItem(item)?.app).toBe(DEFAULT_APP);
  });
});
