import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { METRICS_NAMESPACE, RECEIVE_SERVICE } from '../../lib/metrics';
import { rotateSecret } from '../../lib/signature/rotate-secret';
import { hexSignature, soriBody } from '../support/deliveries';
import {
  type DeployedReceive,
  generatedSecretDocument,
  loadDeployedReceive,
} from '../support/deployed-receive';
import { extractMetrics, sumOf } from '../support/emf';

// The deployed receive function (functions/receive-webhook/handler.ts) in-process with the construct's
// environment; its metrics are the embedded-metric lines it writes, read as CloudWatch Logs reads them.

const SECRET = 'sk_refusal_metrics_0123456789';
const service = { service: RECEIVE_SERVICE };

let receive: DeployedReceive | undefined;
afterEach(async () => {
  await receive?.close();
  receive = undefined;
});

async function load() {
  receive = await loadDeployedReceive({
    document: rotateSecret(generatedSecretDocument({ providers: ['sori'] }), 'sori', SECRET),
    props: { providers: ['sori'] },
    env: { MAX_BODY_BYTES: '4096' },
  });
  return receive;
}

describe('refusals counted per provider by the deployed receive function', () => {
  it('counts a 401 and a 413 of a served provider under service and under service + provider, in the namespace the dashboard reads', async () => {
    const deployed = await load();
    const click = soriBody('click');
    const badSignature = await deployed.invoke({
      path: '/webhooks/sori',
      headers: { 'x-sori-signature': hexSignature(click, 'sk_wrong_0123456789') },
      body: click,
    });
    expect(badSignature.response.statusCode).toBe(401);
    const tooLarge = await deployed.invoke({
      path: '/webhooks/sori',
      headers: { 'x-sori-signature': 'x' },
      body: 'x'.repeat(5_000),
    });
    expect(tooLarge.response.statusCode).toBe(413);
    const points = extractMetrics(`${badSignature.stdout}\n${tooLarge.stdout}`);
    expect(new Set(points.map((point) => point.namespace))).toEqual(new Set([METRICS_NAMESPACE]));
    expect(sumOf(points, 'SignatureFailures', service)).toBe(1);
    expect(sumOf(points, 'SignatureFailures', { ...service, provider: 'sori' })).toBe(1);
    expect(sumOf(points, 'Rejected', service)).toBe(1);
    expect(sumOf(points, 'Rejected', { ...service, provider: 'sori' })).toBe(1);
  });

  it('never makes a dimension of a path segment: an unknown name, a provider the stack does not serve and another method than POST count in the total only', async () => {
    const deployed = await load();
    const segment = `made-up-${randomUUID()}`;
    const unknown = await deployed.invoke({ path: `/webhooks/${segment}`, body: '{}' });
    expect(unknown.response.statusCode).toBe(404);
    const notServed = await deployed.invoke({ path: '/webhooks/symphony', body: '{}' });
    expect(notServed.response.statusCode).toBe(404);
    const get = await deployed.invoke({ path: '/webhooks/sori', method: 'GET' });
    expect(get.response.statusCode).toBe(405);
    const output = `${unknown.stdout}\n${notServed.stdout}\n${get.stdout}`;
    const lines = output.split('\n').filter((line) => line.includes('"_aws"'));
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(line).not.toContain(segment);
      expect(line).not.toContain('symphony');
    }
    const points = extractMetrics(output);
    expect(sumOf(points, 'Rejected', service)).toBe(3);
    expect(points.filter((point) => 'provider' in point.dimensions)).toEqual([]);
  });
});
