import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/errors';
import { signalMetricsLine } from '../../lib/signals/metrics';
import {
  DEFAULT_SIGNAL_THRESHOLDS,
  readSignalThresholds,
  signalVariables,
} from '../../lib/signals/thresholds';

describe('signal thresholds', () => {
  it('take their defaults when unset, and read environment strings and context numbers alike', () => {
    expect(readSignalThresholds({})).toEqual({
      clicksPerMinute: 10,
      ctr: 0.2,
      ctrMinImpressions: 100,
      accountsPerDevice: 3,
      countryMinutes: 60,
      impressionMinutes: 10,
    });
    expect(readSignalThresholds({ SIGNAL_CTR: '0.35', SIGNAL_ACCOUNTS_PER_DEVICE: 5 })).toMatchObject({
      ctr: 0.35,
      accountsPerDevice: 5,
    });
    expect(readSignalThresholds(signalVariables(DEFAULT_SIGNAL_THRESHOLDS))).toEqual(
      DEFAULT_SIGNAL_THRESHOLDS,
    );
  });

  it('refuse a malformed value with a ConfigError naming every variable and what it must be', () => {
    const read = () => readSignalThresholds({ SIGNAL_CTR: '20', SIGNAL_CLICKS_PER_MINUTE: 'ten' });
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(/SIGNAL_CLICKS_PER_MINUTE="ten": must be a number/);
    expect(read).toThrow(/SIGNAL_CTR="20": must be at most 1/);
  });
});

describe('signal metrics', () => {
  it('name every signal in one embedded-metric line each pass, zeros included', () => {
    const line = JSON.parse(
      signalMetricsLine(
        { clicks_without_impression: 2, click_bursts: 0, high_ctr: 1, shared_devices: 0, country_hops: 0 },
        0,
      ),
    );
    expect(line._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: 'CampaignInbox',
      Dimensions: [['service']],
    });
    expect(line).toMatchObject({
      service: 'repair-counters',
      SignalClicksWithoutImpression: 2,
      SignalClickBursts: 0,
      SignalHighCtr: 1,
      SignalSharedDevices: 0,
      SignalCountryHops: 0,
    });
    expect(JSON.parse(signalMetricsLine(undefined, 0)).SignalHighCtr).toBe(0);
  });
});
