import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { mulberry32 } from '../../scripts/load';
import { hexSignature, soriPayload } from '../support/deliveries';
import { eventually } from '../support/local-aws';
import { startStackProcess } from '../support/stack-process';

const SECRET = 'sk_reactions_test';

describe('reactions in `npm start` (ON_EVENT_MODULE)', () => {
  it("runs the user's module once for each newly stored event of the chosen type, under a burst with 30 % duplicates", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-reactions-'));
    const file = join(dataDir, 'reactions.jsonl');
    const stack = await startStackProcess(dataDir, {
      SORI_SECRET_KEY: SECRET,
      ON_EVENT_MODULE: resolve('test/fixtures/reactions/record-ids.ts'),
      ON_EVENT_TYPES: 'campaign.click',
      REACTIONS_FILE: file,
    });
    try {
      const bodies = Array.from({ length: 40 }, (_, i) =>
        JSON.stringify({
          ...soriPayload('impression'),
          event: i % 2 === 0 ? 'campaign.click' : 'campaign.impression',
          activity_id: `act_reaction_${i}`,
          device_id: `device_${i % 7}`,
          created_at: new Date().toISOString(),
        }),
      );
      const random = mulberry32(3);
      const deliveries = [...bodies, ...bodies.filter(() => random() < 0.3)].sort(() => random() - 0.5);
      await Promise.all(
        deliveries.map(async (body) => {
          const response = await fetch(stack.info.webhookUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-sori-signature': hexSignature(body, SECRET) },
            body,
          });
          expect(response.status).toBe(202);
        }),
      );
      const clicks = bodies
        .map((body) => buildQueueMessage(sori, Buffer.from(body), new Date().toISOString()))
        .filter((message) => message.kind === 'event' && message.record.event === 'campaign.click')
        .map((message) => message.record.id)
        .sort();
      const seen = await eventually(
        async () => {
          if (!existsSync(file)) return undefined;
          const lines = readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);
          return lines.length >= clicks.length
            ? lines.map((line) => JSON.parse(line) as { id: string })
            : undefined;
        },
        20_000,
        'a reaction for every click',
      );
      // A moment more, for any second call that would come late.
      await new Promise((r) => setTimeout(r, 1_000));
      const all = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { id: string }).id);
      expect(all.sort()).toEqual(clicks);
      expect(seen.length).toBe(clicks.length);
    } finally {
      await stack.kill('SIGTERM');
    }
  });
});
