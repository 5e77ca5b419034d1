/**
 * The signals, in the order they are listed everywhere. A leaf of its own (no import), so that the construct's
 * props can name them without bringing the signals' code into a CDK app's type-check.
 */
export const SIGNAL_NAMES = [
  'clicks_without_impression',
  'click_bursts',
  'high_ctr',
  'shared_devices',
  'country_hops',
] as const;

/** A signal's name, as `events stats --signals`, the dashboard, the metrics and the notices name it. */
export type SignalName = (typeof SIGNAL_NAMES)[number];
