/**
 * `npm start` with several apps per provider, as the deployed stack has them: `APP_SECRET_KEYS` gives each app's
 * keys, `PROVIDER_APPS` their own routes, `PROVIDER_THROTTLES` a throttle per app (`sori/<app>`). The real local
 * stack in a process of its own.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDevSecret } from '../../local/dev-secret';
import { hexSignature, soriPayload } from '../support/deliveries';
import { refusedStart, startStackProcess } from '../support/stack-process';

const APP_KEY = 'sk_agency_a_0123456789';

describe('npm start with apps', () => {
  it("verifies an app's deliveries with its own key on its own route, throttled apart from its provider's", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-apps-'));
    const stack = await startStackProcess(dataDir, {
      PROVIDER_APPS: '{"sori":["agency-a"]}',
      APP_SECRET_KEYS: JSON.stringify({
        sori: { 'agency-a': APP_KEY, 'agency-b': 'sk_agency_b_0123456789' },
      }),
      PROVIDER_THROTTLES: '{"sori/agency-a":{"rateLimit":1,"burstLimit":3}}',
    });
    try {
      const secret = (await readDevSecret(dataDir)) as string;
      const base = (stack.info.webhookUrls.sori as string).replace(/\/sori$/, '/sori');
      let n = 0;
      const post = async (url: string, key: string) => {
        const body = JSON.stringify({ ...soriPayload('impression'), activity_id: `act_apps_${n++}` });
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-sori-signature': hexSignature(body, key) },
          body,
        });
        return response.status;
      };
      expect(await post(`${base}/agency-a`, APP_KEY)).toBe(202);
      // Another app's route, or the provider's own key on the app's route: refused as a wrong signature.
      expect(await post(`${base}/agency-b`, APP_KEY)).toBe(401);
      expect(await post(`${base}/agency-a`, secret)).toBe(401);
      expect(await post(`${base}/agency-b`, 'sk_agency_b_0123456789')).toBe(202);
      expect(await post(base, secret)).toBe(202);
      // A burst on the app's route runs out of its own bucket; the provider's route keeps answering.
      const burst = await Promise.all(Array.from({ length: 10 }, () => post(`${base}/agency-a`, APP_KEY)));
      expect(burst).toContain(429);
      expect(await post(base, secret)).toBe(202);
    } finally {
      await stack.kill('SIGTERM');
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses to start with app keys it cannot use, in one line naming the provider and the app', async () => {
    const result = await refusedStart({ APP_SECRET_KEYS: '{"sori":{"Agency A":"sk"}}' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^campaign-inbox could not start: APP_SECRET_KEYS\.sori\.Agency A: not an app name/,
    );
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
