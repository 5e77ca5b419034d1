import * as v from 'valibot';
import { ConfigError } from '../errors';

/**
 * The environment variables (and CDK context keys, the same names) that set the fraud and quality signals'
 * thresholds. Each is optional: an absent one takes its default.
 */
export const SIGNAL_VARIABLES = {
  clicksPerMinute: 'SIGNAL_CLICKS_PER_MINUTE',
  ctr: 'SIGNAL_CTR',
  ctrMinImpressions: 'SIGNAL_CTR_MIN_IMPRESSIONS',
  accountsPerDevice: 'SIGNAL_ACCOUNTS_PER_DEVICE',
  countryMinutes: 'SIGNAL_COUNTRY_MINUTES',
  impressionMinutes: 'SIGNAL_IMPRESSION_MINUTES',
} as const;

const count = (min: number, max: number) =>
  v.pipe(
    v.union([v.number(), v.pipe(v.string(), v.trim(), v.nonEmpty(), v.transform(Number))]),
    v.number('must be a number'),
    v.integer('must be a whole number'),
    v.minValue(min, `must be at least ${min}`),
    v.maxValue(max, `must be at most ${max}`),
  );
const ratio = v.pipe(
  v.union([v.number(), v.pipe(v.string(), v.trim(), v.nonEmpty(), v.transform(Number))]),
  v.number('must be a number'),
  v.gtValue(0, 'must be above 0'),
  v.maxValue(1, 'must be at most 1 (a share of impressions, not a percentage)'),
);

/**
 * The thresholds, as numbers or as the strings an environment holds. Defaults:
 * - more than 10 clicks by one device in one minute of one campaign: a person taps a campaign a few times at
 *   most, and a click sends the device to the campaign's action URL, so ten round trips in a minute is a script;
 * - a campaign-day's CTR above 0.2 (20 %) once it has 100 impressions: display campaigns run well under 5 %, so a
 *   fifth of impressions clicked is a human campaign's ceiling several times over, and below 100 impressions a
 *   handful of clicks would raise it by chance;
 * - a device in more than 3 accounts: a shared family tablet signs in to two or three, a farm device to dozens;
 * - logins from two countries within 60 minutes: no flight takes a person across a border that fast, and the
 *   country is a GeoIP guess, so a shorter window would still catch a VPN that hops between exits;
 * - a click matched to an impression of its activity created within 10 minutes either side: a campaign is
 *   clicked while it is displayed, and the fold reads that window of the campaign's events to find it.
 */
export const SignalThresholdsSchema = v.object({
  [SIGNAL_VARIABLES.clicksPerMinute]: v.optional(count(1, 10_000), 10),
  [SIGNAL_VARIABLES.ctr]: v.optional(ratio, 0.2),
  [SIGNAL_VARIABLES.ctrMinImpressions]: v.optional(count(1, 1_000_000_000), 100),
  [SIGNAL_VARIABLES.accountsPerDevice]: v.optional(count(1, 1_000), 3),
  [SIGNAL_VARIABLES.countryMinutes]: v.optional(count(1, 1_440), 60),
  [SIGNAL_VARIABLES.impressionMinutes]: v.optional(count(1, 720), 10),
});

/** The signals' thresholds. */
export interface SignalThresholds {
  /** A device with more clicks than this in one minute of one campaign is flagged. */
  clicksPerMinute: number;
  /** A campaign-day whose clicks per impression exceed this is flagged... */
  ctr: number;
  /** ...once it has at least this many impressions. */
  ctrMinImpressions: number;
  /** A device signed in to more accounts than this is flagged. */
  accountsPerDevice: number;
  /** Logins of one device from two countries within this many minutes flag it. */
  countryMinutes: number;
  /** A click's impression is looked for this many minutes either side of it. */
  impressionMinutes: number;
}

/** The thresholds when nothing is set. */
export const DEFAULT_SIGNAL_THRESHOLDS: SignalThresholds = readSignalThresholds({});

/**
 * Reads the signals' thresholds from an environment or a CDK context (the same names, see
 * {@link SIGNAL_VARIABLES}); unset ones take their defaults.
 * @throws {ConfigError} naming every malformed value and what it must be.
 */
export function readSignalThresholds(
  source: Readonly<Record<string, unknown>> = process.env,
): SignalThresholds {
  const picked: Record<string, unknown> = {};
  for (const name of Object.values(SIGNAL_VARIABLES)) {
    if (source[name] !== undefined && source[name] !== '') picked[name] = source[name];
  }
  const parsed = v.safeParse(SignalThresholdsSchema, picked);
  if (!parsed.success) {
    const problems = parsed.issues.map((issue) => {
      const name = issue.path?.map((p) => String(p.key)).join('.') ?? '?';
      return `${name}=${JSON.stringify(picked[name])}: ${issue.message}`;
    });
    throw new ConfigError(`invalid signal thresholds: ${problems.join('; ')}`);
  }
  const out = parsed.output;
  return {
    clicksPerMinute: out[SIGNAL_VARIABLES.clicksPerMinute],
    ctr: out[SIGNAL_VARIABLES.ctr],
    ctrMinImpressions: out[SIGNAL_VARIABLES.ctrMinImpressions],
    accountsPerDevice: out[SIGNAL_VARIABLES.accountsPerDevice],
    countryMinutes: out[SIGNAL_VARIABLES.countryMinutes],
    impressionMinutes: out[SIGNAL_VARIABLES.impressionMinutes],
  };
}

/** The thresholds' environment variables, each optional (unset: its default). */
export type SignalVariables = Partial<
  Record<(typeof SIGNAL_VARIABLES)[keyof typeof SIGNAL_VARIABLES], string>
>;

/** The thresholds as environment variables (what a stack passes to the repair function and the dashboard). */
export function signalVariables(thresholds: SignalThresholds): SignalVariables {
  return Object.fromEntries(
    (Object.entries(SIGNAL_VARIABLES) as [keyof SignalThresholds, string][]).map(([key, name]) => [
      name,
      String(thresholds[key]),
    ]),
  );
}
