import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { rotateSecret, setBasicCredentials } from '../../lib/signature/rotate-secret';
import { credentialsOf, type SigningSecretDocument } from '../../lib/signature/signing-secrets';
import { type LocalStack, queueDepth, startLocalStack } from '../../local/local-stack';
import { hexSignature, memoryLogger, SORI_FIXTURES, soriBody } from '../support/deliveries';
import {
  type DeployedReceive,
  generatedSecretDocument,
  loadDeployedReceive,
} from '../support/deployed-receive';
import { eventually } from '../support/local-aws';

// The deployed receive function (functions/receive-webhook/handler.ts) runs in-process with the construct's
// environment and its queue on the run's SQS server. Secrets Manager has no local server: a stand-in serves the
// document CloudFormation would generate (see test/support/deployed-receive.ts), and fails where a test says.

const FIXTURES = join(import.meta.dirname, '../../examples/payloads');
const body = (provider: string, name: string) =>
  readFileSync(join(FIXTURES, provider, `${name}.json`), 'utf8');
const SYMPHONY = body('symphony', 'campaign-created');
const ADREFORM = body('adreform', 'screenshot-set-approved');
const OPTIMIZELY = body('optimizely', 'bounce');
const UNKNOWN_EVENT = '{"event":"campaign.share","secret_note":"Fall Promotion"}';

const SORI_SECRET = 'sk_current_observability_0123';
const SORI_PREVIOUS = 'sk_previous_observability_0123';
const BASIC = { username: 'inbox-user', password: 'pa55word-observability' };
/** Optimizely deliveries are taken from this address only; the harness sends from 203.0.113.10 by default. */
const OPTIMIZELY_IP = '193.169.180.1';

/** Distinctive pieces of the bodies: personal data, metadata, names, raw JSON. None may reach a log. */
const BODY_FRAGMENTS = [
  'abcd-1234',
  'Ann Arbor',
  'Audio Spot',
  'utm_source',
  'Fall Promotion',
  '{"broken',
  'john.smith@example.com',
  '4P6W8B4',
  'boost_instagram',
  'uuid-of-screenshot',
];

/** Every secret a log line could leak, in every form it travels in. */
function secretsIn(document: SigningSecretDocument, signatures: string[]): string[] {
  const basic = `${BASIC.username}:${BASIC.password}`;
  return [
    SORI_SECRET,
    SORI_PREVIOUS,
    BASIC.password,
    basic,
    Buffer.from(basic).toString('base64'),
    document.url_token ?? '',
    ...['sori', 'symphony', 'adreform', 'optimizely'].map((p) => credentialsOf(document, p).urlToken ?? ''),
    ...signatures,
  ].filter((secret) => secret.length >= 8);
}

function expectClean(log: string, secrets: string[]) {
  for (const secret of secrets) expect(log).not.toContain(secret);
  for (const fragment of BODY_FRAGMENTS) expect(log).not.toContain(fragment);
}

let receive: DeployedReceive | undefined;
afterEach(async () => {
  await receive?.close();
  receive = undefined;
});

describe('logs never hold a secret', () => {
  it('the deployed receive function logs no token, signature, credential or body on any path: accepted, quarantined, 401, 404, 405, 413, 503', async () => {
    let document = rotateSecret(generatedSecretDocument(), 'sori', SORI_PREVIOUS);
    document = rotateSecret(document, 'sori', SORI_SECRET);
    document = setBasicCredentials(document, 'symphony', BASIC);
    receive = await loadDeployedReceive({
      document,
      props: {
        auth: {
          symphony: { scheme: { kind: 'basic' } },
          optimizely: { scheme: { kind: 'url-token' }, allowIps: [OPTIMIZELY_IP] },
        },
      },
      env: { MAX_BODY_BYTES: String(512 * 1024) },
    });
    receive.secretsManager.failing = true;
    const token = (provider: string) => credentialsOf(document, provider).urlToken ?? '';
    const signatures: string[] = [];
    const sign = (raw: string, secret = SORI_SECRET) => {
      const signature = hexSignature(raw, secret);
      signatures.push(signature);
      return { 'content-type': 'application/json', 'x-sori-signature': signature };
    };
    const basic = (password: string) => ({
      authorization: `Basic ${Buffer.from(`${BASIC.username}:${password}`).toString('base64')}`,
    });
    const statuses: number[] = [];
    let log = '';
    const send = async (request: Parameters<DeployedReceive['invoke']>[0]) => {
      const { response, stdout, stderr } = await (receive as DeployedReceive).invoke(request);
      statuses.push(response.statusCode ?? 0);
      log += `${stdout}\n${stderr}\n`;
      return response.statusCode;
    };

    // Secrets Manager down at the first read: 503, with a valid token in the path.
    expect(await send({ path: `/webhooks/adreform/${token('adreform')}`, body: ADREFORM })).toBe(503);
    receive.secretsManager.failing = false;

    for (const name of SORI_FIXTURES) {
      expect(
        await send({ path: '/webhooks/sori', headers: sign(soriBody(name)), body: soriBody(name) }),
      ).toBe(202);
    }
    const click = soriBody('click');
    expect(await send({ path: '/webhooks/sori', headers: sign(click, SORI_PREVIOUS), body: click })).toBe(
      202,
    );
    expect(
      await send({ path: '/webhooks/sori', headers: sign(click, 'sk_wrong_0123456789'), body: click }),
    ).toBe(401);
    expect(await send({ path: '/webhooks/sori', headers: sign(UNKNOWN_EVENT), body: UNKNOWN_EVENT })).toBe(
      202,
    );
    expect(await send({ path: '/webhooks/sori', headers: sign('{"broken'), body: '{"broken' })).toBe(202);
    expect(await send({ path: '/webhooks/symphony', headers: basic(BASIC.password), body: SYMPHONY })).toBe(
      202,
    );
    expect(
      await send({ path: '/webhooks/symphony', headers: basic('wrong-password-0'), body: SYMPHONY }),
    ).toBe(401);
    // Symphony takes Basic here: its token route does not exist, whatever the path carries.
    expect(await send({ path: `/webhooks/symphony/${token('symphony')}`, body: SYMPHONY })).toBe(404);
    expect(await send({ path: `/webhooks/adreform/${token('adreform')}`, body: ADREFORM })).toBe(202);
    expect(await send({ path: `/webhooks/adreform/${token('optimizely')}`, body: ADREFORM })).toBe(401);
    // A valid token refused for another reason: too large, and (over 96 KiB, no local S3) a 5xx.
    const large = JSON.stringify({ ...JSON.parse(ADREFORM), padding: 'x'.repeat(600 * 1024) });
    expect(await send({ path: `/webhooks/adreform/${token('adreform')}`, body: large })).toBe(413);
    const offloaded = JSON.stringify({ ...JSON.parse(ADREFORM), padding: 'x'.repeat(100 * 1024) });
    expect(await send({ path: `/webhooks/adreform/${token('adreform')}`, body: offloaded })).toBe(503);
    const optimizely = `/webhooks/optimizely/${token('optimizely')}`;
    expect(await send({ path: optimizely, body: OPTIMIZELY, sourceIp: OPTIMIZELY_IP })).toBe(202);
    expect(await send({ path: optimizely, body: OPTIMIZELY })).toBe(401);
    expect(await send({ path: `/webhooks/nobody/${token('adreform')}`, body: ADREFORM })).toBe(404);
    expect(await send({ path: optimizely, method: 'GET', sourceIp: OPTIMIZELY_IP })).toBe(405);

    expect(new Set(statuses)).toEqual(new Set([202, 401, 404, 405, 413, 503]));
    // The refusals were logged, by route key.
    expect(log).toContain('"route":"ANY /webhooks/{provider}/{token}"');
    expectClean(log, secretsIn(document, signatures));
  });

  it('the local stack logs no token, signature, credential or body on any path, the consumer included', async () => {
    const { lines, logger } = memoryLogger();
    const tokens = {
      symphony: 'tok_symphony_observability_01',
      adreform: 'tok_adreform_observability_01',
      optimizely: 'tok_optimizely_observability1',
    };
    const stack: LocalStack = await startLocalStack({
      port: 0,
      secret: SORI_SECRET,
      previousSecret: SORI_PREVIOUS,
      urlTokens: tokens,
      auth: { optimizely: { scheme: { kind: 'url-token' }, allowIps: ['10.1.2.3'] } },
      maxBodyBytes: 512 * 1024,
      logger,
      visibilityTimeoutSeconds: 1,
      maxReceiveCount: 2,
    });
    const signatures: string[] = [];
    const statuses: number[] = [];
    try {
      const post = async (path: string, raw: string, headers: Record<string, string> = {}) => {
        const response = await fetch(`http://127.0.0.1:${stack.port}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: raw,
        });
        statuses.push(response.status);
        return response.status;
      };
      const signed = (raw: string, secret = SORI_SECRET) => {
        const signature = hexSignature(raw, secret);
        signatures.push(signature);
        return { 'x-sori-signature': signature };
      };
      for (const name of SORI_FIXTURES)
        expect(await post('/webhooks/sori', soriBody(name), signed(soriBody(name)))).toBe(202);
      const click = soriBody('click');
      expect(await post('/webhooks/sori', click, signed(click, SORI_PREVIOUS))).toBe(202);
      expect(await post('/webhooks/sori', click, signed(click, 'sk_wrong_0123456789'))).toBe(401);
      expect(await post('/webhooks/sori', UNKNOWN_EVENT, signed(UNKNOWN_EVENT))).toBe(202);
      expect(await post('/webhooks/sori', '{"broken', signed('{"broken'))).toBe(202);
      expect(await post(`/webhooks/symphony/${tokens.symphony}`, SYMPHONY)).toBe(202);
      expect(await post(`/webhooks/symphony/${tokens.adreform}`, SYMPHONY)).toBe(401);
      expect(await post(`/webhooks/adreform/${tokens.adreform}`, ADREFORM)).toBe(202);
      const large = JSON.stringify({ ...JSON.parse(ADREFORM), padding: 'x'.repeat(600 * 1024) });
      expect(await post(`/webhooks/adreform/${tokens.adreform}`, large)).toBe(413);
      // A valid token from an address the provider is not allowed from.
      expect(await post(`/webhooks/optimizely/${tokens.optimizely}`, OPTIMIZELY)).toBe(401);
      expect(await post(`/webhooks/nobody/${tokens.adreform}`, ADREFORM)).toBe(404);
      // A poison message in the queue: the consumer fails it twice (logged) and it moves to the DLQ.
      await stack.sqs.send(
        new SendMessageCommand({
          QueueUrl: stack.queueUrl,
          MessageBody: `{"raw":"${soriBody('impression').replaceAll('"', '\\"')}"}`,
        }),
      );
      await eventually(
        async () => ((await queueDepth(stack.sqs, stack.dlqUrl)) === 1 ? true : undefined),
        15_000,
      );
    } finally {
      await stack.stop();
    }
    const log = lines.join('\n');
    expect(new Set(statuses)).toEqual(new Set([202, 401, 404, 413]));
    expect(log).toContain('"route":"ANY /webhooks/{provider}/{token}"');
    expect(log).toContain('store failed');
    expectClean(log, [SORI_SECRET, SORI_PREVIOUS, ...Object.values(tokens), ...signatures]);
  });
});

describe('metrics', () => {
  it('a refusal is published in the same invocation that counted it; accepted deliveries wait for the next flush, at most a minute', async () => {
    receive = await loadDeployedReceive({
      document: rotateSecret(generatedSecretDocument(), 'sori', SORI_SECRET),
      env: { METRICS_FLUSH_SECONDS: '2' },
    });
    const emf = (stdout: string) =>
      stdout
        .split('\n')
        .filter((line) => line.includes('"_aws"'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    const click = soriBody('click');
    const signed = {
      path: '/webhooks/sori',
      headers: { 'x-sori-signature': hexSignature(click, SORI_SECRET) },
      body: click,
    };

    // A container's first invocation flushes; the next accepted one only counts.
    const first = await receive.invoke(signed);
    expect(first.response.statusCode).toBe(202);
    expect(emf(first.stdout).map((metrics) => metrics.Accepted)).toEqual([1]);
    const second = await receive.invoke(signed);
    expect(second.response.statusCode).toBe(202);
    expect(emf(second.stdout)).toEqual([]);

    // A refusal flushes at once, with what was waiting.
    const refused = await receive.invoke({
      path: '/webhooks/sori',
      headers: { 'x-sori-signature': hexSignature(click, 'sk_wrong_0123456789') },
      body: click,
    });
    expect(refused.response.statusCode).toBe(401);
    expect(emf(refused.stdout)).toEqual([
      expect.objectContaining({ service: 'receive-webhook', SignatureFailures: 1, Accepted: 1 }),
    ]);

    // Once the interval has passed, the next invocation flushes the accepted counts.
    await receive.invoke(signed);
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const later = await receive.invoke(signed);
    expect(emf(later.stdout)).toEqual([
      expect.objectContaining({ Accepted: 2, 'Accepted.campaign.click': 2 }),
    ]);
    expect(later.stdout).not.toContain('SignatureFailures');
  });
});
