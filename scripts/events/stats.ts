// `events stats`: exact counters, one row per provider, campaign and day (or summed over the days).
import { providerNames } from '../../lib/providers';
import { type CampaignDayStats, CampaignStats } from '../../lib/queries/campaign-stats';
import { type DayRangePlan, planDayRange } from '../../lib/queries/event-plan';
import { type SignalReport, signalReport } from '../../lib/signals/report';
import { readSignalThresholds } from '../../lib/signals/thresholds';
import { readProviderDays } from '../../lib/table/provider-days';
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
    --signals          the fraud and quality signals of the range instead, one row per thing that raised one
                       (thresholds from SIGNAL_* variables, the repair's defaults otherwise)
    --json             one JSON object per line`,
  flags: ['campaign', 'provider', 'since', 'until', 'json', 'signals', ...WHERE],
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

/** The days asked for, as the query planner plans a reading of counters. */
function dayRange(values: Values): DayRangePlan {
  // `--until` is checked first, as it always was: with both wrong, the message names it.
  const until = parseDay('--until', values.until);
  const plan = planDayRange({ campaign: values.campaign, since: parseDay('--since', values.since), until });
  if ('problem' in plan) throw new UsageError(plan.problem);
  return plan;
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

async function printStats(counters: CampaignStats, values: Values, range: DayRangePlan, io: EventsIo) {
  const providers = values.provider ? [values.provider] : providerNames();
  if (values.campaign) {
    const rows = await oneCampaign(counters, providers, values.campaign, range);
    print(io, rows.map(formatCtr), values.json, DAY_COLUMNS);
    return;
  }
  // Every campaign over the range, per provider: daily counters summed; unique_devices is the sum of each
  // day's uniques.
  const rows = await counters.rangeStats(providers, range.days ?? []);
  print(io, rows.map(formatCtr), values.json, RANGE_COLUMNS);
}

const SIGNAL_COLUMNS = ['signal', 'provider', 'campaign_id', 'day', 'device_id', 'count', 'detail'];

/** A signal report as rows: one per campaign-day or device that raised a signal. */
export function signalRows(report: SignalReport): Record<string, unknown>[] {
  return [
    ...report.clicks_without_impression.map((row) => ({
      signal: 'clicks_without_impression',
      ...row,
      device_id: null,
      count: row.clicks,
      detail: row.activities.join(' '),
    })),
    ...report.click_bursts.map((row) => ({
      signal: 'click_bursts',
      ...row,
      count: row.minutes.length,
      detail: row.minutes.map((minute) => minute.slice(11)).join(' '),
    })),
    ...report.high_ctr.map((row) => ({
      signal: 'high_ctr',
      ...row,
      device_id: null,
      count: row.clicks,
      detail: `${row.clicks}/${row.impressions}`,
    })),
    ...report.shared_devices.map((row) => ({
      signal: 'shared_devices',
      campaign_id: null,
      ...row,
      count: 1,
    })),
    ...report.country_hops.map((row) => ({ signal: 'country_hops', campaign_id: null, ...row, count: 1 })),
  ];
}

/** The range's signals, from the counter items and provider-day items (no read of the events). */
async function printSignals(
  target: { client: CampaignStatsClient; tableName: string },
  values: Values,
  range: DayRangePlan,
  io: EventsIo,
) {
  const counters = new CampaignStats(target.client, target.tableName);
  const providers = values.provider ? [values.provider] : providerNames();
  const items = values.campaign
    ? (
        await Promise.all(
          providers.map((p) => counters.counterItems(p, values.campaign as string, range.since, range.until)),
        )
      ).flat()
    : await counters.daysCounterItems(providers, range.days ?? []);
  const days = (
    await Promise.all(
      providers.map((p) => readProviderDays(target.client, target.tableName, p, range.since, range.until)),
    )
  ).flat();
  const report = signalReport(items, days, readSignalThresholds());
  print(io, signalRows(report), values.json, SIGNAL_COLUMNS);
}

type CampaignStatsClient = ConstructorParameters<typeof CampaignStats>[0];

export const run = command(spec, async (values, _words, io) => {
  const range = dayRange(values);
  return withTable(where(values), async (target) => {
    // `--signals` is a flag of this command only (see `spec.flags`).
    if ((values as Values & { signals?: boolean }).signals) await printSignals(target, values, range, io);
    else await printStats(new CampaignStats(target.client, target.tableName), values, range, io);
    return 0;
  });
});
