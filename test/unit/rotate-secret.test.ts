import { describe, expect, it } from 'vitest';
import { rotateSecret } from '../../lib/signature/rotate-secret';

describe('rotateSecret', () => {
  it('sets the first secret with no previous one, keeping the URL token', () => {
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

  it('changes nothing when the same secret is set twice, so the previous one is not lost', () => {
    const before = { sori: { current: 'same', previous: 'old' } };
    expect(rotateSecret(before, 'sori', 'same')).toEqual(before);
  });

  it('refuses an empty secret', () => {
    expect(() => rotateSecret({}, 'sori', '')).toThrow('empty');
  });
});
