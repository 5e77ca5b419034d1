import { byImpressions } from '../queries/campaign-stats';
import type { Dashboard, DashboardCampaign } from '../queries/dashboard';

/** What a digest reports: one UTC day of the dashboard's figures, unfiltered. */
export type DigestFigures = Pick<Dashboard, 'day' | 'campaigns' | 'totals' | 'delivery'>;

/** How many campaigns a digest lists, most impressions first. */
export const TOP_CAMPAIGNS = 10;

/** The longest campaign name a digest prints; a sender's name may be any length. */
const NAME_CHARS = 80;

/** SNS refuses a subject over 100 characters, or one with a line break or a non-printable character. */
const SUBJECT_CHARS = 100;

const DAY_MS = 86_400_000;

const count = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const figure = (value: number | null) => (value === null ? 'unknown' : count.format(value));
const percent = (ctr: number | null) => (ctr === null ? 'n/a' : `${(ctr * 100).toFixed(2)}%`);
const plural = (n: number, one: string, many: string) => `${count.format(n)} ${n === 1 ? one : many}`;

/**
 * A sender's text on one line: control characters (line breaks among them) become spaces, runs of spaces one,
 * and it is cut to {@link NAME_CHARS}. Campaign names and ids come from the senders' payloads.
 */
function oneLine(text: string): string {
  const flat = text
    .replace(/[\p{Cc}\u2028\u2029]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return flat.length > NAME_CHARS ? `${flat.slice(0, NAME_CHARS - 1)}…` : flat;
}

/** The campaigns listed: {@link TOP_CAMPAIGNS} with the most impressions (ties in a stable order). */
const topCampaigns = (campaigns: readonly DashboardCampaign[]) =>
  [...campaigns].sort(byImpressions).slice(0, TOP_CAMPAIGNS);

function campaignLine(campaign: DashboardCampaign, rank: number, safe: (text: string) => string): string {
  const id = safe(oneLine(`${campaign.provider}/${campaign.campaign_id}`));
  const name = campaign.campaign_name ? `${safe(oneLine(campaign.campaign_name))} (${id})` : id;
  const devices =
    campaign.unique_devices === null
      ? ''
      : `, ${plural(campaign.unique_devices, 'unique device', 'unique devices')}`;
  return `${String(rank).padStart(2)}. ${name}: ${plural(campaign.impressions, 'impression', 'impressions')}, ${plural(campaign.clicks, 'click', 'clicks')}, CTR ${percent(campaign.ctr)}${devices}`;
}

/** The digest's lines; `safe` makes a sender's text harmless where it is shown (identity for plain text). */
function digestLines(figures: DigestFigures, safe: (text: string) => string): string[] {
  const { totals, delivery } = figures;
  const ctr = totals.impressions > 0 ? totals.clicks / totals.impressions : null;
  const devices =
    totals.unique_devices === null
      ? ''
      : ` · ${plural(totals.unique_devices, 'unique device', 'unique devices')}`;
  const lines = [
    `Campaigns on ${figures.day} (UTC): ${plural(figures.campaigns.length, 'campaign', 'campaigns')} · ${plural(totals.impressions, 'impression', 'impressions')} · ${plural(totals.clicks, 'click', 'clicks')} · CTR ${percent(ctr)}${devices}`,
    '',
  ];
  if (figures.campaigns.length === 0) {
    lines.push('No campaign counted an impression or a click that day.');
  } else {
    lines.push(`Top ${Math.min(TOP_CAMPAIGNS, figures.campaigns.length)} by impressions:`);
    topCampaigns(figures.campaigns).forEach((campaign, i) => {
      lines.push(campaignLine(campaign, i + 1, safe));
    });
    const more = figures.campaigns.length - TOP_CAMPAIGNS;
    if (more > 0) lines.push(`    … and ${plural(more, 'more campaign', 'more campaigns')}.`);
  }
  lines.push(
    '',
    'Delivery health:',
    `Received ${figure(delivery.received)} · stored ${figure(delivery.stored)} · duplicates ${figure(delivery.duplicates)} · quarantined ${figure(delivery.quarantined)} · refused ${figure(delivery.refused)} · dead letters ${figure(delivery.dead_letters)} (now)`,
  );
  for (const row of delivery.by_provider) {
    lines.push(
      `  ${safe(oneLine(row.provider))}: received ${figure(row.received)}, stored ${figure(row.stored)}, duplicates ${figure(row.duplicates)}, quarantined ${figure(row.quarantined)}, refused ${figure(row.refused)}`,
    );
  }
  if ((delivery.dead_letters ?? 0) > 0) {
    lines.push('', 'Dead letters wait in the DLQ: fix the cause, then npm run events -- redrive.');
  }
  return lines;
}

/**
 * The digest as plain text, for e-mail and any subscriber of the topic: yesterday's campaigns (totals, then the
 * {@link TOP_CAMPAIGNS} with the most impressions, each with its clicks, CTR and unique devices) and what the
 * pipeline did with the day's deliveries. A figure no source could give reads "unknown", never 0.
 */
export function digestText(figures: DigestFigures): string {
  return [`campaign-inbox daily digest for ${figures.day} (UTC)`, '', ...digestLines(figures, (t) => t)].join(
    '\n',
  );
}

/** @returns the digest's subject: one line of printable ASCII within SNS's 100 characters. */
export function digestSubject(figures: DigestFigures): string {
  const { impressions, clicks } = figures.totals;
  const subject = `campaign-inbox digest ${figures.day}: ${count.format(impressions)} impressions, ${count.format(clicks)} clicks`;
  return subject.replace(/[^\x20-\x7e]/g, '?').slice(0, SUBJECT_CHARS);
}

/**
 * A sender's text made inert in a chat message: markdown's punctuation escaped, and the characters Slack and
 * Teams read as a link, a mention or a broadcast (`<!channel>`, `@here`) replaced by look-alikes that are not.
 */
function chatSafe(text: string): string {
  return text
    .replace(/[\\`*_~#|[\]()]/g, (c) => `\\${c}`)
    .replace(/</g, '‹')
    .replace(/>/g, '›')
    .replace(/&/g, '＆')
    .replace(/@/g, '＠');
}

/**
 * The digest as a custom notification of AWS's chat integration (Amazon Q Developer in chat applications), which
 * shows in a channel only an AWS service's event or a message in its custom schema (`version` 1.0, `source`
 * `custom`, `content` with a title and a description).
 */
export function digestChatNotification(figures: DigestFigures): string {
  return JSON.stringify({
    version: '1.0',
    source: 'custom',
    content: {
      textType: 'client-markdown',
      title: `campaign-inbox daily digest for ${figures.day} (UTC)`,
      description: digestLines(figures, chatSafe).join('\n'),
    },
  });
}

/** The `Publish` input of a digest, but for the topic. */
export interface DigestMessage {
  Subject: string;
  /** Per protocol: the text for e-mail and by default, the chat notification for HTTPS subscribers. */
  Message: string;
  MessageStructure: 'json';
}

/**
 * The digest as one SNS message with a body per protocol: the chat integration subscribes to a topic over
 * HTTPS and gets {@link digestChatNotification}; e-mail and every other protocol get {@link digestText}.
 */
export function digestMessage(figures: DigestFigures): DigestMessage {
  const text = digestText(figures);
  return {
    Subject: digestSubject(figures),
    Message: JSON.stringify({ default: text, email: text, https: digestChatNotification(figures) }),
    MessageStructure: 'json',
  };
}

/** @returns the UTC day before `now`, `YYYY-MM-DD`: the day a digest sent at `now` covers. */
export function previousUtcDay(now: Date): string {
  const today = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
  return new Date(today - DAY_MS).toISOString().slice(0, 10);
}
