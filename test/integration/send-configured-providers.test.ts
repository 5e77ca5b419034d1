import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { findProvider } from '../../lib/providers';
import { customProviderSecrets, registerCustomProviders } from '../../lib/providers/declarative';
import { RecordsRepository } from '../../lib/queries/records-repository';
import { type LocalStack, queueDepth, startLocalStack } from '../../local/local-stack';
import { run } from '../../scripts/send';
import { signatureHeaders } from '../../scripts/sign-delivery';
import { memoryLogger } from '../support/deliveries';
import { eventually } from '../support/local-aws';

// `npm run send -- --provider <name> --file <payload>` for the providers CUSTOM_PROVIDERS configures: the two of
// the documented example, one signing as Standard Webhooks do, one with a composed HMAC of its own.

const DOCS = readFileSync(join(import.meta.dirname, '../../docs/custom-providers.md'), 'utf8');
const EXAMPLE = /```json\n([\s\S]*?)\n```/.exec(
  DOCS.slice(DOCS.indexOf('<!-- example: CUSTOM_PROVIDERS -->')),
)?.[1] as string;

const ACME_SECRET = 'acme-send-secret';
// The Standard Webhooks libraries' test key, in the form a sender shows it.
const BEACON_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const SECRETS_ENV = { ACME_ADS_SECRET_KEY: ACME_SECRET, BEACON_SECRET_KEY: BEACON_SECRET };

let stack: LocalStack;
let dataDir: string;

beforeAll(async () => {
  registerCustomProviders(EXAMPLE);
  dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-send-configured-'));
  stack = await startLocalStack({
    port: 0,
    dataDir,
    secret: 'sk_send_configured',
    credentials: customProviderSecrets(SECRETS_ENV),
    logger: memoryLogger().logger,
  });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  registerCustomProviders(undefined);
  await rm(dataDir, { recursive: true, force: true });
});

interface Sent {
  code: number;
  answers: { file: string; attempt: number; status: number; body: { status?: string; id?: string } }[];
  stderr: string;
}

/** `npm run send -- --json <args>` in this process, with `env` as its environment adds to this one. */
async function send(args: string[], env: Record<string, string> = {}): Promise<Sent> {
  const lines: string[] = [];
  const errors: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line: unknown) => {
    lines.push(String(line));
  });
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    errors.push(String(chunk));
    return true;
  });
  for (const [name, value] of Object.entries({ CUSTOM_PROVIDERS: EXAMPLE, DATA_DIR: dataDir, ...env }))
    vi.stubEnv(name, value);
  try {
    const code = await run(['--json', ...args]);
    return {
      code,
      answers: lines.map((line) => JSON.parse(line) as Sent['answers'][number]),
      stderr: errors.join(''),
    };
  } finally {
    vi.unstubAllEnvs();
    log.mockRestore();
    stderr.mockRestore();
  }
}

const url = (provider: string) => `http://127.0.0.1:${stack.port}/webhooks/${provider}`;

/** A payload file of `body`, written as a person would (indented, a final newline). */
async function payloadFile(body: Record<string, unknown>): Promise<string> {
  const path = join(dataDir, `${randomUUID().slice(0, 8)}.json`);
  await writeFile(path, `${JSON.stringify(body, null, 2)}\n`);
  return path;
}

const beaconPayload = (campaign: string) => ({
  type: 'impression.recorded',
  timestamp: new Date(Date.now() - 60_000).toISOString(),
  data: { campaign_id: campaign, device_id: 'dev_send_beacon' },
});

const acmePayload = (campaign: string) => ({
  event_id: `evt_${randomUUID().slice(0, 8)}`,
  type: 'ad.clicked',
  occurred_at: new Date(Date.now() - 60_000).toISOString(),
  data: { campaign: { id: campaign, name: 'Spring sale' }, viewer: { device_id: 'dev_send_acme' } },
});

// Sized for a busy machine: the local stack stores a delivery in well under a second when idle.
const drained = () =>
  eventually(
    async () => ((await queueDepth(stack.sqs, stack.queueUrl)) === 0 ? true : undefined),
    60_000,
    'the queue drained',
  );

const stored = (provider: string, campaign: string) =>
  new RecordsRepository(stack.dynamodb, stack.tableName, stack.layout).queryEvents({
    provider,
    campaign,
    limit: 100,
  });

describe('npm run send -- --provider <a configured provider> --file <payload>', { timeout: 120_000 }, () => {
  it('signs a Standard Webhooks provider’s delivery as its scheme declares; the same file sent twice is stored once', async () => {
    const campaign = `cmp_send_beacon_${randomUUID().slice(0, 8)}`;
    const file = await payloadFile(beaconPayload(campaign));
    const where = ['--provider', 'beacon', '--url', url('beacon'), '--secret', BEACON_SECRET, '--file', file];

    const first = await send(where);
    const second = await send(where);

    expect(first.code, first.stderr).toBe(0);
    expect(first.answers.map((answer) => [answer.status, answer.body.status])).toEqual([[202, 'accepted']]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.answers[0]?.body.id).toBe(first.answers[0]?.body.id);
    await drained();
    expect((await stored('beacon', campaign)).map((record) => record.campaign_id)).toEqual([campaign]);
  });

  it('signs a declared composed HMAC (a signed timestamp header, the sha256= prefix, hex) that the stack accepts', async () => {
    const campaign = `cmp_send_acme_${randomUUID().slice(0, 8)}`;
    const file = await payloadFile(acmePayload(campaign));

    const sent = await send([
      '--provider',
      'acme-ads',
      '--url',
      url('acme-ads'),
      '--secret',
      ACME_SECRET,
      '--file',
      file,
    ]);

    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.answers.map((answer) => [answer.status, answer.body.status])).toEqual([[202, 'accepted']]);
    await drained();
    expect((await stored('acme-ads', campaign)).map((record) => record.event)).toEqual(['ad.clicked']);
  });

  it('posts to the running stack’s URL for the provider, signed with <NAME>_SECRET_KEY, when neither --url nor --secret is given', async () => {
    const campaign = `cmp_send_env_${randomUUID().slice(0, 8)}`;
    const file = await payloadFile(beaconPayload(campaign));

    const sent = await send(['--provider', 'beacon', '--file', file], { BEACON_SECRET_KEY: BEACON_SECRET });

    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.answers.map((answer) => answer.body.status)).toEqual(['accepted']);
  });

  it('exits 1 with the 401 when the delivery is signed with another secret', async () => {
    const file = await payloadFile(beaconPayload('cmp_send_wrong'));

    const sent = await send([
      '--provider',
      'beacon',
      '--url',
      url('beacon'),
      '--secret',
      'whsec_b3RoZXItc2VjcmV0LW9mLTMyLWJ5dGVzLi4uLi4=',
      '--file',
      file,
    ]);

    expect(sent.code).toBe(1);
    expect(sent.answers.map((answer) => answer.status)).toEqual([401]);
  });

  it('says in one line that a configured provider has no shipped examples and to pass --file, exit code 2', async () => {
    const sent = await send(['--provider', 'beacon', '--url', url('beacon'), '--secret', BEACON_SECRET]);

    expect(sent.code).toBe(2);
    expect(sent.answers).toEqual([]);
    expect(sent.stderr).toBe('send: no example payloads for beacon: pass --file <payload> (see --help)\n');
  });

  it('reads CUSTOM_PROVIDERS itself: with no provider configured in its process, it knows the configured names and lists them when --provider names none', async () => {
    try {
      const campaign = `cmp_send_own_${randomUUID().slice(0, 8)}`;
      const file = await payloadFile(beaconPayload(campaign));
      registerCustomProviders(undefined);
      const known = await send([
        '--provider',
        'beacon',
        '--url',
        url('beacon'),
        '--secret',
        BEACON_SECRET,
        '--file',
        file,
      ]);
      registerCustomProviders(undefined);
      const unknown = await send(['--provider', 'nobody', '--file', file]);

      expect(known.code, known.stderr).toBe(0);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/^send: unknown provider nobody; known: .*\bacme-ads\b.*\bbeacon\b/);
    } finally {
      registerCustomProviders(EXAMPLE);
    }
  });
});

describe('the headers send signs with', () => {
  it('verify with the standardwebhooks package for a Standard Webhooks provider: webhook-id, webhook-timestamp and a v1 signature', () => {
    const beacon = findProvider('beacon');
    if (beacon?.auth.scheme.kind !== 'hmac') throw new Error('the example configures no beacon');
    const body = JSON.stringify(beaconPayload('cmp_headers'));
    const now = new Date();

    const headers = signatureHeaders(beacon.auth.scheme, Buffer.from(body), BEACON_SECRET, { now });

    expect(headers['webhook-timestamp']).toBe(String(Math.floor(now.getTime() / 1000)));
    expect(headers['webhook-signature']).toMatch(/^v1,/);
    expect(new Webhook(BEACON_SECRET).verify(body, headers)).toEqual(JSON.parse(body));
  });
});
