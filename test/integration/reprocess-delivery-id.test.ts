import * as v from 'valibot';
import { afterEach, describe, expect, it } from 'vitest';
import { QueueMessageSchema } from '../../lib/events/event-record';
import { buildRecordId } from '../../lib/events/record-id';
import { createIngest } from '../../lib/ingest/ingest';
import { reprocessQuarantine } from '../../lib/ingest/reprocess';
import { storeBatch } from '../../lib/ingest/store-batch';
import { setConfiguredProviders } from '../../lib/providers';
import { customProvider, parseCustomProviders } from '../../lib/providers/declarative';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { createTestTable, localClients } from '../support/local-aws';

const { dynamodb } = localClients();

afterEach(() => {
  setConfiguredProviders([]);
});

/** A Standard Webhooks sender whose records are keyed by `webhook-id` (no id field of its own). */
const serve = (events: string[]) => {
  const [provider] = parseCustomProviders([
    {
      name: 'acme-sw',
      scheme: 'standard-webhooks',
      fields: { event: 'type', campaign: 'data.campaign', time: 'timestamp' },
      events,
    },
  ]).map(customProvider);
  if (!provider) throw new Error('expected a provider');
  setConfiguredProviders([provider]);
  return provider;
};

describe('reprocessing a quarantined delivery of a provider keyed by its delivery id', () => {
  it('stores it under the id its webhook-id gives, for the app it came to, after the message went through the queue as the consumer reads it', async () => {
    const table = await createTestTable(dynamodb);
    const tables = { client: dynamodb, ...table };
    const received = new Date().toISOString();
    const body = Buffer.from(
      JSON.stringify({ type: 'campaign.tap', timestamp: received, data: { campaign: 'cmp_sw' } }),
    );
    // `campaign.tap` is not one of its events yet: the delivery is quarantined.
    const sent = buildQueueMessage(serve(['campaign.view']), body, received, {
      id: 'msg_2KWPBgLlAfxdpx2AI54pPJ85f1W',
      app: 'agency-a',
    });
    expect(sent.kind).toBe('quarantine');
    // As the consumer reads it: JSON off the queue, parsed with the message schema.
    const read = v.parse(QueueMessageSchema, JSON.parse(JSON.stringify(sent)));
    await storeBatch(table.writer, table.counters, [read]);
    expect((await table.repository.listQuarantine(10))[0]).toMatchObject({
      delivery_id: 'msg_2KWPBgLlAfxdpx2AI54pPJ85f1W',
      app: 'agency-a',
    });

    serve(['campaign.view', 'campaign.tap']);
    const recordId = buildRecordId('acme-sw', ['msg_2KWPBgLlAfxdpx2AI54pPJ85f1W']);
    expect(await reprocessQuarantine(tables, {})).toEqual([
      expect.objectContaining({ id: sent.record.id, result: 'stored', record_id: recordId }),
    ]);
    const [event] = await table.repository.queryEvents({
      provider: 'acme-sw',
      campaign: 'cmp_sw',
      limit: 10,
    });
    expect(event).toMatchObject({
      id: recordId,
      activity_id: 'msg_2KWPBgLlAfxdpx2AI54pPJ85f1W',
      app: 'agency-a',
      normalizer: 'acme-sw@1',
    });
  });

  it('stores through the ingest port it is given, whose listeners hear the record as a first insert, once', async () => {
    const table = await createTestTable(dynamodb);
    const received = new Date().toISOString();
    const body = Buffer.from(
      JSON.stringify({ type: 'campaign.tap', timestamp: received, data: { campaign: 'cmp_port' } }),
    );
    const sent = buildQueueMessage(serve(['campaign.view']), body, received, { id: 'msg_port_1' });
    await storeBatch(table.writer, table.counters, [sent]);
    serve(['campaign.view', 'campaign.tap']);
    const heard: string[] = [];
    const ingest = createIngest({
      writer: table.writer,
      counters: table.counters,
      onStored: ({ inserted }) => {
        for (const { message } of inserted) heard.push(message.record.id);
      },
    });
    const tables = { client: dynamodb, ...table, ingest };
    const [outcome] = await reprocessQuarantine(tables, {});
    expect(outcome).toMatchObject({ result: 'stored' });
    expect(heard).toEqual([outcome?.record_id]);
    // Run again: the entry is resolved, nothing is stored or heard.
    expect(await reprocessQuarantine(tables, {})).toEqual([]);
    expect(heard).toHaveLength(1);
  });
});
