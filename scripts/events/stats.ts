// `events stats`: exact counters, one row per provider, campaign and day (or summed over the days).
import { providerNames } from '../../lib/providers';
import { type CampaignDayStats, CampaignStats } from '../../lib/queries/campaign-stats';
import { daysNewestFirst, TYPE_QUERY_MAX_DAYS } from '../../lib/queries/records-repository';
import { UsageError } from '../entry';
import { withTable } from '../local-target';
import { parseDay } from './arguments';
import { type CommandSpec, command, type Values } from './command';
import type { EventsIo } from './io';
import { print } from './output';
import { WHERE, where } from './where';

export const spec: CommandSpec = {
  name: 'stats',
  usage: `stats        exact counters, one row per provider, campaign and day
    --campaign <id>    one campaign, day by day (without it: every campaign of every provider, summed over the
                       days, most impressions first)
    --provider <name>  one provider (default: all)
    --since <day>      first UTC day (default: 6 days before --until)
    --until <day>      last UTC day (default: today)
    --json             one JSON object per line`,
  flags: ['campaign', 'provider', 'since', 'until', 'json', ...WHERE],
};

const DAY_COLUMNS = ['provider', 'campaign_id', 'day', 'impressions', 'clicks', 'unique_devices', 'ctr'];
const RANGE_COLUMNS = [
  'provider',
  'campaign_id',
  'since',
  'until',
  'impressions',
  'clicks',
  'unique_devices',
  'ctr',
];
const formatCtr = (row: { ctr: number | null }) => ({
  ...row,
  ctr: row.ctr === null ? null : Number(row.ctr.toFixed(4)),
});

/** The days asked for: one campaign's whole life by default, else the last 7 days, at most 366. */
function dayRange(values: Values): { since: string; until: string } {
  const until = parseDay('--until', values.until) ?? new Date().toISOString().slice(0, 10);
  const since =
    parseDay('--since', values.since) ??
    (values.campaign
      ? '0000-00-00'
      : new Date(Date.parse(until) - 6 * 86_400_000).toISOString().slice(0, 10));
  if (since > until) throw new UsageError('--since is after --until');
  if (!values.campaign && Date.parse(until) - Date.parse(since) >= TYPE_QUERY_MAX_DAYS * 86_400_000) {
    throw new UsageError(`stats across campaigns covers at most ${TYPE_QUERY_MAX_DAYS} days`);
  }
  return { since, until };
}

/** One campaign, a row per provider and day. */
async function oneCampaign(
  counters: CampaignStats,
  providers: string[],
  campaign: string,
  range: { since: string; until: string },
): Promise<CampaignDayStats[]> {
  const rows: CampaignDayStats[] = [];
  for (const provider of providers)
    rows.push(...(await counters.campaignStats(provider, campaign, range.since, range.until)));
  return rows.sort((a, b) => a.day.localeCompare(b.day) || a.provider.localeCompare(b.provider));
}

async function printStats(
  counters: CampaignStats,
  values: Values,
  range: { since: string; until: string },
  io: EventsIo,
) {
  const providers = values.provider ? [values.provider] : providerNames();
  if (values.campaign) {
    const rows = await oneCampaign(counters, providers, values.campaign, range);
    print(io, rows.map(formatCtr), values.json, DAY_COLUMNS);
    return;
  }
  // Every campaign over the range, per provider: daily counters summed; unique_devices is the sum of each
  // day's uniques.
  const rows = await counters.rangeStats(providers, daysNewestFirst(range.since, range.until));
  print(io, rows.map(formatCtr), values.json, RANGE_COLUMNS);
}

export const run = command(spec, async (values, _words, io) => {
  const range = dayRange(values);
  return withTable(where(values), async (target) => {
    await printStats(new CampaignStats(target.client, target.tableName), values, range, io);
    return 0;
  });
});
