import { describe, expect, it } from 'vitest';
import { findProvider } from '../../lib/providers';
import { type RangePage, RangeReader, type ReplayRange } from '../../lib/replay/range-reader';
import { createTestTable, localClients } from '../support/local-aws';
import { DAY_END, DAY_START, storeReplayDay } from '../support/replay-events';

const { dynamodb } = localClients();
const LAYOUT = { shards: 3, retentionDays: null };

/** Each provider's event types, as the CLI and the replay function give them from the providers they serve. */
const eventTypes = (providers: readonly string[]) =>
  Object.fromEntries(providers.map((name) => [name, findProvider(name)?.events ?? []]));

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
    const range: ReplayRange = {
      since: DAY_START,
      until: DAY_END,
      providers: ['sori', 'symphony'],
      eventTypes: eventTypes(['sori', 'symphony']),
    };
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
      eventTypes: eventTypes(['sori']),
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
      reader.pages({
        since: DAY_START,
        until: DAY_END,
        providers: ['symphony'],
        eventTypes: eventTypes(['symphony']),
        campaign: 'cmp_sym_in2',
      }),
    );
    expect(symphony.flatMap((page) => page.events.map((event) => event.campaign_id))).toEqual([
      'cmp_sym_in2',
    ]);
  });
  it('refuses a range that names no event types for one of its providers, before reading a page, and reads one that names a type or a campaign', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb, LAYOUT);
    await storeReplayDay(writer, counters, { campaignA: 3, campaignB: 0, authentications: 2, symphony: 2 });
    const reader = new RangeReader({ client: dynamodb, tableName, layout: LAYOUT, pageSize: 2 });
    const whole = { since: DAY_START, until: DAY_END, providers: ['sori', 'symphony'] };
    const pages: RangePage[] = [];
    const read = async (range: ReplayRange) => {
      for await (const page of reader.pages(range)) pages.push(page);
    };
    await expect(read(whole)).rejects.toThrow(
      /replay range gives no event types for provider "sori" \(nor a type or a campaign\)/,
    );
    // The provider sorted first is given its types: the refusal still comes before any of its pages.
    await expect(
      read({ ...whole, eventTypes: { sori: findProvider('sori')?.events ?? [] } }),
    ).rejects.toThrow(/no event types for provider "symphony"/);
    expect(pages).toEqual([]);
    // A type, or a campaign, says which partitions to read without the provider's types.
    await read({ ...whole, providers: ['sori'], type: 'authentication' });
    expect(pages.flatMap((page) => page.events.map((event) => event.event))).toEqual([
      'authentication',
      'authentication',
    ]);
    pages.length = 0;
    await read({ ...whole, providers: ['sori'], campaign: 'cmp_a' });
    expect(pages.flatMap((page) => page.events)).toHaveLength(3);
  });
});
