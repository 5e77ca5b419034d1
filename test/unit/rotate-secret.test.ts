import { describe, expect, it } from 'vitest';
import { rotateSecret, rotateUrlToken, setBasicCredentials } from '../../lib/signature/rotate-secret';
import { credentialsOf } from '../../lib/signature/signing-secrets';

describe('rotateSecret', () => {
  it('sets the first secret with no previous one, keeping the generated value', () => {
    expect(rotateSecret({ url_token: 'tok' }, 'sori', 'new')).toEqual({
      url_token: 'tok',
      sori: { current: 'new', previous: null },
    });
  });

  it('moves the current secret to previous', () => {
    const before = { sori: { current: 'old', previous: 'older' } };
    expect(rotateSecret(before, 'sori', 'new')).toEqual({ sori: { current: 'new', previous: 'old' } });
    expect(before.sori.current).toBe('old');
  });

  it("keeps the provider's URL token and Basic credentials, and every other provider's entry", () => {
    const before = {
      url_token: 'generated_value_0123456789',
      sori: {
        current: 'old',
        url_token: 'sori_own_token_0123456789',
        basic: { username: 'u', password: 'p' },
      },
      symphony: { url_token: 'symphony_own_token_0123456' },
    };
    const after = rotateSecret(before, 'sori', 'new');
    expect(after).toEqual({
      ...before,
      sori: { ...before.sori, current: 'new', previous: 'old' },
    });
    expect(credentialsOf(after, 'sori')).toEqual({
      secrets: ['new', 'old'],
      urlToken: 'sori_own_token_0123456789',
      basic: { username: 'u', password: 'p' },
    });
  });

  it('changes nothing when the same secret is set twice, so the previous one is not lost', () => {
    const before = { sori: { current: 'same', previous: 'old' } };
    expect(rotateSecret(before, 'sori', 'same')).toEqual(before);
  });

  it('refuses an empty secret', () => {
    expect(() => rotateSecret({}, 'sori', '')).toThrow('empty');
  });
});

describe('rotateUrlToken', () => {
  it("replaces only that provider's token, keeping its other credentials and the other providers'", () => {
    const before = {
      url_token: 'generated_value_0123456789',
      symphony: { url_token: 'symphony_old_token_012345', basic: { username: 'u', password: 'p' } },
      adreform: { url_token: 'adreform_own_token_012345' },
    };
    const after = rotateUrlToken(before, 'symphony');
    const symphony = credentialsOf(after, 'symphony');
    expect(symphony.urlToken).toMatch(/^[0-9a-f]{40}$/);
    expect(symphony.basic).toEqual({ username: 'u', password: 'p' });
    expect(credentialsOf(after, 'adreform')).toEqual(credentialsOf(before, 'adreform'));
    expect(credentialsOf(after, 'optimizely')).toEqual(credentialsOf(before, 'optimizely'));
    expect(before.symphony.url_token).toBe('symphony_old_token_012345');
  });

  it('refuses a token too short to be a secret', () => {
    expect(() => rotateUrlToken({}, 'symphony', 'short')).toThrow('16 characters');
  });
});

describe('setBasicCredentials', () => {
  it("sets them next to the provider's HMAC keys and token, touching no other provider", () => {
    const before = { sori: { current: 'k', url_token: 'sori_own_token_0123456789' }, symphony: {} };
    const after = setBasicCredentials(before, 'sori', { username: 'user', password: 'pass' });
    expect(after).toEqual({
      sori: {
        current: 'k',
        url_token: 'sori_own_token_0123456789',
        basic: { username: 'user', password: 'pass' },
      },
      symphony: {},
    });
  });
});
