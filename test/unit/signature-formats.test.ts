import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseSignedContent } from '../../lib/signature/signed-content';
import {
  claimedDigests,
  MAX_SIGNATURES_PER_HEADER,
  type SignatureFormat,
  signContent,
  verifySignature,
} from '../../lib/signature/verify-signature';

// The one HMAC check, in the formats a configured provider may choose: a required prefix, one encoding, several
// signatures in a header, a composed string.
const SECRET = 'format-secret';
const body = Buffer.from('{"id":"evt_1"}');
const hmac = (content: string | Buffer, algorithm = 'sha256') =>
  createHmac(algorithm, SECRET).update(content).digest();

describe('signature formats', () => {
  it('requires a configured prefix exactly, where the default takes an optional <algorithm>= in any case', () => {
    const hex = hmac(body).toString('hex');
    const prefixed: SignatureFormat = { algorithm: 'sha256', prefix: 'sha256=' };
    expect(verifySignature(body, `sha256=${hex}`, [SECRET], prefixed)).toBe(true);
    expect(verifySignature(body, hex, [SECRET], prefixed)).toBe(false);
    expect(verifySignature(body, `SHA256=${hex}`, [SECRET], prefixed)).toBe(false);
    expect(verifySignature(body, hex, [SECRET])).toBe(true);
    expect(verifySignature(body, `SHA256=${hex}`, [SECRET])).toBe(true);
  });

  it('takes only the configured encoding', () => {
    const digest = hmac(body, 'sha512');
    const hexOnly: SignatureFormat = { algorithm: 'sha512', encoding: 'hex' };
    const base64Only: SignatureFormat = { algorithm: 'sha512', encoding: 'base64' };
    expect(verifySignature(body, digest.toString('hex'), [SECRET], hexOnly)).toBe(true);
    expect(verifySignature(body, digest.toString('base64'), [SECRET], hexOnly)).toBe(false);
    expect(verifySignature(body, digest.toString('base64'), [SECRET], base64Only)).toBe(true);
    expect(verifySignature(body, digest.toString('hex'), [SECRET], base64Only)).toBe(false);
  });

  it(`reads at most ${MAX_SIGNATURES_PER_HEADER} signatures of a header, so a long list costs no more`, () => {
    const format: SignatureFormat = {
      algorithm: 'sha256',
      prefix: 'v1,',
      separator: ' ',
      encoding: 'base64',
    };
    const valid = `v1,${hmac(body).toString('base64')}`;
    const wrong = `v1,${hmac('other').toString('base64')}`;
    const within = [...Array(MAX_SIGNATURES_PER_HEADER - 1).fill(wrong), valid].join(' ');
    const beyond = [...Array(MAX_SIGNATURES_PER_HEADER).fill(wrong), valid].join(' ');
    expect(verifySignature(body, within, [SECRET], format)).toBe(true);
    expect(verifySignature(body, beyond, [SECRET], format)).toBe(false);
    expect(claimedDigests(Array(10_000).fill(wrong).join(' '), format)).toHaveLength(
      MAX_SIGNATURES_PER_HEADER,
    );
  });

  it('verifies a composed string as the same string signed whole, the body fed as its bytes', () => {
    const format: SignatureFormat = { algorithm: 'sha256', prefix: 'v0=', encoding: 'hex' };
    const header = `v0=${hmac(`v0:1700000000:${body.toString()}`).toString('hex')}`;
    expect(verifySignature(['v0:', '1700000000', ':', body], header, [SECRET], format)).toBe(true);
    expect(verifySignature(['v0:', '1700000001', ':', body], header, [SECRET], format)).toBe(false);
    expect(signContent(['v0:', '1700000000', ':', body], SECRET, format).toString('hex')).toBe(
      header.slice(3),
    );
  });

  it('reads signed-content templates, refusing what is not one', () => {
    expect(parseSignedContent('v0:{timestamp}:{body}')).toEqual([
      { text: 'v0:' },
      { value: 'timestamp' },
      { text: ':' },
      { value: 'body' },
    ]);
    expect(parseSignedContent('{id}.{timestamp}.{body}')).toHaveLength(5);
    expect(parseSignedContent('{body}{body}')).toEqual({ error: '{body} appears more than once' });
    expect(parseSignedContent('{timestamp}.')).toEqual({ error: 'expected {body} in it' });
    expect(parseSignedContent('{nonce}.{body}')).toEqual({
      error: 'unknown placeholder {nonce}: expected {body}, {timestamp} or {id}',
    });
    expect(parseSignedContent('{body}}')).toEqual({ error: 'a brace outside a placeholder' });
  });
});
