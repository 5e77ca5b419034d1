import { describe, expect, it } from 'vitest';
import { secretMatches } from '../../lib/signature/secret-matches';
import { decodeSignature, signBody, verifySignature } from '../../lib/signature/verify-signature';
import { soriBody } from '../support/deliveries';

// Seed README: "HMAC-SHA256 of the raw body keyed with secret_key, hex or base64, with or without a sha256=
// prefix". Seed 001: "verify the X-SORI-Signature header against your copy of the payload".
const SECRET = 'sk_live_current';
const PREVIOUS = 'sk_live_previous';
const body = Buffer.from(soriBody('impression'));
const digest = signBody(body, SECRET);

describe('verifySignature', () => {
  it.each([
    ['hex', digest.toString('hex')],
    ['upper-case hex', digest.toString('hex').toUpperCase()],
    ['base64', digest.toString('base64')],
    ['base64url', digest.toString('base64url')],
    ['sha256= prefixed hex', `sha256=${digest.toString('hex')}`],
    ['sha256= prefixed base64', `sha256=${digest.toString('base64')}`],
    ['surrounded by whitespace', `  ${digest.toString('hex')}\t`],
  ])('accepts a valid signature in %s', (_, header) => {
    expect(verifySignature(body, header, [SECRET])).toBe(true);
  });

  it('accepts a signature made with the previous secret during a rotation', () => {
    const header = signBody(body, PREVIOUS).toString('hex');
    expect(verifySignature(body, header, [SECRET, PREVIOUS])).toBe(true);
    expect(verifySignature(body, header, [SECRET])).toBe(false);
  });

  it('rejects a tampered body', () => {
    const tampered = Buffer.from(body.toString().replace('cmp_1234', 'cmp_9999'));
    expect(verifySignature(tampered, digest.toString('hex'), [SECRET])).toBe(false);
  });

  it('rejects a body changed by one bit', () => {
    const flipped = Buffer.from(body);
    flipped[10] = (flipped[10] ?? 0) ^ 1;
    expect(verifySignature(flipped, digest.toString('hex'), [SECRET])).toBe(false);
  });

  it('rejects a signature made with another secret', () => {
    expect(verifySignature(body, signBody(body, 'someone-else').toString('hex'), [SECRET, PREVIOUS])).toBe(
      false,
    );
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['garbage', 'not-a-signature'],
    ['prefix only', 'sha256='],
    ['truncated hex', digest.toString('hex').slice(0, 63)],
    ['too long hex', `${digest.toString('hex')}00`],
    ['base64 of 31 bytes', digest.subarray(0, 31).toString('base64')],
    ['another algorithm prefix', `sha1=${digest.toString('hex')}`],
    ['two signatures joined by a comma', `${digest.toString('hex')},${digest.toString('hex')}`],
  ])('rejects a %s header', (_, header) => {
    expect(verifySignature(body, header, [SECRET])).toBe(false);
  });

  it('rejects everything when no secret is configured', () => {
    expect(verifySignature(body, digest.toString('hex'), [])).toBe(false);
    expect(verifySignature(body, signBody(body, '').toString('hex'), [''])).toBe(false);
  });
});

describe('decodeSignature', () => {
  it('decodes hex and base64 to the same 32 bytes', () => {
    expect(decodeSignature(digest.toString('hex'))).toEqual(digest);
    expect(decodeSignature(digest.toString('base64'))).toEqual(digest);
  });
});

describe('secretMatches', () => {
  it('accepts only the exact token, and nothing when none is set', () => {
    expect(secretMatches('tok_abc', 'tok_abc')).toBe(true);
    expect(secretMatches('tok_abd', 'tok_abc')).toBe(false);
    expect(secretMatches('tok_ab', 'tok_abc')).toBe(false);
    expect(secretMatches('', '')).toBe(false);
    expect(secretMatches('anything', undefined)).toBe(false);
  });
});
