/**
 * `npm start` with `DESTINATIONS`: each first insert is POSTed to the HTTP destination it names, a duplicate
 * delivery never; a value it cannot read stops the start in one line naming the field. The real local stack in
 * a process of its own, and a local HTTP server as the destination.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDevSecret } from '../../local/dev-secret';
import { hexSignature, soriPayload } from '../support/deliveries';
import { eventually } from '../support/local-aws';
import { refusedStart, startStackProcess } from '../support/stack-process';

describe('npm start with DESTINATIONS', () => {
  it('POSTs each first insert to the HTTP destination once, with its record id, and nothing for a duplicate', async () => {
    const received: { record_id: string }[] = [];
    const server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        received.push(JSON.parse(body));
        response.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-destinations-'));
    const stack = await startStackProcess(dataDir, { DESTINATIONS: JSON.stringify({ http: { url } }) });
    try {
      const secret = (await readDevSecret(dataDir)) as string;
      const post = async (activity: string) => {
        const body = JSON.stringify({ ...soriPayload('impression'), activity_id: activity });
        const response = await fetch(stack.info.webhookUrls.sori as string, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-sori-signature': hexSignature(body, secret) },
          body,
        });
        return (await response.json()) as { id: string };
      };
      const first = await post('act_dest_1');
      const second = await post('act_dest_2');
      await post('act_dest_1');
      await eventually(async () => (received.length >= 2 ? true : undefined), 60_000, 'two POSTs');
      // The duplicate's batch is stored after the first two: a third POST would come by then.
      await post('act_dest_3');
      await eventually(async () => (received.length >= 3 ? true : undefined), 60_000, 'the third POST');
      const ids = received.map((event) => event.record_id);
      expect(ids.slice(0, 2).sort()).toEqual([first.id, second.id].sort());
      expect(new Set(ids).size).toBe(ids.length);
    } finally {
      await stack.kill('SIGTERM');
      server.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses to start with a value it cannot read, in one line naming the field', async () => {
    const result = await refusedStart({ DESTINATIONS: '{"http":{"url":7}}' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^campaign-inbox could not start: DESTINATIONS\.http\.url/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
