import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Compares a secret someone sent (a URL token, Basic credentials) with the expected one in constant time. Both
 * are hashed first so that neither the comparison's duration nor an early length check tells how much of it
 * was right.
 * @returns `false` when nothing is expected.
 */
export function secretMatches(given: string, expected: string | undefined): boolean {
  if (!expected) return false;
  return timingSafeEqual(digest(given), digest(expected));
}
