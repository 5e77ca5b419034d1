import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RECEIVE_SERVICE } from '../../lib/metrics';
import { rotateSecret } from '../../lib/signature/rotate-secret';
import { credentialsOf } from '../../lib/signature/signing-secrets';
import { hexSignature, soriBody } from '../support/deliveries';
import {
  type DeployedReceive,
  generatedSecretDocument,
  loadDeployedReceive,
  routeEvent,
  synthesizeInbox,
} from '../support/deployed-receive';
import { extractMetrics, sumOf } from '../support/emf';

// The deployed stack gives each provider routes of its own (`POST /webhooks/sori`, `POST /webhooks/symphony/
// {token}`): API Gateway then hands the function no `provider` path variable, only the route key naming it.

const SECRET = 'sk_provider_routes_0123456789';
const SYMPHONY_BODY = readFileSync(
  join(import.meta.dirname, '../../examples/payloads/symphony/campaign-created.json'),
  'utf8',
);
const service = { service: RECEIVE_SERVICE };

let receive: DeployedReceive | undefined;
afterEach(async () => {
  await receive?.close();
  receive = undefined;
});

describe('the routes API Gateway chooses in the deployed stack', () => {
  const { routeKeys } = synthesizeInbox();
  const chosen = (path: string, method = 'POST') => routeEvent(routeKeys, { path, method });

  it("takes a provider's own POST routes over ANY /webhooks/{provider}, and the ANY routes for another method or a name not served", () => {
    expect(chosen('/webhooks/sori')?.routeKey).toBe('POST /webhooks/sori');
    expect(chosen('/webhooks/sori')?.pathParameters).toBeUndefined();
    expect(chosen('/webhooks/symphony/tok_1')?.routeKey).toBe('POST /webhooks/symphony/{token}');
    expect(chosen('/webhooks/symphony/tok_1')?.pathParameters).toEqual({ token: 'tok_1' });
    expect(chosen('/webhooks/sori', 'GET')?.routeKey).toBe('ANY /webhooks/{provider}');
    expect(chosen('/webhooks/made-up')?.routeKey).toBe('ANY /webhooks/{provider}');
    expect(chosen('/webhooks/made-up/tok_1')?.pathParameters).toEqual({
      provider: 'made-up',
      token: 'tok_1',
    });
    expect(chosen('/elsewhere')).toBeUndefined();
  });
});

describe("the deployed receive function on a provider's own routes", () => {
  it('accepts a signed SORI delivery on POST /webhooks/sori, whose event names the provider in its route key only', async () => {
    receive = await loadDeployedReceive({
      document: rotateSecret(generatedSecretDocument(), 'sori', SECRET),
    });
    const click = soriBody('click');
    const { response } = await receive.invoke({
      path: '/webhooks/sori',
      headers: { 'content-type': 'application/json', 'x-sori-signature': hexSignature(click, SECRET) },
      body: click,
    });
    expect(response.statusCode).toBe(202);
    expect(await receive.takeQueued()).toHaveLength(1);
  });

  it('accepts a Symphony delivery on POST /webhooks/symphony/{token} with its token, and counts a wrong token as a signature failure of symphony', async () => {
    const document = generatedSecretDocument();
    receive = await loadDeployedReceive({ document });
    const token = credentialsOf(document, 'symphony').urlToken ?? '';
    const headers = { 'content-type': 'application/json' };
    const accepted = await receive.invoke({
      path: `/webhooks/symphony/${token}`,
      headers,
      body: SYMPHONY_BODY,
    });
    expect(accepted.response.statusCode).toBe(202);
    const refused = await receive.invoke({
      path: '/webhooks/symphony/not-the-token',
      headers,
      body: SYMPHONY_BODY,
    });
    expect(refused.response.statusCode).toBe(401);
    const points = extractMetrics(refused.stdout);
    expect(sumOf(points, 'SignatureFailures', { ...service, provider: 'symphony' })).toBe(1);
    expect(await receive.takeQueued()).toHaveLength(1);
  });
});
