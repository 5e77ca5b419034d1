import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { SignatureError } from '../../lib/errors';
import { standardWebhooksScheme } from '../../lib/providers/standard-webhooks';
import { type AuthRequest, authenticate } from '../../lib/receive/authenticate';
import { signContent } from '../../lib/signature/verify-signature';

// The Standard Webhooks reference libraries' own test vector (libraries/javascript/src/webhook.test.ts, "sign
// function works"; the same values in the Go and Python libraries' tests):
//   key = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
//   msgId = "msg_p5jXN8AQM9LWM0D4loKWxJek"
//   timestamp = 1614265330
//   payload = '{"test": 2432232314}'
//   expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
const SPEC = {
  key: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  msgId: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  payload: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
} as const;
// The libraries' "multi sig payload is valid" test: a wrong v1 signature, one of an unknown version v2, the valid
// one, and the wrong v1 again, space-delimited.
const WRONG_V1 = 'v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=';
const UNKNOWN_V2 = 'v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=';
// The specification's example header's asymmetric signature ("v1a"), which an HMAC verifier ignores.
const SPEC_V1A =
  'v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==';

const AT_SPEC_TIME = SPEC.timestamp * 1000;

function request(
  headers: Record<string, string | undefined>,
  body: string = SPEC.payload,
  now: number = AT_SPEC_TIME,
): AuthRequest {
  return {
    raw: Buffer.from(body),
    header: (name) => headers[name],
    token: undefined,
    sourceIp: '203.0.113.9',
    now,
  };
}

const specHeaders = (overrides: Record<string, string | undefined> = {}) => ({
  'webhook-id': SPEC.msgId,
  'webhook-timestamp': String(SPEC.timestamp),
  'webhook-signature': SPEC.signature,
  ...overrides,
});

const verify = (req: AuthRequest, secrets: string[] = [SPEC.key], toleranceSeconds?: number) =>
  authenticate({ scheme: standardWebhooksScheme(toleranceSeconds) }, req, {
    secrets,
    urlToken: undefined,
    basic: undefined,
  });

describe('the Standard Webhooks preset', () => {
  it("verifies the specification libraries' example: msg_p5jXN8AQM9LWM0D4loKWxJek at 1614265330 under whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", () => {
    expect(() => verify(request(specHeaders()))).not.toThrow();
  });

  it('signs the example content msg_id.timestamp.body to the expected v1 signature', () => {
    const content = `${SPEC.msgId}.${SPEC.timestamp}.${SPEC.payload}`;
    const digest = signContent([content], SPEC.key, standardWebhooksScheme());
    expect(`v1,${digest.toString('base64')}`).toBe(SPEC.signature);
  });

  it('takes the secret with or without its whsec_ prefix (the key is the decoded base64)', () => {
    expect(() => verify(request(specHeaders()), ['MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'])).not.toThrow();
    // The secret's text as the key (what a scheme over the raw text would use) is not the key.
    expect(() => verify(request(specHeaders()), ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx'])).toThrow(
      SignatureError,
    );
  });

  it("accepts the libraries' multi-signature header: a wrong v1, an unknown v2, the valid one, the wrong v1 again", () => {
    const header = [WRONG_V1, UNKNOWN_V2, SPEC.signature, WRONG_V1].join(' ');
    expect(() => verify(request(specHeaders({ 'webhook-signature': header })))).not.toThrow();
  });

  it("ignores the specification's v1a (asymmetric) signature beside the valid v1 one, and refuses it alone", () => {
    const both = `${SPEC.signature} ${SPEC_V1A}`;
    expect(() => verify(request(specHeaders({ 'webhook-signature': both })))).not.toThrow();
    expect(() => verify(request(specHeaders({ 'webhook-signature': SPEC_V1A })))).toThrow(SignatureError);
  });

  it('verifies with the previous secret during a rotation', () => {
    expect(() =>
      verify(request(specHeaders()), ['whsec_bmV3LXNlY3JldC1rZXktMDEyMzQ1Njc4OQ==', SPEC.key]),
    ).not.toThrow();
  });

  it.each([
    [
      'a wrong signature (the libraries\' "v1,dawfeoifkpqwoekfpqoekf")',
      { 'webhook-signature': 'v1,dawfeoifkpqwoekfpqoekf' },
    ],
    ['a partial signature (its first 8 characters)', { 'webhook-signature': SPEC.signature.slice(0, 8) }],
    ['an empty v1 signature', { 'webhook-signature': 'v1,' }],
    ['only wrong and unknown-version signatures', { 'webhook-signature': `${WRONG_V1} ${UNKNOWN_V2}` }],
    ['the signature without its v1, prefix', { 'webhook-signature': SPEC.signature.slice(3) }],
    ['no webhook-signature', { 'webhook-signature': undefined }],
    ['no webhook-id', { 'webhook-id': undefined }],
    ['another webhook-id', { 'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJel' }],
    ['no webhook-timestamp', { 'webhook-timestamp': undefined }],
    ['a webhook-timestamp that is not a number ("hello")', { 'webhook-timestamp': 'hello' }],
    ['another webhook-timestamp', { 'webhook-timestamp': String(SPEC.timestamp + 1) }],
  ])('refuses %s', (_, overrides) => {
    expect(() => verify(request(specHeaders(overrides)))).toThrow(SignatureError);
  });

  it('refuses a body changed by one character', () => {
    expect(() => verify(request(specHeaders(), '{"test": 2432232315}'))).toThrow(SignatureError);
  });

  it('refuses a timestamp more than 5 minutes old or ahead at receipt, and takes one at exactly 5 minutes', () => {
    const at = (seconds: number) => request(specHeaders(), SPEC.payload, (SPEC.timestamp + seconds) * 1000);
    expect(() => verify(at(300))).not.toThrow();
    expect(() => verify(at(-300))).not.toThrow();
    expect(() => verify(at(301))).toThrow(/301 s old, over the tolerance of 300 s/);
    expect(() => verify(at(-301))).toThrow(/301 s ahead, over the tolerance of 300 s/);
  });

  it('holds the timestamp to a configured tolerance instead', () => {
    const tenMinutesLater = request(specHeaders(), SPEC.payload, (SPEC.timestamp + 600) * 1000);
    expect(() => verify(tenMinutesLater)).toThrow(SignatureError);
    expect(() => verify(tenMinutesLater, [SPEC.key], 900)).not.toThrow();
    expect(() => verify(tenMinutesLater, [SPEC.key], 60)).toThrow(SignatureError);
  });

  it('refuses everything when no secret is configured', () => {
    expect(() => verify(request(specHeaders()), [])).toThrow(/no signing secret/);
  });
});

describe('the standardwebhooks library as an independent signer and verifier', () => {
  const secretArb = fc
    .uint8Array({ minLength: 24, maxLength: 64 })
    .map((bytes) => `whsec_${Buffer.from(bytes).toString('base64')}`);
  const idArb = fc.stringMatching(/^msg_[A-Za-z0-9]{1,40}$/);
  const payloadArb = fc.json({ maxDepth: 3 });

  it('verifies here what the library signs, for any payload, id and secret, and refuses it changed or under another secret', () => {
    fc.assert(
      fc.property(secretArb, secretArb, idArb, payloadArb, (secret, other, id, payload) => {
        fc.pre(secret !== other);
        const now = Date.now();
        const timestamp = new Date(now);
        const signature = new Webhook(secret).sign(id, timestamp, payload);
        const headers = {
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(now / 1000)),
          'webhook-signature': signature,
        };
        expect(() => verify(request(headers, payload, now), [secret])).not.toThrow();
        expect(() => verify(request(headers, `${payload} `, now), [secret])).toThrow(SignatureError);
        expect(() => verify(request(headers, payload, now), [other])).toThrow(SignatureError);
      }),
      { numRuns: 200 },
    );
  });

  it('signs what the library verifies (its own timestamp check included)', () => {
    fc.assert(
      fc.property(secretArb, idArb, payloadArb, (secret, id, payload) => {
        const seconds = Math.floor(Date.now() / 1000);
        const digest = signContent([`${id}.${seconds}.${payload}`], secret, standardWebhooksScheme());
        const headers = {
          'webhook-id': id,
          'webhook-timestamp': String(seconds),
          'webhook-signature': `v1,${digest.toString('base64')}`,
        };
        expect(() => new Webhook(secret).verify(payload, headers)).not.toThrow();
      }),
      { numRuns: 200 },
    );
  });

  it('verifies a payload of any bytes that are UTF-8 text, as the library signs its string', () => {
    fc.assert(
      fc.property(
        secretArb,
        idArb,
        fc.string({ unit: 'grapheme', maxLength: 200 }),
        (secret, id, payload) => {
          const now = Date.now();
          const signature = new Webhook(secret).sign(id, new Date(now), payload);
          const headers = {
            'webhook-id': id,
            'webhook-timestamp': String(Math.floor(now / 1000)),
            'webhook-signature': signature,
          };
          expect(() => verify(request(headers, payload, now), [secret])).not.toThrow();
        },
      ),
      { numRuns: 100 },
    );
  });
});
