/**
 * `/api/dashboard`'s material rows carry the name the stored events give each material (counters keep only its
 * id), beside the counts they always had, read from the run's local DynamoDB server.
 */
import { describe, expect, it } from 'vitest';
import type { QueueMessage } from '../../lib/events/event-record';
import { sori } from '../../lib/providers/sori';
import { DashboardReader, LATEST_EVENTS, MATERIAL_NAME_EVENTS } from '../../lib/queries/dashboard';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import type { TableLayout } from '../../lib/table/records-table';
import { soriPayload } from '../support/deliveries';
import { createTestTable, faultyDynamoDb, localClients } from '../support/local-aws';
import { storeAndFold } from '../support/store-and-fold';

const { dynamodb } = localClients();
const DAY = '2025-10-14';
let sent = 0;

/** A SORI event of `campaign` on {@link DAY} at `time` (`HH:MM:SS.mmm`), showing `material`. */
function event(
  time: string,
  material: { id: string; name: string | null },
  options: { click?: boolean; campaign?: string } = {},
): QueueMessage {
  sent += 1;
  return buildQueueMessage(
    sori,
    Buffer.from(
      JSON.stringify({
        ...soriPayload(options.click ? 'click' : 'impression'),
        activity_id: `act_material_${sent}`,
        device_id: `device_${sent}`,
        created_at: `${DAY}T${time}Z`,
        campaign: { id: options.campaign ?? 'cmp_names', name: 'Names' },
        material: { ...material, tags: [], image: null },
      }),
    ),
    `${DAY}T23:59:59.000Z`,
  );
}

/** `count` impressions of one material, a second apart from `hour`:00:00. */
const impressions = (hour: number, count: number, material: { id: string; name: string | null }) =>
  Array.from({ length: count }, (_, i) =>
    event(
      `${String(hour).padStart(2, '0')}:${String(Math.floor(i / 60)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}.000`,
      material,
    ),
  );

async function store(layout: TableLayout, messages: QueueMessage[]) {
  const table = await createTestTable(dynamodb, layout);
  for (let i = 0; i < messages.length; i += 25) {
    await storeAndFold(table.writer, table.counters, messages.slice(i, i + 25));
  }
  return table.tableName;
}

/** The queries a read made to look for material names (the only ones that read `material_name` alone). */
const nameSearches = (seen: { name: string; input: Record<string, unknown> }[]) =>
  seen.filter((c) => c.name === 'QueryCommand' && String(c.input.ProjectionExpression).includes('#name'));

describe('the dashboard’s material rows', () => {
  it('carry the newest name the events give each material, null for a material no event names, and the key, impressions and clicks as before', async () => {
    const tableName = await store({ shards: 1, retentionDays: null }, [
      event('08:00:00.000', { id: 'mat_5678', name: 'Audio Spot 15s' }),
      event('08:00:01.000', { id: 'mat_5678', name: 'Audio Spot 15s' }, { click: true }),
      event('09:00:00.000', { id: 'mat_5678', name: 'Audio Spot 15s, second cut' }),
      event('08:30:00.000', { id: 'mat_unnamed', name: null }),
      event('08:40:00.000', { id: 'mat_other_campaign', name: 'Hero banner' }, { campaign: 'cmp_second' }),
    ]);
    const dashboard = await new DashboardReader(dynamodb, tableName, { shards: 1, retentionDays: null }).read(
      DAY,
    );
    expect(dashboard.breakdowns.material).toEqual([
      { key: 'mat_5678', impressions: 2, clicks: 1, name: 'Audio Spot 15s, second cut' },
      { key: 'mat_other_campaign', impressions: 1, clicks: 0, name: 'Hero banner' },
      { key: 'mat_unnamed', impressions: 1, clicks: 0, name: null },
    ]);
    // The other breakdowns keep their shape: a key and two counts.
    expect(dashboard.breakdowns.platform).toEqual([{ key: 'Android', impressions: 4, clicks: 1 }]);
  });

  it('name a material whose events are all older than the day’s latest events, reading its campaign-day for names once and not at each read', async () => {
    const layout = { shards: 2, retentionDays: null };
    const tableName = await store(layout, [
      ...impressions(8, 3, { id: 'mat_early', name: 'Early spot' }),
      ...impressions(8, 2, { id: 'mat_never_named', name: null }),
      // Enough on each of the two partitions to fill its latest events.
      ...impressions(9, 4 * LATEST_EVENTS, { id: 'mat_late', name: 'Late spot' }),
    ]);
    const { client, seen } = faultyDynamoDb();
    const reader = new DashboardReader(client, tableName, layout);
    const first = await reader.read(DAY);
    expect(first.latest.every((e) => e.material_id === 'mat_late')).toBe(true);
    expect(first.breakdowns.material.map((row) => [row.key, row.name])).toEqual([
      ['mat_late', 'Late spot'],
      ['mat_early', 'Early spot'],
      ['mat_never_named', null],
    ]);
    // One search of each of the campaign-day's two partitions, each at most one bounded page.
    const searches = nameSearches(seen);
    expect(searches).toHaveLength(2);
    for (const search of searches) expect(search.input.Limit).toBe(MATERIAL_NAME_EVENTS);

    seen.length = 0;
    const second = await reader.read(DAY);
    expect(second.breakdowns.material).toEqual(first.breakdowns.material);
    expect(nameSearches(seen)).toEqual([]);
  });

  it('are named from no more than the newest events of a partition the search reads: a material named only before them shows by id', async () => {
    const layout = { shards: 1, retentionDays: null };
    const tableName = await store(layout, [
      ...impressions(7, 1, { id: 'mat_long_ago', name: 'Long ago' }),
      ...impressions(8, 1, { id: 'mat_long_ago', name: null }),
      ...impressions(9, MATERIAL_NAME_EVENTS, { id: 'mat_busy', name: 'Busy spot' }),
    ]);
    const dashboard = await new DashboardReader(dynamodb, tableName, layout).read(DAY);
    expect(dashboard.breakdowns.material.map((row) => [row.key, row.name])).toEqual([
      ['mat_busy', 'Busy spot'],
      ['mat_long_ago', null],
    ]);
  });

  it('name materials whose ids name what every object inherits or hold a counter name’s separator, each by its own events, read after read', async () => {
    const ids = ['__proto__', 'constructor', 'toString', 'x\u001fconstructor', 'a'.repeat(80)];
    const layout = { shards: 1, retentionDays: null };
    const tableName = await store(
      layout,
      ids.map((id, i) => event(`10:00:0${i}.000`, { id, name: `name ${i}` })),
    );
    const reader = new DashboardReader(dynamodb, tableName, layout);
    for (const attempt of [1, 2]) {
      const rows = (await reader.read(DAY)).breakdowns.material;
      // Counters keep a material id as an attribute name holds it: control characters replaced, cut at 64 bytes.
      expect(rows.map((row) => [row.key, row.name]).sort(), `read ${attempt}`).toEqual(
        [
          ['__proto__', 'name 0'],
          ['constructor', 'name 1'],
          ['toString', 'name 2'],
          ['x\ufffdconstructor', 'name 3'],
          ['a'.repeat(64), 'name 4'],
        ].sort(),
      );
    }
  });
});
