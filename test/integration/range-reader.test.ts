import { describe, expect, it } from 'vitest';
import { type RangePage, RangeReader, type ReplayRange } from '../../lib/replay/range-reader';
import { createTestTable, localClients } from '../support/local-aws';
import { DAY_END, DAY_START, storeReplayDay } from '../support/replay-events';

const { dynamodb } = localClients();
const LAYOUT = { shards: 3, retentionDays: null };

async function collect(pages: AsyncGenerator<RangePage>): Promise<RangePage[]> {
  const all: RangePage[] = [];
  for await (const page of pages) all.push(page);
  return all;
}

describe('the range reader', () => {
  it('resumed from the cursor of any page, reads exactly the events after that page: none twice, none missed, over every kind of partition and shard', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb, LAYOUT);
    const { inside, outside } = await storeReplayDay(writer, counters, {
      campaignA: 23,
      campaignB: 9,
      authentications: 11,
      symphony: 4,
    });
    // A page of 4 items: many pages per partition, and partitions that end on a page's last item.
    const reader = new RangeReader({ client: dynamodb, tableName, layout: LAYOUT, pageSize: 4 });
    const range: ReplayRange = { since: DAY_START, until: DAY_END, providers: ['sori', 'symphony'] };
    const pages = await collect(reader.pages(range));
    const ids = pages.flatMap((page) => page.events.map((event) => event.id));
    expect(ids.sort()).toEqual([...inside].sort());
    expect(ids.filter((id) => outside.has(id))).toEqual([]);
    for (let i = 0; i < pages.length; i++) {
      // Through JSON, as a checkpoint keeps it.
      const cursor = JSON.parse(JSON.stringify((pages[i] as RangePage).cursor));
      const rest = await collect(reader.pages(range, cursor));
      const expected = pages.slice(i + 1).flatMap((page) => page.events.map((event) => event.id));
      expect(rest.flatMap((page) => page.events.map((event) => event.id))).toEqual(expected);
    }
  });

  it('reads a campaign’s events of the range, its events keyed by id included, from any cursor', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb, LAYOUT);
    await storeReplayDay(writer, counters, { campaignA: 15, campaignB: 5, authentications: 2, symphony: 3 });
    const reader = new RangeReader({ client: dynamodb, tableName, layout: LAYOUT, pageSize: 3 });
    const campaignA: ReplayRange = {
      since: DAY_START,
      until: DAY_END,
      providers: ['sori'],
      campaign: 'cmp_a',
    };
    const pages = await collect(reader.pages(campaignA));
    const events = pages.flatMap((page) => page.events);
    expect(events).toHaveLength(15);
    expect(events.every((event) => event.campaign_id === 'cmp_a')).toBe(true);
    const middle = JSON.parse(JSON.stringify(pages[2]?.cursor));
    const rest = await collect(reader.pages(campaignA, middle));
    expect(rest.flatMap((page) => page.events)).toEqual(pages.slice(3).flatMap((page) => page.events));
    const symphony = await collect(
      reader.pages({ since: DAY_START, until: DAY_END, providers: ['symphony'], campaign: 'cmp_sym_in2' }),
    );
    expect(symphony.flatMap((page) => page.events.map((event) => event.campaign_id))).toEqual([
      'cmp_sym_in2',
    ]);
  });
});
