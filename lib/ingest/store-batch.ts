import type { QueueMessage } from '../events/event-record';
import { findProvider } from '../providers';
import { wasAnswered, withDeadline } from '../table/deadline';
import { type CounterKey, counterAttributesOf, counterKeyOf } from '../table/records-table';
import type { CampaignCounters, Claimed, Tally } from './campaign-counters';
import { newClaimToken } from './campaign-counters';
import type { EventWriter, StoreOutcome } from './event-writer';

/** What storing one message of a batch did, or why it failed (the message is then retried). */
export type BatchOutcome = { ok: true; outcome: StoreOutcome } | { ok: false; error: unknown };

/** How a batch is stored. */
export interface StoreOptions {
  /**
   * When the batch's table calls must be over (epoch ms): none starts after it, a running one is aborted. It
   * must come before the batch's claims turn stale; the default is half the staleness from now.
   */
  deadline?: number;
}

interface Group {
  key: CounterKey;
  members: number[];
  claimed: Promise<Claimed>;
}

const groupId = (key: CounterKey) => JSON.stringify([key.provider, key.campaignId, key.day]);

/**
 * Stores a batch of queue messages: one conditional put per record, a device marker where it can be new, and
 * exact counters per campaign and day (events per type and breakdown, unique devices), moved only by first
 * inserts and aggregated to one increment per campaign-day per batch (see {@link CampaignCounters} for why
 * they stay exact under crashes, retries and lost answers).
 *
 * Every write of the batch names the batch and the message (its claim token and index), so a write applied
 * whose answer was lost is known for the message's own when the SDK's retry finds it. Counts are added only when every write of a
 * campaign-day is known; otherwise its claim stays and a recount counts from the records: at once when every
 * failed call was answered (nothing of the batch can land later), else by the repair once the claim is stale.
 *
 * A message fails (and is retried by SQS) when its record or its device marker could not be written, when its
 * campaign-day could not be claimed, or when its counts could not be applied. A retried message writes its
 * marker again, so a marker is never missing for a message that succeeded.
 * @returns one outcome per message, in order; never throws.
 */
export function storeBatch(
  writer: EventWriter,
  counters: CampaignCounters,
  messages: readonly QueueMessage[],
  options: StoreOptions = {},
): Promise<BatchOutcome[]> {
  const deadline = options.deadline ?? Date.now() + counters.staleAfterMs / 2;
  return withDeadline(deadline, () => store(writer, counters, messages));
}

async function store(
  writer: EventWriter,
  counters: CampaignCounters,
  messages: readonly QueueMessage[],
): Promise<BatchOutcome[]> {
  const token = newClaimToken();
  const groups = new Map<string, Group>();
  const groupOf = new Map<number, Group>();
  messages.forEach((message, i) => {
    if (message.kind !== 'event') return;
    const key = counterKeyOf(message.record);
    if (!key) return;
    const id = groupId(key);
    let group = groups.get(id);
    if (!group) {
      const claimed = counters.claim(key, token, message.record.campaign_name);
      claimed.catch(() => {});
      group = { key, members: [], claimed };
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
        // Per message: two deliveries of one event in one batch must not take each other's write for their own.
        const nonce = `${token}.${i}`;
        const outcome = await writer.store(message, nonce);
        if (message.kind === 'event') {
          const counted = Boolean(findProvider(message.record.provider)?.counted?.[message.record.event]);
          markers[i] = (await writer.markDevice(message.record, counted, nonce)) === 'first' ? 'new' : 'old';
        }
        return { ok: true, outcome };
      } catch (error) {
        return { ok: false, error };
      }
    }),
  );

  await Promise.all(
    [...groups.values()].map(async (group) => {
      const claimed = await group.claimed.catch(() => undefined);
      if (claimed === undefined) return;
      const tally: Tally = { counts: {}, unique_devices: 0 };
      const failures: unknown[] = [];
      for (const i of group.members) {
        const result = outcomes[i];
        const message = messages[i];
        if (!result?.ok || message?.kind !== 'event') {
          failures.push(result?.ok === false ? result.error : undefined);
          continue;
        }
        if (result.outcome === 'stored') {
          for (const attribute of counterAttributesOf(message.record)) {
            const placed = claimed.budget.place(attribute);
            tally.counts[placed] = (tally.counts[placed] ?? 0) + 1;
          }
        }
        if (markers[i] === 'new') tally.unique_devices++;
      }
      if (failures.length === 0) {
        try {
          // A claim taken over by a recount before all was applied: a new claim has the repair count again, in
          // case a write of this batch landed after the recount read the records.
          if (!(await counters.apply(group.key, token, tally)))
            await counters.claim(group.key, newClaimToken());
        } catch (error) {
          // The claim stays: a recount will count what was stored. The messages are retried meanwhile.
          for (const i of group.members) if (outcomes[i]?.ok) outcomes[i] = { ok: false, error };
          failures.push(error);
        }
      }
      const settledNow = failures.length > 0 && failures.every(wasAnswered);
      const stale = claimed.claims.some((other) => other !== token && counters.isStale(other));
      if (settledNow || stale) {
        await counters.recountIfStale(group.key, settledNow ? token : undefined).catch(() => false);
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
