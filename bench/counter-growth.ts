// Counter items at their mid-day size: each campaign-day's item written with a morning's counts in the shape the
// repair's fold writes (lib/table/counter-items.ts), so the writes measured after it pay for an item as large as
// it is at noon, attribute names and count digits alike.
import { type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { EventRecord } from '../lib/events/event-record';
import type { Tally } from '../lib/ingest/campaign-counters';
import { counterItem } from '../lib/table/counter-items';
import { counterAttributesOf, type TableLayout } from '../lib/table/records-table';
import { campaignId, materialId, shares, type Workload } from './workload';

/** The hours a morning covers (UTC): 00 to 11. */
export const MORNING_HOURS = 12;

/**
 * A morning's counts for one campaign: the distinct events the rate (of deliveries, duplicates included) brings
 * by noon, split by type, hour, platform, country and material as the workload splits them (every value present,
 * at least once), and the devices seen.
 */
export function morningTally(
  workload: Workload,
  ratePerSecond: number,
  campaign: number,
  day: string,
): Tally {
  const share = shares(workload);
  const events =
    ratePerSecond * (1 - workload.duplicateShare) * MORNING_HOURS * 3_600 * (share.campaigns[campaign] ?? 0);
  const counts: Record<string, number> = {};
  const add = (attribute: string | undefined, n: number) => {
    if (attribute) counts[attribute] = (counts[attribute] ?? 0) + Math.max(1, Math.round(n));
  };
  for (const [event, typeShare] of share.types) {
    const n = events * typeShare;
    const record = (hour: number, platform: string, country: string, material: number) =>
      ({
        provider: 'sori',
        event,
        created_at: `${day}T${String(hour).padStart(2, '0')}:00:00.000Z`,
        platform,
        geolocation: { viewer_country: country },
        material_id: materialId(campaign, material),
        campaign_id: campaignId(campaign),
      }) as unknown as EventRecord;
    const [first] = share.platforms;
    const [firstCountry] = share.countries;
    const base = counterAttributesOf(record(0, first?.[0] ?? '', firstCountry?.[0] ?? '', 0));
    add(base[0], n);
    for (let hour = 0; hour < MORNING_HOURS; hour++) {
      add(counterAttributesOf(record(hour, '', '', 0))[1], n / MORNING_HOURS);
    }
    // Each attribute is taken from a record with that one breakdown besides its hour and material: the
    // attributes come as [type, hour, <the breakdown>, material].
    for (const [platform, p] of share.platforms)
      add(counterAttributesOf(record(0, platform, '', 0))[2], n * p);
    for (const [country, c] of share.countries) add(counterAttributesOf(record(0, '', country, 0))[2], n * c);
    for (let m = 0; m < workload.materials; m++) {
      add(counterAttributesOf(record(0, '', '', m))[2], n / workload.materials);
    }
  }
  const devices = Math.round(workload.devices * (1 - Math.exp(-events / workload.devices)));
  return { counts, unique_devices: devices };
}

/** Gives every campaign-day of the workload its morning's counts, as the fold writes them. */
export async function growCounters(
  client: DynamoDBClient,
  table: string,
  _layout: TableLayout,
  workload: Workload,
  ratePerSecond: number,
  day: string,
): Promise<void> {
  for (let campaign = 0; campaign < workload.campaigns; campaign++) {
    const key = { provider: 'sori', campaignId: campaignId(campaign), day };
    const tally = morningTally(workload, ratePerSecond, campaign, day);
    const item = counterItem(key, {
      counts: tally.counts,
      devices: tally.unique_devices,
      name: 'Fall Promotion',
      version: 1,
      fold: 'morning',
      legacyClaims: new Map(),
    });
    await client.send(new PutItemCommand({ TableName: table, Item: item }));
  }
}
