import { describe, expect, it, vi } from 'vitest';
import { SignatureError } from '../../lib/errors';
import { sori } from '../../lib/providers/sori';
import { authenticate } from '../../lib/signature/authenticate';
import { credentialsOf } from '../../lib/signature/signing-secrets';
import { verifySignature } from '../../lib/signature/verify-signature';
import { hexSignature, soriBody } from '../support/deliveries';

// The HMAC check watched, not replaced: each call is counted with the keys it was given, and still computed.
vi.mock('../../lib/signature/verify-signature', async (original) => {
  const actual = await original<typeof import('../../lib/signature/verify-signature')>();
  return { ...actual, verifySignature: vi.fn(actual.verifySignature) };
});

const DOCUMENT = { sori: { current: 'sk_default', apps: { 'agency-a': { current: 'sk_a' } } } };
const body = Buffer.from(soriBody('impression'));
const request = (secret: string) => ({
  raw: body,
  header: (name: string) => (name === 'x-sori-signature' ? hexSignature(body, secret) : undefined),
  token: undefined,
  sourceIp: undefined,
});

describe('an app the secret does not name', () => {
  it('is refused only after an HMAC of the same content with one key, as a known app with a wrong signature is: the work does not tell the two apart', () => {
    const checked = vi.mocked(verifySignature);
    checked.mockClear();
    expect(() =>
      authenticate(sori.auth, request('sk_wrong'), credentialsOf(DOCUMENT, 'sori', 'agency-a')),
    ).toThrow(SignatureError);
    expect(() =>
      authenticate(sori.auth, request('sk_a'), credentialsOf(DOCUMENT, 'sori', 'agency-z')),
    ).toThrow(SignatureError);
    expect(checked).toHaveBeenCalledTimes(2);
    const [known, unknown] = checked.mock.calls;
    expect(unknown?.[0]).toEqual(known?.[0]);
    expect([known?.[2].length, unknown?.[2].length]).toEqual([1, 1]);
    // The key it is checked with is no one's: not the default app's, not another app's.
    expect(unknown?.[2]).not.toContain('sk_default');
    expect(unknown?.[2]).not.toContain('sk_a');
    expect(checked.mock.results.map((result) => result.value)).toEqual([false, false]);
  });
});
