import type { QueueMessage } from '../../lib/events/event-record';
import type { CampaignCounters } from '../../lib/ingest/campaign-counters';
import type { EventWriter } from '../../lib/ingest/event-writer';
import { storeBatch } from '../../lib/ingest/store-batch';
import { sori } from '../../lib/providers/sori';
import { symphony } from '../../lib/providers/symphony';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { soriPayload } from './deliveries';

/** The day a replay test replays, and its bounds as `--since`/`--until` take them. */
export const REPLAY_DAY = '2026-03-01';
export const DAY_START = `${REPLAY_DAY}T00:00:00.000Z`;
export const DAY_END = `${REPLAY_DAY}T23:59:59.999Z`;

const at = (ms: number) => new Date(ms).toISOString();
const dayMs = Date.parse(DAY_START);

/** One SORI body: a campaign event (impression or click) of `campaign`, or an authentication (no campaign). */
function soriMessage(key: string, createdAt: string, campaign: string | null, click = false): QueueMessage {
  const base = campaign
    ? {
        ...soriPayload(click ? 'click' : 'impression'),
        campaign: { ...(soriPayload('impression').campaign as object), id: campaign },
      }
    : soriPayload('authentication');
  const body = { ...base, activity_id: `act_${key}`, device_id: `device_${key}`, created_at: createdAt };
  if (!campaign) Object.assign(body, { metadata: { session: key } });
  return buildQueueMessage(sori, Buffer.from(JSON.stringify(body)), createdAt);
}

/** A Symphony event: keyed by its id alone, its `created_at` the time it was received. */
function symphonyMessage(key: string, receivedAt: string): QueueMessage {
  const body = { event: 'campaign.created', provider: 'facebook', type: 'boost', id: `cmp_sym_${key}` };
  return buildQueueMessage(symphony, Buffer.from(JSON.stringify({ ...body, reason: key })), receivedAt);
}

/**
 * Stores, through the consumer's own path, a day of events of every placement a replay must find (two SORI
 * campaigns' impressions and clicks, authentications of no campaign, Symphony events keyed by id), at the day's
 * very first and last milliseconds too, and events just outside it on both sides.
 * @returns the ids of the stored events inside the day and outside it.
 */
export async function storeReplayDay(
  writer: EventWriter,
  counters: CampaignCounters,
  sizes: { campaignA?: number; campaignB?: number; authentications?: number; symphony?: number } = {},
): Promise<{ inside: Set<string>; outside: Set<string> }> {
  const inside: QueueMessage[] = [];
  const outside: QueueMessage[] = [];
  const spread = (i: number, n: number) => at(dayMs + Math.floor((i * 86_399_999) / Math.max(1, n - 1)));
  const a = sizes.campaignA ?? 150;
  const b = sizes.campaignB ?? 60;
  const auth = sizes.authentications ?? 40;
  const sym = sizes.symphony ?? 3;
  for (let i = 0; i < a; i++) inside.push(soriMessage(`a${i}`, spread(i, a), 'cmp_a', i % 3 === 0));
  for (let i = 0; i < b; i++) inside.push(soriMessage(`b${i}`, spread(i, b), 'cmp_b', i % 2 === 0));
  for (let i = 0; i < auth; i++) inside.push(soriMessage(`u${i}`, spread(i, auth), null));
  for (let i = 0; i < sym; i++) inside.push(symphonyMessage(`in${i}`, at(dayMs + 3_600_000 * (i + 1))));
  // One millisecond outside the day, on each side, in every kind of partition; and a day away.
  for (const [key, time] of [
    ['before', at(dayMs - 1)],
    ['after', at(dayMs + 86_400_000)],
    ['earlier', at(dayMs - 86_400_000 + 5)],
    ['later', at(dayMs + 2 * 86_400_000 - 5)],
  ] as const) {
    outside.push(soriMessage(`a_${key}`, time, 'cmp_a'));
    outside.push(soriMessage(`b_${key}`, time, 'cmp_b', true));
    outside.push(soriMessage(`u_${key}`, time, null));
    outside.push(symphonyMessage(key, time));
  }
  const all = [...inside, ...outside];
  for (let i = 0; i < all.length; i += 25) {
    const outcomes = await storeBatch(writer, counters, all.slice(i, i + 25));
    if (outcomes.some((outcome) => !outcome.ok || outcome.outcome !== 'stored'))
      throw new Error(`not every event was stored: ${JSON.stringify(outcomes)}`);
  }
  return {
    inside: new Set(inside.map((message) => message.record.id)),
    outside: new Set(outside.map((message) => message.record.id)),
  };
}
