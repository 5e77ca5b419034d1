import { createHmac } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { SignatureError } from '../../lib/errors';
import { sori } from '../../lib/providers/sori';
import { authenticate, type Credentials } from '../../lib/receive/authenticate';
import { credentialsOf, type SigningSecretDocument } from '../../lib/signature/signing-secrets';
import { type SignatureFormat, verifySignature } from '../../lib/signature/verify-signature';
import { hexSignature, soriBody } from '../support/deliveries';

// The HMAC check watched, not replaced: each call is counted with the keys it was given, and still computed.
vi.mock('../../lib/signature/verify-signature', async (original) => {
  const actual = await original<typeof import('../../lib/signature/verify-signature')>();
  return { ...actual, verifySignature: vi.fn(actual.verifySignature) };
});

// Every HMAC computed, counted: the real `createHmac`, watched; the work a check does is the HMACs it computes
// (the comparisons after them are constant-time).
vi.mock('node:crypto', async (original) => {
  const actual = await original<typeof import('node:crypto')>();
  return { ...actual, createHmac: vi.fn(actual.createHmac) };
});

const DOCUMENT: SigningSecretDocument = {
  sori: {
    current: 'sk_default',
    apps: {
      'agency-a': { current: 'sk_a' },
      'agency-b': { current: 'sk_b', previous: 'sk_b_old' },
    },
  },
};
const body = Buffer.from(soriBody('impression'));
/** The request, its signature computed now: what the sender's HMAC costs is not the receiver's work. */
const request = (secret: string) => {
  const signature = hexSignature(body, secret);
  return {
    raw: body,
    header: (name: string) => (name === 'x-sori-signature' ? signature : undefined),
    token: undefined,
    sourceIp: undefined,
  };
};

/** How many HMACs `check` computed. */
function hmacsOf(check: () => unknown): number {
  const hmac = vi.mocked(createHmac);
  hmac.mockClear();
  check();
  return hmac.mock.calls.length;
}

/** Whether `authenticate` let the request through, and how many HMACs it computed to decide. */
function authenticated(credentials: Credentials, secret: string): { accepted: boolean; hmacs: number } {
  const signed = request(secret);
  let accepted = true;
  const hmacs = hmacsOf(() => {
    try {
      authenticate(sori.auth, signed, credentials);
    } catch (error) {
      if (!(error instanceof SignatureError)) throw error;
      accepted = false;
    }
  });
  return { accepted, hmacs };
}

describe('an app the secret does not name', () => {
  it('is refused only after an HMAC check of the same content with a key no one has, as a known app with a wrong signature is: the work does not tell the two apart', () => {
    const checked = vi.mocked(verifySignature);
    checked.mockClear();
    const known = credentialsOf(DOCUMENT, 'sori', 'agency-a');
    const unknown = credentialsOf(DOCUMENT, 'sori', 'agency-z');
    const wrong = request('sk_wrong');
    const other = request('sk_a');
    const hmacs = [
      hmacsOf(() => expect(() => authenticate(sori.auth, wrong, known)).toThrow(SignatureError)),
      hmacsOf(() => expect(() => authenticate(sori.auth, other, unknown)).toThrow(SignatureError)),
    ];
    expect(checked).toHaveBeenCalledTimes(2);
    const [knownCall, unknownCall] = checked.mock.calls;
    expect(unknownCall?.[0]).toEqual(knownCall?.[0]);
    expect(hmacs[1]).toBe(hmacs[0]);
    // The keys it is checked with are no one's: not the default app's, not another app's.
    expect(unknownCall?.[2]).not.toContain('sk_default');
    expect(unknownCall?.[2]).not.toContain('sk_a');
    expect(checked.mock.results.map((result) => result.value)).toEqual([false, false]);
  });

  it('costs the same number of HMACs as an app with one key or two, with a wrong signature or a right one by either key, and as a provider with no keys at all', () => {
    const app = (name: string) => credentialsOf(DOCUMENT, 'sori', name);
    const cases = {
      'unknown app': authenticated(app('agency-z'), 'sk_a'),
      'no keys for the provider': authenticated(credentialsOf({}, 'sori', 'agency-a'), 'sk_a'),
      'one key, wrong signature': authenticated(app('agency-a'), 'sk_wrong'),
      'one key, right signature': authenticated(app('agency-a'), 'sk_a'),
      'two keys, wrong signature': authenticated(app('agency-b'), 'sk_wrong'),
      'two keys, current key': authenticated(app('agency-b'), 'sk_b'),
      'two keys, previous key': authenticated(app('agency-b'), 'sk_b_old'),
      'default app, right signature': authenticated(credentialsOf(DOCUMENT, 'sori'), 'sk_default'),
    };
    expect(Object.fromEntries(Object.entries(cases).map(([name, { accepted }]) => [name, accepted]))).toEqual(
      {
        'unknown app': false,
        'no keys for the provider': false,
        'one key, wrong signature': false,
        'one key, right signature': true,
        'two keys, wrong signature': false,
        'two keys, current key': true,
        'two keys, previous key': true,
        'default app, right signature': true,
      },
    );
    // Two: the current key and the previous one, a key no one has standing in for one that is missing.
    expect(Object.fromEntries(Object.entries(cases).map(([name, { hmacs }]) => [name, hmacs]))).toEqual(
      Object.fromEntries(Object.keys(cases).map((name) => [name, 2])),
    );
  });
});

describe('verifySignature', () => {
  const content = Buffer.from('{"event":"impression"}');
  const signed = (secret: string) => createHmac('sha256', secret).update(content).digest('hex');
  const WHSEC: SignatureFormat = { algorithm: 'sha256', encoding: 'base64', secretFormat: 'whsec' };

  it('computes two HMACs whatever keys it is given (none, one, two, an empty one) and whichever of them matches, or none, or no signature at all', () => {
    const byA = signed('key-a');
    const byB = signed('key-b');
    const byC = signed('key-c');
    const checks: [string, () => boolean, boolean][] = [
      ['no keys', () => verifySignature(content, byA, []), false],
      ['one key, wrong', () => verifySignature(content, byB, ['key-a']), false],
      ['one key, right', () => verifySignature(content, byA, ['key-a']), true],
      ['an empty key', () => verifySignature(content, byA, ['']), false],
      ['a key and an empty one', () => verifySignature(content, byA, ['key-a', '']), true],
      ['two keys, the first matches', () => verifySignature(content, byA, ['key-a', 'key-b']), true],
      ['two keys, the second matches', () => verifySignature(content, byB, ['key-a', 'key-b']), true],
      ['two keys, neither matches', () => verifySignature(content, byC, ['key-a', 'key-b']), false],
      ['no signature header', () => verifySignature(content, undefined, ['key-a']), false],
      ['a header that is no signature', () => verifySignature(content, 'not-a-digest', ['key-a']), false],
      ['a whsec_ key of no bytes', () => verifySignature(content, byA, ['whsec_'], WHSEC), false],
    ];
    const results = checks.map(([name, check]) => {
      let verified: boolean | undefined;
      const hmacs = hmacsOf(() => {
        verified = check();
      });
      return [name, { verified, hmacs }] as const;
    });
    expect(Object.fromEntries(results)).toEqual(
      Object.fromEntries(checks.map(([name, , verified]) => [name, { verified, hmacs: 2 }])),
    );
  });
});
