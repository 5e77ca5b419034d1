/**
 * `npm start` with a destination that takes signals: the local stack's own fold raises a click burst, and the
 * HTTP destination receives its notice once, beside the records, with no signal raised for the clean part. The
 * real local stack in a process of its own, and a local HTTP server as the destination.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SignalNotice } from '../../lib/signals/signal-notices';
import { readDevSecret } from '../../local/dev-secret';
import { hexSignature, soriPayload } from '../support/deliveries';
import { eventually } from '../support/local-aws';
import { startStackProcess } from '../support/stack-process';

describe('npm start with DESTINATIONS taking signals', () => {
  it("POSTs the notice of a click burst its fold raised, once, beside the records, and no notice for the burst's impressions", async () => {
    const received: ({ record_id: string } | SignalNotice)[] = [];
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
    const dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-signal-destinations-'));
    const stack = await startStackProcess(dataDir, {
      DESTINATIONS: JSON.stringify({ http: { url, signals: true } }),
      SIGNAL_CLICKS_PER_MINUTE: '3',
    });
    try {
      const secret = (await readDevSecret(dataDir)) as string;
      const minute = new Date().toISOString().slice(0, 16);
      const post = async (kind: 'impression' | 'click', i: number) => {
        const at = `${minute}:${String(10 + i).padStart(2, '0')}.000Z`;
        const body = JSON.stringify({
          ...soriPayload(kind),
          activity_id: `act_burst_${i}`,
          device_id: 'device_burst',
          created_at: at,
          timestamp: at,
        });
        const response = await fetch(stack.info.webhookUrls.sori as string, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-sori-signature': hexSignature(body, secret) },
          body,
        });
        expect(response.ok).toBe(true);
      };
      const records = () => received.filter((body) => 'record_id' in body);
      const notices = () => received.filter((body): body is SignalNotice => 'notice_id' in body);
      // Each click's impression is stored first: no click goes without one.
      for (let i = 0; i < 4; i++) await post('impression', i);
      await eventually(async () => (records().length >= 4 ? true : undefined), 60_000, 'the impressions');
      for (let i = 0; i < 4; i++) await post('click', i);
      await eventually(async () => (notices().length >= 1 ? true : undefined), 60_000, 'a notice');
      // A few passes of the fold and the feed more: nothing else comes.
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      expect(records()).toHaveLength(8);
      expect(notices()).toEqual([
        expect.objectContaining({
          signal: 'click_bursts',
          state: 'raised',
          provider: 'sori',
          campaign_id: 'cmp_1234',
          device_id: 'device_burst',
          at: minute,
          threshold_name: 'SIGNAL_CLICKS_PER_MINUTE',
          threshold: '3',
        }),
      ]);
    } finally {
      await stack.kill('SIGTERM');
      server.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});
