import { afterEach, describe, expect, it } from 'vitest';
import { storeBatch } from '../../lib/ingest/store-batch';
import { setConfiguredProviders } from '../../lib/providers';
import { customProvider, parseCustomProviders } from '../../lib/providers/declarative';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { eventsOn } from '../support/events-cli';
import { createTestTable, localClients } from '../support/local-aws';

const { dynamodb } = localClients();

afterEach(() => {
  setConfiguredProviders([]);
});

describe('query --json names the normalizer and the app of every event', () => {
  it('of an event keyed by id alone, found through an index that does not carry them, as of one placed by its time', async () => {
    const table = await createTestTable(dynamodb);
    const [keyed, placed] = parseCustomProviders([
      // No time field: its events are keyed by id alone, found through the indexes.
      {
        name: 'acme-keyed',
        scheme: 'hmac',
        header: 'x-acme-signature',
        algorithm: 'sha256',
        normalizerVersion: 3,
        events: ['view'],
        fields: { id: 'id', event: 'type', campaign: 'campaign', device: 'device' },
      },
      {
        name: 'acme-placed',
        scheme: 'hmac',
        header: 'x-acme-signature',
        algorithm: 'sha256',
        normalizerVersion: 5,
        events: ['view'],
        fields: { id: 'id', time: 'at', event: 'type', campaign: 'campaign', device: 'device' },
      },
    ]).map(customProvider);
    if (!keyed || !placed) throw new Error('expected two providers');
    setConfiguredProviders([keyed, placed]);
    const received = new Date().toISOString();
    const body = Buffer.from(
      JSON.stringify({ id: 'e1', at: received, type: 'view', campaign: 'cmp_q', device: 'dev_q' }),
    );
    await storeBatch(table.writer, table.counters, [
      buildQueueMessage(keyed, body, received, { app: 'agency-a' }),
      buildQueueMessage(placed, body, received),
    ]);
    await table.counters.repair();
    for (const [provider, normalizer, app] of [
      ['acme-keyed', 'acme-keyed@3', 'agency-a'],
      ['acme-placed', 'acme-placed@5', 'default'],
    ]) {
      for (const filter of [['--campaign', 'cmp_q'], ['--device', 'dev_q'], ['--type', 'view'], []]) {
        const run = await eventsOn(table.tableName, [
          'query',
          '--provider',
          provider as string,
          ...filter,
          '--json',
        ]);
        expect([
          filter,
          run.stdout
            .trim()
            .split('\n')
            .map((line) => JSON.parse(line))
            .map((e) => [e.normalizer, e.app]),
        ]).toEqual([filter, [[normalizer, app]]]);
      }
    }
  });
});
