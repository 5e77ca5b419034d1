import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { topLevelIntegerLiterals } from '../../lib/providers/exact-integers';

const WANTED = new Set(['mailingId', 'recipientId']);
const read = (text: string) => Object.fromEntries(topLevelIntegerLiterals(text, WANTED));

describe('topLevelIntegerLiterals', () => {
  it('reads integer literals above 2^53 as written', () => {
    expect(read('{"mailingId":9007199254740993,"recipientId":-12345678901234567890}')).toEqual({
      mailingId: '9007199254740993',
      recipientId: '-12345678901234567890',
    });
  });

  it('takes no fraction, exponent, string, literal, object or array for an integer', () => {
    for (const value of ['1.5', '1e300', '10E2', '"9007199254740993"', 'true', 'null', '{}', '[1]'])
      expect(read(`{"mailingId":${value}}`)).toEqual({});
  });

  it('counts a repeated member by its last occurrence, as JSON.parse does', () => {
    expect(read('{"mailingId":1,"mailingId":9007199254740993}')).toEqual({ mailingId: '9007199254740993' });
    expect(read('{"mailingId":9007199254740993,"mailingId":"x"}')).toEqual({});
  });

  it('reads a member whose name is written with escapes under the name it stands for', () => {
    expect(read('{"mailing\\u0049d":9007199254740993}')).toEqual({ mailingId: '9007199254740993' });
  });

  it('never takes a nested member or text inside a string for a top-level member', () => {
    const text = JSON.stringify({
      note: 'a "mailingId":1 \\" "mailingId":2',
      nested: { mailingId: 3, list: [{ mailingId: 4 }, '"mailingId":5', '\\'] },
      'mailingId\\"': 6,
    });
    expect(read(text)).toEqual({});
    expect(read(`${text.slice(0, -1)},"mailingId":7}`)).toEqual({ mailingId: '7' });
  });

  it('reads through whitespace anywhere JSON allows it', () => {
    expect(read(' \n{ "x" : [ 1 , { } ] ,\t"mailingId"\r\n:\n9007199254740993 \n}\n')).toEqual({
      mailingId: '9007199254740993',
    });
  });

  it('reads nothing from text that is not an object', () => {
    for (const text of ['[{"mailingId":1}]', '"mailingId"', '1', 'null', '{}'])
      expect(read(text)).toEqual({});
  });

  it('reads past nesting 100,000 deep without overflowing the stack', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    expect(read(`{"x":${deep},"mailingId":12}`)).toEqual({ mailingId: '12' });
  });

  it('agrees with JSON.parse on any object, and gives back the digits of any integer written in it', () => {
    const name = fc.oneof(fc.constantFrom('mailingId', 'recipientId', 'other'), fc.string());
    const big = fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n });
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            name,
            fc.oneof(
              fc.jsonValue(),
              big.map((n) => ({ big: n })),
            ),
          ),
          { maxLength: 12 },
        ),
        fc.constantFrom(0, 2, '\t'),
        (members, indent) => {
          // Written member by member (repeats kept), with bigints as bare digits JSON.stringify cannot write.
          const written = members.map(([key, value]) => {
            const text =
              typeof value === 'object' && value !== null && 'big' in value && typeof value.big === 'bigint'
                ? String(value.big)
                : JSON.stringify(value, null, indent);
            return [key, text] as const;
          });
          const text = `{${written.map(([key, value]) => `${JSON.stringify(key)}: ${value}`).join(`,${indent ? '\n' : ''}`)}}`;
          const parsed = JSON.parse(text) as Record<string, unknown>;
          const expected = new Map<string, string>();
          for (const [key, value] of written) {
            if (!WANTED.has(key)) continue;
            if (/^-?\d+$/.test(value)) expected.set(key, value);
            else expected.delete(key);
          }
          expect(topLevelIntegerLiterals(text, WANTED)).toEqual(expected);
          for (const [key, digits] of expected) expect(parsed[key]).toBe(Number(digits));
        },
      ),
    );
  });
});
