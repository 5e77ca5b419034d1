import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { storeBatch } from '../../lib/ingest/store-batch';
import { setConfiguredProviders } from '../../lib/providers';
import { customProvider, parseCustomProviders } from '../../lib/providers/declarative';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { eventsOn } from '../support/events-cli';
import { createTestTable, localClients } from '../support/local-aws';

const { dynamodb } = localClients();
const servers: Server[] = [];

afterEach(() => {
  setConfiguredProviders([]);
});
afterAll(async () => {
  for (const server of servers) await new Promise((done) => server.close(done));
});

/** A local HTTP endpoint that keeps the record of every request it takes. */
async function httpEndpoint() {
  const received: Record<string, unknown>[] = [];
  const server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')).record);
      response.writeHead(200).end();
    });
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/replay`, received };
}

describe('events replay of events keyed by id alone', () => {
  it('sends the normalizer, app and trace id the event was stored with, as events query --json shows them, not the index projection', async () => {
    const table = await createTestTable(dynamodb);
    const [keyed] = parseCustomProviders([
      // No time field: its events are keyed by id alone, found through the indexes.
      {
        name: 'acme-replayed',
        scheme: 'hmac',
        header: 'x-acme-signature',
        algorithm: 'sha256',
        normalizerVersion: 2,
        events: ['view'],
        fields: { id: 'id', event: 'type', campaign: 'campaign', device: 'device' },
      },
    ]).map(customProvider);
    if (!keyed) throw new Error('expected a provider');
    setConfiguredProviders([keyed]);
    const received = new Date().toISOString();
    const messages = ['e1', 'e2'].map((id) =>
      buildQueueMessage(
        keyed,
        Buffer.from(JSON.stringify({ id, type: 'view', campaign: 'cmp_r', device: 'dev_r' })),
        received,
        { app: 'agency-r', traceId: `Root=1-00000000-00000000000000000000000${id.slice(1)}` },
      ),
    );
    await storeBatch(table.writer, table.counters, messages);
    await table.counters.repair();
    const day = received.slice(0, 10);
    const pick = (e: Record<string, unknown>) => [e.id, e.normalizer, e.app, e.trace_id];

    const query = await eventsOn(table.tableName, ['query', '--provider', 'acme-replayed', '--json']);
    expect(query.code, query.stderr).toBe(0);
    const shown = query.stdout
      .trim()
      .split('\n')
      .map((text) => pick(JSON.parse(text)))
      .sort();
    expect(shown.map((e) => e.slice(1, 3))).toEqual([
      ['acme-replayed@2', 'agency-r'],
      ['acme-replayed@2', 'agency-r'],
    ]);

    for (const filter of [[], ['--type', 'view'], ['--campaign', 'cmp_r']]) {
      const endpoint = await httpEndpoint();
      const replay = await eventsOn(table.tableName, [
        'replay',
        '--since',
        day,
        '--until',
        day,
        '--provider',
        'acme-replayed',
        ...filter,
        '--to',
        'http',
        '--target',
        endpoint.url,
      ]);
      expect(replay.code, replay.stderr).toBe(0);
      expect([filter, endpoint.received.map(pick).sort()]).toEqual([filter, shown]);
    }
  });
});
