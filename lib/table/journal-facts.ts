/**
 * A campaign event's signal fact: `['c', group, event, activity_id, device_id, created_at]`, `group` being
 * the index of its campaign-day in the batch's journal entry.
 */
export type CampaignFact = [
  kind: 'c',
  group: number,
  event: string,
  activity: string | null,
  device: string | null,
  at: string,
];
/** A login's signal fact: `['l', provider, device_id, account_id, country, created_at]`. */
export type LoginFact = [
  kind: 'l',
  provider: string,
  device: string | null,
  account: string | null,
  country: string | null,
  at: string,
];
/**
 * What the fraud and quality signals read of one first insert, journaled by its batch beside what the
 * counters read (the fold sees each first insert once, so the signals move once per stored event, never per
 * delivery).
 */
export type SignalFact = CampaignFact | LoginFact;
