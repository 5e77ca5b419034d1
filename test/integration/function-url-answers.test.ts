import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteQueueCommand } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import type { QueueMessage } from '../../lib/events/event-record';
import { rotateSecret } from '../../lib/signature/rotate-secret';
import { credentialsOf } from '../../lib/signature/signing-secrets';
import {
  type DeployedReceive,
  type DeployedRequest,
  generatedSecretDocument,
  loadDeployedReceive,
} from '../support/deployed-receive';
import {
  click,
  MAX_BODY_BYTES,
  octets,
  ROWS,
  SECRET,
  seen,
  signed,
  spaced,
} from '../support/front-door-answers';
import { functionUrlEvent, invokeFunctionUrl } from '../support/function-url';
import { localClients } from '../support/local-aws';

// The same receive function behind either front door: API Gateway's HTTP API (a route key and path variables)
// or a Lambda function URL (`$default`, the path alone). Every answer a sender can get must be the same.

type Door = 'httpApi' | 'functionUrl';

let receive: DeployedReceive | undefined;
afterEach(async () => {
  await receive?.close();
  receive = undefined;
});

async function load(door: Door): Promise<DeployedReceive> {
  receive = await loadDeployedReceive({
    document: rotateSecret(generatedSecretDocument({ frontDoor: door }), 'sori', SECRET),
    props: { frontDoor: door },
    env: { MAX_BODY_BYTES: String(MAX_BODY_BYTES) },
  });
  return receive;
}

async function send(door: Door, request: DeployedRequest): Promise<APIGatewayProxyStructuredResultV2> {
  const deployed = receive as DeployedReceive;
  return door === 'httpApi'
    ? (await deployed.invoke(request)).response
    : invokeFunctionUrl(deployed, request);
}

describe('the event a function URL hands the receive function', () => {
  it('has the $default route key, no path variables, the path in rawPath and requestContext.http.path, and a non-text body base64-encoded', () => {
    const event = functionUrlEvent({
      path: '/webhooks/sori',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: octets,
    });
    expect(event.routeKey).toBe('$default');
    expect(event.pathParameters).toBeUndefined();
    expect([event.rawPath, event.requestContext.http.path]).toEqual(['/webhooks/sori', '/webhooks/sori']);
    expect(event.isBase64Encoded).toBe(true);
    expect(Buffer.from(event.body ?? '', 'base64').toString('utf8')).toBe(octets);
    const text = functionUrlEvent({ path: '/webhooks/sori', headers: signed(spaced), body: spaced });
    expect([text.isBase64Encoded, text.body]).toEqual([false, spaced]);
  });
});

describe.each(['httpApi', 'functionUrl'] as const)('the answer table through the %s front door', (door) => {
  it('answers 202, 401 (wrong signature, unknown app), 404 (provider not served, path not a webhook path), 405, 413 and a quarantine id as the HTTP API does, and queues the accepted bodies byte for byte', async () => {
    const deployed = await load(door);
    const answers: Record<string, ReturnType<typeof seen>> = {};
    let quarantineId: unknown;
    for (const row of ROWS) {
      const response = await send(door, row.request);
      answers[row.name] = seen(response, row);
      if (row.answer?.status === 'quarantined') quarantineId = JSON.parse(String(response.body)).id;
    }
    expect(answers).toEqual(
      Object.fromEntries(
        ROWS.map((row) => [
          row.name,
          { status: row.status, answer: row.answer ?? {}, headers: row.headers ?? {} },
        ]),
      ),
    );
    expect(quarantineId).toMatch(/\S{8,}/);
    const queued = (await deployed.takeQueued()).map((body) => JSON.parse(body) as QueueMessage);
    expect(queued.map((message) => message.kind)).toEqual(['event', 'event', 'event', 'quarantine']);
    expect(queued.map((message) => message.raw)).toEqual([click, spaced, octets, '{"broken']);
    expect(queued[3]?.record.id).toBe(quarantineId);
  });

  it('answers 503 with retry-after when the events queue does not take the message', async () => {
    const deployed = await load(door);
    const { sqs } = localClients();
    try {
      await sqs.send(new DeleteQueueCommand({ QueueUrl: deployed.queueUrl }));
    } finally {
      sqs.destroy();
    }
    const response = await send(door, { path: '/webhooks/sori', headers: signed(click), body: click });
    expect([response.statusCode, response.headers?.['retry-after']]).toEqual([503, '5']);
    expect(JSON.parse(String(response.body))).toEqual({ message: 'Service Unavailable' });
  });
});

describe('apps and URL tokens through the function URL, which has no routes of its own', () => {
  const ADREFORM = readFileSync(
    join(import.meta.dirname, '../../examples/payloads/adreform/screenshot-set-approved.json'),
    'utf8',
  );

  it("verifies each SORI app with its own key from the path's last segment, refuses app A's delivery on app B's URL, and takes a URL-token provider's token from the path", async () => {
    let document = rotateSecret(generatedSecretDocument({ frontDoor: 'functionUrl' }), 'sori', SECRET);
    document = rotateSecret(document, 'sori', 'sk_agency_a_0123456789', 'agency-a');
    document = rotateSecret(document, 'sori', 'sk_agency_b_0123456789', 'agency-b');
    receive = await loadDeployedReceive({ document, props: { frontDoor: 'functionUrl' } });
    const token = credentialsOf(document, 'adreform').urlToken ?? '';
    const answer = async (request: DeployedRequest) =>
      (await invokeFunctionUrl(receive as DeployedReceive, request)).statusCode;

    const agencyA = signed(click, 'sk_agency_a_0123456789');
    expect(await answer({ path: '/webhooks/sori/agency-a', headers: agencyA, body: click })).toBe(202);
    expect(await answer({ path: '/webhooks/sori/agency-b', headers: agencyA, body: click })).toBe(401);
    expect(await answer({ path: '/webhooks/sori', headers: agencyA, body: click })).toBe(401);
    expect(await answer({ path: '/webhooks/sori', headers: signed(click), body: click })).toBe(202);
    const json = { 'content-type': 'application/json' };
    expect(await answer({ path: `/webhooks/adreform/${token}`, headers: json, body: ADREFORM })).toBe(202);
    expect(await answer({ path: '/webhooks/adreform/not-the-token', headers: json, body: ADREFORM })).toBe(
      401,
    );
    // A segment no path variable could hold (a malformed escape) is no route's: 404, not a failure.
    expect(await answer({ path: '/webhooks/sori/%E0%A4%A', headers: signed(click), body: click })).toBe(404);

    const apps = (await receive.takeQueued()).map(
      (body) => ((JSON.parse(body) as QueueMessage).record as { app?: string }).app,
    );
    expect(apps).toEqual(['agency-a', 'default', 'default']);
  });
});
