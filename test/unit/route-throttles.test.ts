import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../local/api-gateway-server';
import { readLocalThrottles } from '../../local/local-stack';

describe("the local API Gateway's token bucket (one per route, as API Gateway's route settings)", () => {
  it('starts full at the burst, refuses the request past it, and gains the rate per second, never above the burst', () => {
    const bucket = new TokenBucket({ rateLimit: 2, burstLimit: 3 }, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    // Half a second at 2 a second: one token.
    expect(bucket.take(500)).toBe(true);
    expect(bucket.take(500)).toBe(false);
    // A long quiet: back to the burst, no more.
    expect([1, 2, 3, 4].map(() => bucket.take(60_000))).toEqual([true, true, true, false]);
  });

  it('does not gain tokens from a clock that goes backwards', () => {
    const bucket = new TokenBucket({ rateLimit: 1, burstLimit: 1 }, 10_000);
    expect(bucket.take(10_000)).toBe(true);
    expect(bucket.take(5_000)).toBe(false);
    expect(bucket.take(10_500)).toBe(false);
    expect(bucket.take(11_000)).toBe(true);
  });
});

describe('readLocalThrottles (the deployed settings, from the environment of npm start)', () => {
  it('throttles nothing when none of the variables is set', () => {
    expect(readLocalThrottles({})).toBeUndefined();
  });

  it("reads the stage's default and each provider's throttle as the deployed settings name them", () => {
    expect(
      readLocalThrottles({
        THROTTLE_RATE_LIMIT: '10',
        PROVIDER_THROTTLES: '{"sori":{"rateLimit":200},"symphony":{"rateLimit":5,"burstLimit":7}}',
      }),
    ).toEqual({
      stage: { rateLimit: 10, burstLimit: 200 },
      providers: { sori: { rateLimit: 200, burstLimit: 400 }, symphony: { rateLimit: 5, burstLimit: 7 } },
    });
  });

  it('refuses a value that is not a positive integer, or a provider this build does not serve, naming it', () => {
    expect(() => readLocalThrottles({ THROTTLE_BURST_LIMIT: 'lots' })).toThrow('THROTTLE_BURST_LIMIT');
    expect(() => readLocalThrottles({ THROTTLE_RATE_LIMIT: '0' })).toThrow('THROTTLE_RATE_LIMIT');
    expect(() => readLocalThrottles({ PROVIDER_THROTTLES: '{"acme":{"rateLimit":5}}' })).toThrow('acme');
  });
});
