import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { QueueMessage } from '../../lib/events/event-record';
import { EventWriter } from '../../lib/ingest/event-writer';
import { storeBatch } from '../../lib/ingest/store-batch';
import { optimizely } from '../../lib/providers/optimizely';
import { sori } from '../../lib/providers/sori';
import { symphony } from '../../lib/providers/symphony';
import { RecordsRepository } from '../../lib/queries/records-repository';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { SORI_FIXTURES, soriBody, soriPayload } from '../support/deliveries';
import { createTestTable, faultyDynamoDb, localClients } from '../support/local-aws';

const { dynamodb } = localClients();
const RECEIVED = '2026-11-22T12:00:00.000Z';
const fixture = (provider: string, name: string) =>
  readFileSync(join(import.meta.dirname, '../../examples/payloads', provider, `${name}.json`), 'utf8');

/** The SORI examples, a Symphony status change, Optimizely opens and a bounce, and a quarantined delivery. */
function mixedDeliveries(): QueueMessage[] {
  const bounce = JSON.parse(fixture('optimizely', 'bounce'));
  const optimizelyEvent = (type: string, id: string) =>
    buildQueueMessage(optimizely, Buffer.from(JSON.stringify({ ...bounce, type, id })), RECEIVED);
  return [
    ...SORI_FIXTURES.map((name) => buildQueueMessage(sori, Buffer.from(soriBody(name)), RECEIVED)),
    buildQueueMessage(symphony, Buffer.from(fixture('symphony', 'campaign-updated')), RECEIVED),
    optimizelyEvent('bounce', 'b1'),
    optimizelyEvent('open', 'o1'),
    buildQueueMessage(
      sori,
      Buffer.from(JSON.stringify({ ...soriPayload('click'), event: 'campaign.nope' })),
      RECEIVED,
    ),
  ];
}

const ids = (events: { id: string }[]) => events.map((event) => event.id).sort();
const idOf = (message: QueueMessage | undefined) => message?.record.id ?? '';

describe.each([1, 3])('the records table with %i shard(s)', (shards) => {
  const layout = { shards, retentionDays: 365 };

  it('serves every access pattern: campaign and time range, device and time range, type and day, a day with no filter (no scan), quarantine', async () => {
    const { writer, counters, repository } = await createTestTable(dynamodb, layout);
    const messages = mixedDeliveries();
    expect((await storeBatch(writer, counters, messages)).every((outcome) => outcome.ok)).toBe(true);
    const [impression, click, authentication, material, , , status] = messages;

    const campaign = await repository.queryEvents({ provider: 'sori', campaign: 'cmp_1234', limit: 100 });
    expect(ids(campaign)).toEqual(ids([impression, click].map((m) => m?.record ?? { id: '' })));
    // The impression is at 05:25:12.421, the click later: a range around the impression alone.
    const narrow = await repository.queryEvents({
      provider: 'sori',
      campaign: 'cmp_1234',
      since: '2025-10-14T05:25:00Z',
      until: '2025-10-14T05:25:30Z',
      limit: 100,
    });
    expect(ids(narrow)).toEqual([idOf(impression)]);

    const device = await repository.queryEvents({ provider: 'sori', device: 'device_abc', limit: 100 });
    expect(ids(device)).toEqual([idOf(impression), idOf(click), idOf(authentication)].sort());
    const deviceLater = await repository.queryEvents({
      provider: 'sori',
      device: 'device_abc',
      since: '2025-10-14T05:20:00Z',
      limit: 100,
    });
    expect(ids(deviceLater)).not.toContain(idOf(authentication));

    const types = async (type: string, provider = 'sori', day = '2025-10-14') =>
      ids(await repository.queryEvents({ provider, type, since: day, until: day, limit: 100 }));
    expect(await types('campaign.click')).toEqual([idOf(click)]);
    expect(await types('authentication')).toEqual([idOf(authentication)]);
    expect(await types('admin.material.created')).toEqual([idOf(material)]);
    expect(await types('campaign.updated', 'symphony', RECEIVED.slice(0, 10))).toEqual([idOf(status)]);
    expect(
      ids(await repository.queryEvents({ provider: 'symphony', campaign: 'cmp_sym_0042', limit: 9 })),
    ).toEqual([idOf(status)]);

    // No filter: every event of the day, read day by day from the partitions, never by a scan.
    const { client, seen } = faultyDynamoDb(() => undefined);
    const reader = new RecordsRepository(client, repository.tableName, layout);
    const day = await reader.queryEvents({
      provider: 'sori',
      since: '2025-10-14',
      until: '2025-10-14',
      limit: 100,
    });
    expect(ids(day)).toEqual([impression, click, authentication, material].map(idOf).sort());
    expect(seen.map((command) => command.name)).not.toContain('ScanCommand');

    const quarantine = await repository.listQuarantine(100);
    expect(quarantine.map((entry) => entry.reason)).toEqual([expect.stringContaining('campaign.nope')]);
  });

  it('writes a device marker only where it can be new: a warm consumer writes none for devices it has marked', async () => {
    const { tableName, counters } = await createTestTable(dynamodb, layout);
    // Not a fault: the wrapper only records the commands the writer sends.
    const { client, seen } = faultyDynamoDb(() => undefined);
    const writer = new EventWriter(client, tableName, layout);
    const impressions = (from: number) =>
      Array.from({ length: 10 }, (_, i) =>
        buildQueueMessage(
          sori,
          Buffer.from(
            JSON.stringify({
              ...soriPayload('impression'),
              activity_id: `act_${from + i}`,
              device_id: `d${i % 3}`,
            }),
          ),
          RECEIVED,
        ),
      );
    const markerWrites = () =>
      seen.filter((command) => {
        const key = (command.input.Key ?? command.input.Item) as Record<string, { S?: string }> | undefined;
        return key?.pk?.S?.startsWith('DEVICE#');
      }).length;
    await storeBatch(writer, counters, impressions(0));
    expect(markerWrites()).toBe(3);
    await storeBatch(writer, counters, impressions(100));
    expect(markerWrites()).toBe(3);
  });
});

describe('unique devices', () => {
  it('count a device once it has a counted event, even when an uncounted event of its campaign-day came first', async () => {
    const { writer, counters, stats } = await createTestTable(dynamodb);
    const bounce = JSON.parse(fixture('optimizely', 'bounce'));
    const event = (type: string, id: string) =>
      buildQueueMessage(optimizely, Buffer.from(JSON.stringify({ ...bounce, type, id })), RECEIVED);
    await storeBatch(writer, counters, [event('bounce', 'b1')]);
    await storeBatch(writer, counters, [event('open', 'o1')]);
    await storeBatch(writer, counters, [event('open', 'o2'), event('click', 'c1')]);
    // A fresh container (no marker cache) sees the same device again.
    await storeBatch(new EventWriter(dynamodb, writer.tableName, writer.layout), counters, [
      event('open', 'o3'),
    ]);
    await counters.repair();
    expect(await stats.campaignStats('optimizely', String(bounce.mailingId))).toEqual([
      expect.objectContaining({ impressions: 3, clicks: 1, unique_devices: 1 }),
    ]);
  });
});
