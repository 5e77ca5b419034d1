import { afterEach, describe, expect, it } from 'vitest';
import type { QueueMessage } from '../../lib/events/event-record';
import { CampaignStats } from '../../lib/queries/campaign-stats';
import { RecordsRepository } from '../../lib/queries/records-repository';
import { rotateSecret } from '../../lib/signature/rotate-secret';
import type { SigningSecretDocument } from '../../lib/signature/signing-secrets';
import { type LocalStack, startLocalStack } from '../../local/local-stack';
import { hexSignature, memoryLogger, soriPayload } from '../support/deliveries';
import {
  type DeployedReceive,
  generatedSecretDocument,
  loadDeployedReceive,
} from '../support/deployed-receive';
import { eventually } from '../support/local-aws';

const JSON_HEADERS = { 'content-type': 'application/json' };
/** A SORI impression of its own activity and campaign, as SORI would send it. */
const impression = (activity: string, campaign: string) =>
  JSON.stringify({
    ...soriPayload('impression'),
    activity_id: activity,
    campaign: { ...(soriPayload('impression').campaign as object), id: campaign },
    created_at: new Date().toISOString(),
  });

/** The default app's key and two agencies' apps, each with its own. */
const withApps = (document: SigningSecretDocument = {}): SigningSecretDocument =>
  rotateSecret(
    rotateSecret(rotateSecret(document, 'sori', 'sk_default'), 'sori', 'sk_agency_a', 'agency-a'),
    'sori',
    'sk_agency_b',
    'agency-b',
  );

let stack: LocalStack | undefined;
let receive: DeployedReceive | undefined;
afterEach(async () => {
  await stack?.stop();
  await receive?.close();
  stack = undefined;
  receive = undefined;
});

describe('several SORI apps in one local stack', () => {
  it("stores and counts each app's deliveries under its app, refuses app A's delivery on app B's URL or the default URL, and answers an unknown app as a wrong signature", async () => {
    stack = await startLocalStack({
      port: 0,
      secret: 'sk_unused',
      credentials: withApps(),
      logger: memoryLogger().logger,
    });
    const port = stack.port;
    const post = async (path: string, body: string, secret: string) => {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, {
        method: 'POST',
        headers: { ...JSON_HEADERS, 'x-sori-signature': hexSignature(body, secret) },
        body,
      });
      return { status: response.status, body: await response.text() };
    };
    const a = impression('act_app_a', 'cmp_app_a');
    const b = impression('act_app_b', 'cmp_app_b');
    const own = impression('act_app_default', 'cmp_app_default');
    expect((await post('/webhooks/sori/agency-a', a, 'sk_agency_a')).status).toBe(202);
    expect((await post('/webhooks/sori/agency-b', b, 'sk_agency_b')).status).toBe(202);
    expect((await post('/webhooks/sori', own, 'sk_default')).status).toBe(202);

    const wrong = await post('/webhooks/sori/agency-b', a, 'sk_wrong');
    expect(wrong.status).toBe(401);
    for (const [path, secret] of [
      ['/webhooks/sori/agency-b', 'sk_agency_a'],
      ['/webhooks/sori', 'sk_agency_a'],
      ['/webhooks/sori/agency-a', 'sk_default'],
      ['/webhooks/sori/agency-z', 'sk_agency_a'],
      ['/webhooks/sori/agency-z', 'sk_default'],
    ] as const) {
      expect([path, secret, await post(path, a, secret)]).toEqual([path, secret, wrong]);
    }

    const repository = new RecordsRepository(stack.dynamodb, stack.tableName);
    const stats = new CampaignStats(stack.dynamodb, stack.tableName);
    for (const [campaign, app] of [
      ['cmp_app_a', 'agency-a'],
      ['cmp_app_b', 'agency-b'],
      ['cmp_app_default', 'default'],
    ] as const) {
      const events = await eventually(
        async () => {
          const found = await repository.queryEvents({ provider: 'sori', campaign, limit: 10 });
          return found.length > 0 ? found : undefined;
        },
        15_000,
        `${campaign} stored`,
      );
      expect(events.map((event) => [event.activity_id, event.app])).toEqual([
        [`act_app_${app === 'default' ? 'default' : app.slice(-1)}`, app],
      ]);
      await stack.foldNow();
      expect((await stats.campaignStats('sori', campaign)).map((day) => day.impressions)).toEqual([1]);
    }
  });
});

describe('several SORI apps in the synthesized stack', () => {
  it("verifies each app's deliveries with its own keys through the stack's routes; rotating one app's key leaves the other's and the default app's working", async () => {
    receive = await loadDeployedReceive({
      document: withApps(generatedSecretDocument()),
      env: { SIGNING_SECRET_TTL_SECONDS: '1' },
    });
    const deployed = receive;
    const send = async (path: string, body: string, secret: string) =>
      (
        await deployed.invoke({
          path,
          headers: { ...JSON_HEADERS, 'x-sori-signature': hexSignature(body, secret) },
          body,
        })
      ).response.statusCode;
    const a = impression('act_dep_a', 'cmp_dep');
    const b = impression('act_dep_b', 'cmp_dep');
    expect(await send('/webhooks/sori/agency-a', a, 'sk_agency_a')).toBe(202);
    expect(await send('/webhooks/sori/agency-b', b, 'sk_agency_b')).toBe(202);
    expect(await send('/webhooks/sori/agency-b', a, 'sk_agency_a')).toBe(401);
    expect(await send('/webhooks/sori/agency-z', a, 'sk_agency_a')).toBe(401);

    deployed.secretsManager.document = rotateSecret(
      deployed.secretsManager.document,
      'sori',
      'sk_agency_a_2',
      'agency-a',
    );
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await send('/webhooks/sori/agency-a', a, 'sk_agency_a_2')).toBe(202);
    // The key it replaced verifies until the next change; the other app's and the default app's are untouched.
    expect(await send('/webhooks/sori/agency-a', a, 'sk_agency_a')).toBe(202);
    expect(await send('/webhooks/sori/agency-b', b, 'sk_agency_b')).toBe(202);
    expect(await send('/webhooks/sori', b, 'sk_default')).toBe(202);
    expect(await send('/webhooks/sori/agency-b', b, 'sk_agency_a_2')).toBe(401);

    const apps = (await deployed.takeQueued()).map(
      (body) => ((JSON.parse(body) as QueueMessage).record as { app?: string }).app,
    );
    expect(apps).toEqual(['agency-a', 'agency-b', 'agency-a', 'agency-a', 'agency-b', 'default']);
  });
});
