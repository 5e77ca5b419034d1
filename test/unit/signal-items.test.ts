import { describe, expect, it } from 'vitest';
import {
  addBounded,
  burstDevice,
  burstEntry,
  campaignSignalAttributes,
  campaignSignalsOf,
  loginSignalAttributes,
  loginSignalsOf,
  MAX_FLAGS,
  orphanEntry,
  parseOrphan,
} from '../../lib/table/signal-attributes';

describe('signal attributes', () => {
  it('keep at most their bound of entries and say when some were left out', () => {
    const flags = new Set<string>();
    const many = Array.from({ length: MAX_FLAGS + 3 }, (_, i) => `device ${i}`);
    expect(addBounded(flags, many.slice(0, MAX_FLAGS), MAX_FLAGS)).toBe(false);
    expect(addBounded(flags, many.slice(0, MAX_FLAGS), MAX_FLAGS)).toBe(false);
    expect(addBounded(flags, many, MAX_FLAGS)).toBe(true);
    expect(flags.size).toBe(MAX_FLAGS);
  });

  it('read back what they write, with ids holding spaces, and write no empty set', () => {
    const orphan = orphanEntry('2025-10-14T10:00:00.000Z', 'act with spaces');
    expect(parseOrphan(orphan)).toEqual({ at: '2025-10-14T10:00:00.000Z', activity: 'act with spaces' });
    expect(burstDevice(burstEntry('2025-10-14T10:00', 'device with spaces'))).toBe('device with spaces');
    const campaign = {
      orphans: new Set([orphan]),
      orphansOver: 2,
      bursts: new Set([burstEntry('2025-10-14T10:00', 'd')]),
      burstsFull: true,
    };
    expect(campaignSignalsOf(campaignSignalAttributes(campaign))).toEqual(campaign);
    const logins = { accounts: new Set(['a']), countries: new Set(['b', 'c']), full: false };
    expect(loginSignalsOf(loginSignalAttributes(logins))).toEqual(logins);
    expect(campaignSignalAttributes(campaignSignalsOf(undefined))).toEqual({});
    expect(loginSignalAttributes(loginSignalsOf(undefined))).toEqual({});
  });
});
