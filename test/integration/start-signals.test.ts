/** `npm start` reads the signals' thresholds (`SIGNAL_*`) as the deployed functions do, and refuses a bad one. */
import { describe, expect, it } from 'vitest';
import { refusedStart } from '../support/stack-process';

describe('npm start with SIGNAL_* thresholds', () => {
  it('refuses to start with a malformed threshold, in one line naming it', async () => {
    const result = await refusedStart({ SIGNAL_CTR: 'lots' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^campaign-inbox could not start: invalid signal thresholds: SIGNAL_CTR="lots"/,
    );
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
