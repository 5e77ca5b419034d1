/**
 * A replay range reads a provider's events of no campaign from the type partitions of the types the caller gives
 * (the CLI and the replay function give those of the providers they serve): the reader itself never asks the
 * provider registry which types a provider has.
 */
import { describe, expect, it } from 'vitest';
import { type RangePage, RangeReader } from '../../lib/replay/range-reader';
import { createTestTable, localClients } from '../support/local-aws';
import { DAY_END, DAY_START, storeReplayDay } from '../support/replay-events';

const { dynamodb } = localClients();
const LAYOUT = { shards: 2, retentionDays: null };

async function ids(pages: AsyncGenerator<RangePage>): Promise<string[]> {
  const all: string[] = [];
  for await (const page of pages) all.push(...page.events.map((event) => event.id));
  return all.sort();
}

describe('a replay range’s event types', () => {
  it('come from the range: a type the range names for its provider is read, one it leaves out is not, whatever the provider’s code lists', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb, LAYOUT);
    const { inside } = await storeReplayDay(writer, counters, {
      campaignA: 6,
      campaignB: 0,
      authentications: 5,
      symphony: 0,
    });
    const reader = new RangeReader({ client: dynamodb, tableName, layout: LAYOUT, pageSize: 4 });
    const range = { since: DAY_START, until: DAY_END, providers: ['sori'] };
    const all = await ids(reader.pages({ ...range, eventTypes: { sori: ['authentication'] } }));
    expect(all).toEqual([...inside].sort());
    const campaignsOnly = await ids(reader.pages({ ...range, eventTypes: { sori: [] } }));
    expect(campaignsOnly).toHaveLength(6);
    expect(all.filter((id) => !campaignsOnly.includes(id))).toHaveLength(5);
  });
});
