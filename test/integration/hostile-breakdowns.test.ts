import { randomUUID } from 'node:crypto';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { CampaignCounters } from '../../lib/ingest/campaign-counters';
import { EventWriter } from '../../lib/ingest/event-writer';
import { storeBatch } from '../../lib/ingest/store-batch';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { itemBytes } from '../../lib/table/item-size';
import { BREAKDOWN_LIMITS, counterItemKey, DEFAULT_LAYOUT, OTHER_VALUE } from '../../lib/table/records-table';
import { soriPayload } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';
import { storeAndFold } from '../support/store-and-fold';

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
      const outcomes = await storeAndFold(writer, counters, messages.slice(i, i + 100));
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

  it('many batches at once, each from its own container, with distinct 100-character CJK values: the campaign-day keeps exactly the limit plus "(other)", every event counted, and its counter item stays small', async () => {
    const { stats, tableName, counters } = await createTestTable(dynamodb);
    const cjk = (i: number) => `${i}`.padStart(4, '0') + '漢'.repeat(96);
    const messages = impressions(130, cjk);
    const batches = Array.from({ length: 13 }, (_, b) => messages.slice(b * 10, b * 10 + 10));
    const outcomes = await Promise.all(
      batches.map((batch) =>
        storeBatch(
          new EventWriter(dynamodb, tableName, DEFAULT_LAYOUT),
          new CampaignCounters(dynamodb, tableName, DEFAULT_LAYOUT),
          batch,
        ),
      ),
    );
    expect(outcomes.flat().filter((outcome) => !outcome.ok)).toEqual([]);
    // The repair is the counter item's one writer: it places every value, so no batch can add past the limit.
    await counters.repair();
    const [item] = await stats.counterItems('sori', 'cmp_1234');
    expect(Object.keys(item?.breakdowns.platform ?? {})).toHaveLength(BREAKDOWN_LIMITS.platform + 1);
    const total = Object.values(item?.breakdowns.platform ?? {}).reduce(
      (sum, byEvent) => sum + (byEvent['campaign.impression'] ?? 0),
      0,
    );
    expect(total).toBe(130);
    const { Item = {} } = await dynamodb.send(
      new GetItemCommand({
        TableName: tableName,
        Key: counterItemKey({ provider: 'sori', campaignId: 'cmp_1234', day: '2025-10-14' }),
      }),
    );
    expect(itemBytes(Item)).toBeLessThan(20_000);
  });

  it('a value cut at its byte limit keeps whole characters: no half of a surrogate pair in an attribute name', async () => {
    const { writer, counters, stats } = await createTestTable(dynamodb);
    await storeAndFold(
      writer,
      counters,
      impressions(2, () => `${'a'.repeat(62)}😀😀`),
    );
    const [item] = await stats.counterItems('sori', 'cmp_1234');
    expect(Object.keys(item?.breakdowns.platform ?? {})).toEqual([`${'a'.repeat(62)}`]);
  });

  it.each(['__proto__', '__proto__\u001fConsistentRead', 'constructor', 'toString', 'hasOwnProperty\u001fx'])(
    'a platform named %j is counted as a value like any other and changes no object of the reader',
    async (platform) => {
      const { writer, counters, stats } = await createTestTable(dynamodb);
      const messages = impressions(3, () => platform);
      await storeAndFold(writer, counters, messages);
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

  it('two devices whose ids and campaigns are made to spell the same marker key in a cache are both counted and both marked', async () => {
    const { writer, counters, stats, repository } = await createTestTable(dynamodb);
    const day = '2025-10-14';
    const click = (campaign: string, device: string, activity: string) =>
      buildQueueMessage(
        sori,
        Buffer.from(
          JSON.stringify({
            ...soriPayload('click'),
            activity_id: activity,
            device_id: device,
            campaign: { ...(soriPayload('click').campaign as object), id: campaign },
          }),
        ),
        '2026-01-01T00:00:00.000Z',
      );
    const other = `x\u0000${day}#CAMPAIGN#sori#cmpA`;
    await storeAndFold(writer, counters, [click(other, 'dev', 'act_collide_1')]);
    await storeAndFold(writer, counters, [click('cmpA', `dev\u0000${day}#CAMPAIGN#sori#x`, 'act_collide_2')]);
    expect((await stats.campaignStats('sori', 'cmpA'))[0]).toMatchObject({ clicks: 1, unique_devices: 1 });
    const found = await repository.queryEvents({
      provider: 'sori',
      device: `dev\u0000${day}#CAMPAIGN#sori#x`,
      limit: 10,
    });
    expect(found.map((event) => event.activity_id)).toEqual(['act_collide_2']);
  });
});
