import { createHash } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { NOTICE_ATTRIBUTES, type NoticeDocument, putNoticeItem } from '../table/notice-items';
import type { CounterKey } from '../table/records-table';
import {
  burstDevice,
  type CampaignSignals,
  type LoginSignals,
  parseOrphan,
} from '../table/signal-attributes';
import type { SignalCounts } from './signal-counts';
import { isHighCtr } from './signal-counts';
import type { SignalName } from './signal-names';
import { SIGNAL_VARIABLES, type SignalThresholds } from './thresholds';

export { SIGNAL_NAMES, type SignalName } from './signal-names';

/** The counts' names are the signals' names, no more and no fewer. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const countsNameSignals: Same<SignalName, keyof SignalCounts> = true;
void countsNameSignals;

/**
 * `raised` when the fold flagged the signal; `cleared` when it took a flag back, which only a click without an
 * impression can be (its impression stored later, within the window).
 */
export type NoticeState = 'raised' | 'cleared';

/** The `detail-type` of a notice on a bus (its `source` is that of every event, `campaign-inbox`). */
export const NOTICE_DETAIL_TYPE = 'campaign-inbox signal';

/**
 * What every destination receives for one signal raised (the bus event's `detail`, the queue message's body,
 * the HTTP request's body): a contract, whose fields are only ever added. Every field is a string and always
 * there, empty when it does not apply to the signal (a deployed pipe's template can neither leave a field out
 * nor write `null`, and a local destination sends the same document). A notice is published at least once:
 * deduplicate on `notice_id`, the same on every delivery of one notice, and on every notice of one signal.
 */
export interface SignalNotice extends NoticeDocument {
  /** `sig_<32 hex>`, a hash of what the signal is (day, signal, state, provider, campaign, subject). */
  notice_id: string;
  /** Always `signal` (a record's document says `insert` or `replay`). */
  origin: 'signal';
  signal: SignalName;
  state: NoticeState;
  provider: string;
  /** The UTC day of the campaign-day or provider-day the signal is on. */
  day: string;
  /** The campaign; empty for a provider-day's signal (shared devices, country hops). */
  campaign_id: string;
  /**
   * What is flagged, as the counter or provider-day item keeps it: `<created_at> <activity_id>` for a click
   * without an impression, `<minute> <device_id>` for a burst, the device for shared devices and country hops,
   * empty for a high CTR.
   */
  subject: string;
  /** The device flagged (bursts, shared devices, country hops). */
  device_id: string;
  /** The activity of the click without an impression. */
  activity_id: string;
  /** The click's `created_at` (click without an impression), or the minute of a burst (`YYYY-MM-DDTHH:MM`). */
  at: string;
  /** The campaign-day's impressions and clicks when its CTR crossed the threshold (high CTR), as decimals. */
  impressions: string;
  clicks: string;
  /** The threshold the signal was raised under: its variable's name and its value then, as a decimal. */
  threshold_name: string;
  threshold: string;
  /** When the fold wrote the notice (ISO 8601): the bus event's `time`. */
  raised_at: string;
}

/** The fields of a notice, in the order the published document lists them. */
export const NOTICE_FIELDS = NOTICE_ATTRIBUTES;

/**
 * A notice's id, from what the signal is and nothing of when it was raised: the fold that raises it again (taken
 * over after a crash, or a later fold meeting the same flag) names the same notice.
 */
export function noticeId(
  parts: Pick<SignalNotice, 'day' | 'signal' | 'state' | 'provider' | 'campaign_id' | 'subject'>,
): string {
  const what = JSON.stringify([
    parts.day,
    parts.signal,
    parts.state,
    parts.provider,
    parts.campaign_id,
    parts.subject,
  ]);
  // 128 bits: a sender's values are up to 1 KB each, over DynamoDB's 1 KB sort key, so the key holds a hash.
  return `sig_${createHash('sha256').update(what).digest('hex').slice(0, 32)}`;
}

type Draft = Omit<SignalNotice, 'notice_id' | 'origin' | 'raised_at'>;

const BLANK = {
  campaign_id: '',
  subject: '',
  device_id: '',
  activity_id: '',
  at: '',
  impressions: '',
  clicks: '',
} as const;

function complete(draft: Draft, raisedAt: string): SignalNotice {
  return { notice_id: noticeId(draft), origin: 'signal', ...draft, raised_at: raisedAt };
}

const added = (before: ReadonlySet<string>, after: ReadonlySet<string>) =>
  [...after].filter((entry) => !before.has(entry)).sort();

/** A campaign-day's signals before and after a fold's write, and its impressions and clicks then. */
export interface CampaignSignalsChange {
  key: CounterKey;
  before: CampaignSignals;
  after: CampaignSignals;
  figuresBefore: { impressions: number; clicks: number };
  figuresAfter: { impressions: number; clicks: number };
}

/**
 * The notices a campaign-day's write raises: each click without an impression it adds (`raised`) and each it
 * takes off (`cleared`, its impression stored later), each device-minute burst it adds, and its CTR crossing
 * the threshold. Flags past the item's bounds (`orphansOver`, a full burst list) have no entry, so no notice.
 * Pure: what is raised depends on the item's signals only, never on when.
 */
export function campaignNotices(
  change: CampaignSignalsChange,
  thresholds: SignalThresholds,
  now = Date.now(),
): SignalNotice[] {
  const raisedAt = new Date(now).toISOString();
  const { provider, campaignId, day } = change.key;
  const base = { ...BLANK, provider, day, campaign_id: campaignId };
  const orphan = (state: NoticeState) => (entry: string) => {
    const { at, activity } = parseOrphan(entry);
    return complete(
      {
        ...base,
        signal: 'clicks_without_impression',
        state,
        subject: entry,
        activity_id: activity,
        at,
        threshold_name: SIGNAL_VARIABLES.impressionMinutes,
        threshold: String(thresholds.impressionMinutes),
      },
      raisedAt,
    );
  };
  const notices = [
    ...added(change.before.orphans, change.after.orphans).map(orphan('raised')),
    ...added(change.after.orphans, change.before.orphans).map(orphan('cleared')),
    ...added(change.before.bursts, change.after.bursts).map((entry) =>
      complete(
        {
          ...base,
          signal: 'click_bursts',
          state: 'raised',
          subject: entry,
          device_id: burstDevice(entry),
          at: entry.slice(0, entry.indexOf(' ')),
          threshold_name: SIGNAL_VARIABLES.clicksPerMinute,
          threshold: String(thresholds.clicksPerMinute),
        },
        raisedAt,
      ),
    ),
  ];
  if (!isHighCtr(change.figuresBefore, thresholds) && isHighCtr(change.figuresAfter, thresholds)) {
    notices.push(
      complete(
        {
          ...base,
          signal: 'high_ctr',
          state: 'raised',
          impressions: String(change.figuresAfter.impressions),
          clicks: String(change.figuresAfter.clicks),
          threshold_name: SIGNAL_VARIABLES.ctr,
          threshold: String(thresholds.ctr),
        },
        raisedAt,
      ),
    );
  }
  return notices;
}

/** A provider-day's login signals before and after a fold's write. */
export interface LoginSignalsChange {
  provider: string;
  day: string;
  before: LoginSignals;
  after: LoginSignals;
}

/** The notices a provider-day's write raises: each device it newly flags as shared, or as hopping countries. */
export function loginNotices(
  change: LoginSignalsChange,
  thresholds: SignalThresholds,
  now = Date.now(),
): SignalNotice[] {
  const raisedAt = new Date(now).toISOString();
  const base = { ...BLANK, provider: change.provider, day: change.day, state: 'raised' as const };
  return [
    ...added(change.before.accounts, change.after.accounts).map((device) =>
      complete(
        {
          ...base,
          signal: 'shared_devices',
          subject: device,
          device_id: device,
          threshold_name: SIGNAL_VARIABLES.accountsPerDevice,
          threshold: String(thresholds.accountsPerDevice),
        },
        raisedAt,
      ),
    ),
    ...added(change.before.countries, change.after.countries).map((device) =>
      complete(
        {
          ...base,
          signal: 'country_hops',
          subject: device,
          device_id: device,
          threshold_name: SIGNAL_VARIABLES.countryMinutes,
          threshold: String(thresholds.countryMinutes),
        },
        raisedAt,
      ),
    ),
  ];
}

/** Notices put at once: a campaign-day raising hundreds of orphan clicks is put a few at a time. */
const PUT_CONCURRENCY = 8;

/**
 * Writes each notice once (see `putNoticeItem`), before the fold writes the item that records its signals: a
 * fold killed between the two and taken over computes the same notices from the same item and finds them
 * there, so none is written twice; a fold whose item write then fails is taken over the same way.
 * @returns how many of them this call wrote (the others were there already).
 * @throws the SDK's error: the fold must not write its item then (its next pass puts the notices again).
 */
export async function putNotices(
  client: DynamoDBClient,
  tableName: string,
  notices: readonly SignalNotice[],
): Promise<number> {
  let next = 0;
  let written = 0;
  const worker = async () => {
    while (next < notices.length) {
      const notice = notices[next++] as SignalNotice;
      if (await putNoticeItem(client, tableName, notice)) written++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(PUT_CONCURRENCY, notices.length) }, worker));
  return written;
}

/** Which notices a destination is for: `true` every signal, a list only those signals. */
export type NoticeFilter = boolean | readonly SignalName[];

/** Whether a destination with `signals` set to `filter`, and for `providers` (all when empty), takes `notice`. */
export function takesNotice(
  filter: NoticeFilter | undefined,
  providers: readonly string[] | undefined,
  notice: Pick<SignalNotice, 'signal' | 'provider'>,
): boolean {
  if (!filter) return false;
  if (filter !== true && filter.length > 0 && !filter.includes(notice.signal)) return false;
  return !providers?.length || providers.includes(notice.provider);
}
