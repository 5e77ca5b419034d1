// The traffic the bench feeds the consumer: SORI campaign impressions and clicks as SORI sends them (the
// documented event with its campaign, material, platform and geolocation), generated from a seed so every run
// sends the same deliveries.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CONFIG } from '../infra/config';
import type { QueueMessage } from '../lib/events/event-record';
import { sori } from '../lib/providers/sori';
import { buildQueueMessage } from '../lib/receive/build-queue-message';
import type { TableLayout } from '../lib/table/records-table';

const FIXTURE = JSON.parse(
  readFileSync(join(import.meta.dirname, '../examples/payloads/sori/impression.json'), 'utf8'),
) as Record<string, unknown>;

/** Who sends what: the shape of a user's traffic. */
export interface Workload {
  name: string;
  campaigns: number;
  devices: number;
  /** Viewer countries, most frequent first. */
  countries: number;
  /** Materials per campaign. */
  materials: number;
  /** Platforms and their shares. */
  platforms: ReadonlyArray<readonly [string, number]>;
  /** Clicks among campaign events (SORI sends about one click for three impressions). */
  clickShare: number;
  /** Share of deliveries that are a second delivery of an event already sent. */
  duplicateShare: number;
  /**
   * How campaigns share the traffic: `uniform`, or `zipf` (the k-th most popular campaign gets 1/k of the first's
   * share, as a few campaigns run large and the rest small).
   */
  campaignSpread: 'uniform' | 'zipf';
  /** Measure with counter items at their mid-day size (see counter-growth.ts), or as the hour leaves them. */
  midDayCounters: boolean;
}

/** Traffic as the README promises figures for: a mid-sized SORI account over a whole day. */
export const REALISTIC: Workload = {
  name: 'realistic: 20 campaigns, 10,000 devices, 15 countries, 3 materials, 30 % duplicates',
  campaigns: 20,
  devices: 10_000,
  countries: 15,
  materials: 3,
  platforms: [
    ['Android', 0.55],
    ['iOS', 0.4],
    ['Web', 0.05],
  ],
  clickShare: 0.25,
  duplicateShare: 0.3,
  campaignSpread: 'zipf',
  midDayCounters: true,
};

/** The bench's earlier workload, kept as a second row: 3 campaigns, 50 devices, one hour, one of each field. */
export const SMALL: Workload = {
  name: 'small: 3 campaigns, 50 devices, 1 country, 1 material, one hour',
  campaigns: 3,
  devices: 50,
  countries: 1,
  materials: 1,
  platforms: [['Android', 1]],
  clickShare: 0.25,
  duplicateShare: 0,
  campaignSpread: 'uniform',
  midDayCounters: false,
};

/** The table layout the stack deploys by default (shards, record retention), as the process function reads it. */
export const DEPLOYED_LAYOUT: TableLayout = {
  shards: DEFAULT_CONFIG.shards,
  retentionDays: DEFAULT_CONFIG.recordRetentionDays === 0 ? null : DEFAULT_CONFIG.recordRetentionDays,
};

const COUNTRIES = [
  'United States',
  'Germany',
  'United Kingdom',
  'France',
  'Japan',
  'Brazil',
  'Canada',
  'India',
  'Spain',
  'Italy',
  'Mexico',
  'Australia',
  'Netherlands',
  'South Korea',
  'Poland',
  'Sweden',
  'Norway',
  'Argentina',
  'Turkey',
  'Indonesia',
];

/** A small seeded generator (mulberry32): the same seed gives the same traffic on every machine. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The k-th campaign's id, and its m-th material's. */
export const campaignId = (k: number) => `cmp_${String(k).padStart(4, '0')}`;
export const materialId = (k: number, m: number) => `mat_${String(k).padStart(4, '0')}_${m}`;

/** What share of the workload's campaign events each value of each field takes. */
export function shares(workload: Workload) {
  const normalize = (weights: number[]) => {
    const total = weights.reduce((sum, w) => sum + w, 0);
    return weights.map((w) => w / total);
  };
  return {
    campaigns: normalize(
      Array.from({ length: workload.campaigns }, (_, k) =>
        workload.campaignSpread === 'zipf' ? 1 / (k + 1) : 1,
      ),
    ),
    countries: normalize(Array.from({ length: workload.countries }, (_, k) => 1 / (k + 1))).map(
      (share, k) => [COUNTRIES[k] as string, share] as const,
    ),
    platforms: normalize(workload.platforms.map(([, share]) => share)).map(
      (share, k) => [workload.platforms[k]?.[0] as string, share] as const,
    ),
    types: [
      ['campaign.impression', 1 - workload.clickShare],
      ['campaign.click', workload.clickShare],
    ] as const,
  };
}

/** Picks an index by weight. */
function picker(weights: readonly number[]): (u: number) => number {
  const total = weights.reduce((sum, w) => sum + w, 0);
  const bounds: number[] = [];
  let sum = 0;
  for (const w of weights) {
    sum += w / total;
    bounds.push(sum);
  }
  return (u) => {
    const i = bounds.findIndex((bound) => u < bound);
    return i === -1 ? bounds.length - 1 : i;
  };
}

/** One campaign event as the workload draws it, before it is a delivery. */
export interface Draw {
  campaign: number;
  device: number;
  click: boolean;
}

/** Draws campaign events: which campaign, which device, impression or click. */
export function drawer(workload: Workload, seed: number): () => Draw {
  const next = random(seed);
  const campaign = picker(shares(workload).campaigns);
  return () => ({
    campaign: campaign(next()),
    device: Math.floor(next() * workload.devices),
    click: next() < workload.clickShare,
  });
}

/** An impression a later click may answer. */
interface Shown {
  campaign: number;
  device: number;
  activity: string;
}

/** Impressions a click is drawn from: the most recent ones, within the signals' impression window at the rates benched. */
const RECENT_IMPRESSIONS = 50;

export interface DeliveryOptions {
  /** Distinct events. */
  events: number;
  /** Tells this stream's events from another's (activity ids, campaign ids stay the workload's). */
  seed: number;
  /** The UTC day and the hours (from, to, exclusive) `created_at` spreads over, in order. */
  day?: string;
  fromHour?: number;
  toHour?: number;
  /** A second delivery comes after at most this many more distinct events (a sender's retry, a redelivery). */
  duplicateWithin?: number;
}

/**
 * Deliveries in arrival order: `events` distinct campaign events spread evenly over the hours given, each
 * drawn from the workload, and the workload's share of second deliveries, each placed a random distance (up to
 * `duplicateWithin` distinct events) after its first.
 */
export function deliveries(workload: Workload, options: DeliveryOptions): QueueMessage[] {
  const { events, seed, day = '2025-10-14', fromHour = 0, toHour = 24, duplicateWithin = 1000 } = options;
  const draw = drawer(workload, seed);
  const next = random(seed ^ 0x9e3779b9);
  const { platforms, countries } = shares(workload);
  const platform = picker(platforms.map(([, share]) => share));
  const country = picker(countries.map(([, share]) => share));
  const start = Date.parse(`${day}T${String(fromHour).padStart(2, '0')}:00:00.000Z`);
  const span = (toHour - fromHour) * 3_600_000;
  const template = FIXTURE as { campaign: Record<string, unknown>; material: Record<string, unknown> };
  const distinct: QueueMessage[] = [];
  const shown: Shown[] = [];
  for (let i = 0; i < events; i++) {
    const drawn = draw();
    // A click answers a display of its campaign on its device: it takes the activity of an impression shown
    // shortly before (as SORI's click follows the impression it is on), so clean traffic raises no signal.
    const answered = drawn.click && shown.length > 0 ? shown[Math.floor(next() * shown.length)] : undefined;
    const { campaign, device } = answered ?? drawn;
    const activity = answered?.activity ?? `act_${seed}_${i}`;
    if (!drawn.click) {
      shown.push({ campaign, device, activity });
      if (shown.length > RECENT_IMPRESSIONS) shown.shift();
    }
    const click = drawn.click;
    const createdAt = new Date(start + Math.floor((i * span) / events)).toISOString();
    const material = Math.floor(next() * workload.materials);
    const payload = {
      ...FIXTURE,
      event: click ? 'campaign.click' : 'campaign.impression',
      created_at: createdAt,
      timestamp: createdAt,
      activity_id: activity,
      device_id: `device_${String(device).padStart(7, '0')}`,
      platform: platforms[platform(next())]?.[0],
      geolocation: {
        viewer_country: countries[country(next())]?.[0],
        viewer_region: 'Michigan',
        viewer_city: 'Ann Arbor',
      },
      campaign: { ...template.campaign, id: campaignId(campaign) },
      material: { ...template.material, id: materialId(campaign, material) },
    };
    distinct.push(buildQueueMessage(sori, Buffer.from(JSON.stringify(payload)), createdAt));
  }
  const duplicates = Math.round((events * workload.duplicateShare) / (1 - workload.duplicateShare));
  // Each slot carries its position: a duplicate goes after its first delivery, by a random distance.
  const slots = distinct.map((message, i) => ({ message, at: i }));
  for (let d = 0; d < duplicates; d++) {
    const of = Math.floor(next() * events);
    slots.push({ message: distinct[of] as QueueMessage, at: of + 0.5 + next() * duplicateWithin });
  }
  return slots.sort((a, b) => a.at - b.at).map((slot) => slot.message);
}
