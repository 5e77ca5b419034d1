import { randomUUID } from 'node:crypto';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { storeBatch } from '../../lib/ingest/store-batch';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { itemBytes } from '../../lib/table/item-size';
import { BREAKDOWN_LIMITS, counterItemKey, OTHER_VALUE } from '../../lib/table/records-table';
import { soriPayload } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';

const { dynamodb } = localClients();

/** Signed-and-verified SORI impressions whose platform is whatever `platform(i)` says. */
function impressions(count: number, platform: (i: number) => string) {
  const seed = randomUUID().slice(0, 6);
  const base = soriPayload('impression');
  return Array.from({ length: count }, (_, i) =>
    buildQueueMessage(
      sori,
      Buffer.from(JSON.stringify({ ...base, activity_id: `act_${seed}_${i}`, platform: platform(i) })),
      '2026-01-01T00:00:00.000Z',
    ),
  );
}

describe('breakdown values from senders', () => {
  it('5,000 distinct 100-character platforms in one campaign-day are all stored and counted, the counter item stays small, the values past the limit counted as "(other)"', async () => {
    const { writer, counters, stats, tableName } = await createTestTable(dynamodb);
    const messages = impressions(5_000, (i) => `${String(i).padStart(5, '0')}${'x'.repeat(95)}`);
    for (let i = 0; i < messages.length; i += 100) {
      const outcomes = await storeBatch(writer, counters, messages.slice(i, i + 100));
      expect(outcomes.filter((outcome) => !outcome.ok)).toEqual([]);
    }
    const [row] = await stats.campaignStats('sori', 'cmp_1234');
    expect(row?.impressions).toBe(5_000);
    const [item] = await stats.counterItems('sori', 'cmp_1234');
    const platforms = Object.keys(item?.breakdowns.platform ?? {});
    expect(platforms).toHaveLength(BREAKDOWN_LIMITS.platform + 1);
    expect(platforms).toContain(OTHER_VALUE);
    const total = Object.values(item?.breakdowns.platform ?? {}).reduce(
      (sum, byEvent) => sum + (byEvent['campaign.impression'] ?? 0),
      0,
    );
    expect(total).toBe(5_000);
    const { Item = {} } = await dynamodb.send(
      new GetItemCommand({
        TableName: tableName,
        Key: counterItemKey({ provider: 'sori', campaignId: 'cmp_1234', day: '2025-10-14' }),
      }),
    );
    expect(itemBytes(Item)).toBeLessThan(20_000);
  });

  it.each(['__proto__', '__proto__\u001fConsistentRead', 'constructor', 'toString', 'hasOwnProperty\u001fx'])(
    'a platform named %j is counted as a value like any other and changes no object of the reader',
    async (platform) => {
      const { writer, counters, stats } = await createTestTable(dynamodb);
      const messages = impressions(3, () => platform);
      await storeBatch(writer, counters, messages);
      const [item] = await stats.counterItems('sori', 'cmp_1234');
      const breakdowns = item?.breakdowns.platform ?? {};
      // The unit separator structures attribute names: a value's own is replaced.
      const stored = platform.replace('\u001f', '\uFFFD');
      expect(Object.keys(breakdowns)).toEqual([stored]);
      expect(Object.getOwnPropertyDescriptor(breakdowns, stored)?.value).toEqual({
        'campaign.impression': 3,
      });
      expect(({} as Record<string, unknown>).ConsistentRead).toBeUndefined();
      expect(Object.getPrototypeOf({})).toBe(Object.prototype);
      expect((await stats.campaignStats('sori', 'cmp_1234'))[0]?.impressions).toBe(3);
    },
  );
});
