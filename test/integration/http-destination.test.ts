import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { DestinationError } from '../../lib/destinations/destination';
import { HttpDestination } from '../../lib/destinations/http';
import type { EventRecord } from '../../lib/events/event-record';

const held: ServerResponse[] = [];
const servers: Server[] = [];
afterAll(async () => {
  for (const response of held.splice(0)) response.destroy();
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  }
});
const record = (id: string): EventRecord => ({
  id,
  provider: 'sori',
  event: 'campaign.click',
  account_id: null,
  campaign_id: 'cmp_1',
  campaign_name: null,
  material_id: null,
  material_name: null,
  activity_id: null,
  device_id: null,
  platform: null,
  created_at: '2026-03-01T10:00:00.000Z',
  received_at: '2026-03-01T10:00:01.000Z',
  metadata: null,
  geolocation: null,
});

/** A local endpoint that leaves the requests `hold` picks without an answer, and answers the others 204. */
async function endpoint(hold: (count: number) => boolean) {
  let count = 0;
  const answered: string[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (hold(++count)) {
        held.push(response);
        return;
      }
      answered.push(String(request.headers['idempotency-key']));
      response.writeHead(204).end();
    });
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, answered };
}

describe('the HTTP destination', () => {
  it('gives up on a request with no answer within its timeout, and sends the event again', async () => {
    const { url, answered } = await endpoint((count) => count === 1);
    const destination = new HttpDestination({ url, timeoutMs: 300, backoffMs: 1 });
    await destination.send([record('sori_slow')], 'replay');
    expect(answered).toEqual(['sori_slow']);
  });

  it('names the event an endpoint never answers, once its tries are spent', async () => {
    const { url } = await endpoint(() => true);
    const destination = new HttpDestination({ url, timeoutMs: 200, backoffMs: 1, attempts: 2 });
    const failure = await destination.send([record('sori_never')], 'replay').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DestinationError);
    expect((failure as DestinationError).recordIds).toEqual(['sori_never']);
    expect((failure as Error).message).toContain('after 2 tries: no answer within 200 ms');
  });
});
