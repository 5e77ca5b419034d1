import type { QueueMessage } from '../events/event-record';
import { findProvider } from '../providers';
import { type CounterKey, counterAttributesOf, counterKeyOf } from '../table/records-table';
import type { CampaignCounters, Tally } from './campaign-counters';
import { newClaimToken } from './campaign-counters';
import type { EventWriter, StoreOutcome } from './event-writer';

/** What storing one message of a batch did, or why it failed (the message is then retried). */
export type BatchOutcome = { ok: true; outcome: StoreOutcome } | { ok: false; error: unknown };

interface Group {
  key: CounterKey;
  token: string;
  members: number[];
  claimed: Promise<Record<string, number>>;
}

const groupId = (key: CounterKey) => JSON.stringify([key.provider, key.campaignId, key.day]);

/**
 * Stores a batch of queue messages: one conditional put per record, a device marker where it can be new, and
 * exact counters per campaign and day (events per type, unique devices), moved only by first inserts and
 * aggregated to one increment per campaign-day per batch (see {@link CampaignCounters} for why they stay exact
 * under crashes and retries).
 *
 * A message fails (and is retried by SQS) when its record or its device marker could not be written, when its
 * campaign-day could not be claimed, or when its counter increment could not be applied. A retried message
 * writes its marker again, so a marker is never missing for a message that succeeded.
 * @returns one outcome per message, in order; never throws.
 */
export async function storeBatch(
  writer: EventWriter,
  counters: CampaignCounters,
  messages: readonly QueueMessage[],
): Promise<BatchOutcome[]> {
  const groups = new Map<string, Group>();
  const groupOf = new Map<number, Group>();
  messages.forEach((message, i) => {
    if (message.kind !== 'event') return;
    const key = counterKeyOf(message.record);
    if (!key) return;
    const id = groupId(key);
    let group = groups.get(id);
    if (!group) {
      group = { key, token: newClaimToken(), members: [], claimed: Promise.resolve({}) };
      group.claimed = counters.claim(key, group.token, Date.now(), message.record.campaign_name);
      group.claimed.catch(() => {});
      groups.set(id, group);
    }
    group.members.push(i);
    groupOf.set(i, group);
  });

  // A campaign event is written only once its campaign-day is claimed, so no first insert escapes a recount.
  // Its marker follows the record: a batch killed in between leaves a claim, and the recount writes the marker.
  const markers: Array<'new' | 'old' | undefined> = [];
  const outcomes: BatchOutcome[] = await Promise.all(
    messages.map(async (message, i): Promise<BatchOutcome> => {
      try {
        await groupOf.get(i)?.claimed;
        const outcome = await writer.store(message);
        if (message.kind === 'event') {
          const counted = Boolean(findProvider(message.record.provider)?.counted?.[message.record.event]);
          markers[i] = (await writer.markDevice(message.record, counted)) === 'first' ? 'new' : 'old';
        }
        return { ok: true, outcome };
      } catch (error) {
        return { ok: false, error };
      }
    }),
  );

  await Promise.all(
    [...groups.values()].map(async (group) => {
      const claims = await group.claimed.catch(() => undefined);
      if (claims === undefined) return;
      const tally: Tally = { counts: {}, unique_devices: 0 };
      let settled = true;
      for (const i of group.members) {
        const result = outcomes[i];
        const message = messages[i];
        if (!result?.ok || message?.kind !== 'event') {
          settled = false;
          continue;
        }
        if (result.outcome === 'stored') {
          for (const attribute of counterAttributesOf(message.record)) {
            tally.counts[attribute] = (tally.counts[attribute] ?? 0) + 1;
          }
        }
        if (markers[i] === 'new') tally.unique_devices++;
      }
      try {
        await counters.apply(group.key, group.token, tally, settled);
      } catch (error) {
        // The claim stays: a recount will count what was stored. The messages are retried meanwhile.
        for (const i of group.members) if (outcomes[i]?.ok) outcomes[i] = { ok: false, error };
        settled = false;
      }
      const stale = Object.keys(claims).some((token) => token !== group.token && counters.isStale(token));
      if (!settled || stale) {
        await counters.recountIfStale(group.key, group.token).catch(() => false);
      }
    }),
  );
  // Current-state items (e.g. a Symphony campaign's status), moved by every stored or duplicate event: an
  // update is conditional on its rank, so applying one again, or late, never moves a state back.
  await Promise.all(
    messages.map(async (message, i) => {
      if (message.kind !== 'event' || !outcomes[i]?.ok) return;
      const update = findProvider(message.record.provider)?.stateOf?.(message.record);
      if (!update) return;
      try {
        await writer.applyState(message.record.provider, update);
      } catch (error) {
        outcomes[i] = { ok: false, error };
      }
    }),
  );
  return outcomes;
}
