import type { QueueMessage } from '../events/event-record';
import { findProvider } from '../providers';
import type { RecordsRepository, StoreOutcome } from '../queries/records-repository';
import { counterOf, dayOf, deviceMarkerItem, isCountedEvent } from '../table/records-table';
import type { CampaignCounters, CounterKey, Tally } from './campaign-counters';
import { newClaimToken } from './campaign-counters';

/** What storing one message of a batch did, or why it failed (the message is then retried). */
export type BatchOutcome = { ok: true; outcome: StoreOutcome } | { ok: false; error: unknown };

/** Counts of the writes a batch spent, by kind (for benchmarks and logs). */
export interface WriteCounts {
  records: number;
  markers: number;
  counters: number;
  /** Current-state items (Symphony). */
  states: number;
}

interface Group {
  key: CounterKey;
  token: string;
  members: number[];
  claimed: Promise<Record<string, number>>;
}

const groupId = (key: CounterKey) => JSON.stringify([key.provider, key.campaignId, key.day]);

/**
 * Stores a batch of queue messages: one conditional put per record, and for campaign impressions and clicks
 * exact counters per campaign and day, moved only by first inserts and aggregated to one increment per
 * campaign-day per batch (see {@link CampaignCounters} for why they stay exact under crashes and retries).
 *
 * A message fails (and is retried by SQS) when its record could not be written, when its campaign-day could
 * not be claimed, or when its counter increment could not be applied.
 * @returns one outcome per message, in order; never throws.
 */
export async function storeBatch(
  records: RecordsRepository,
  counters: CampaignCounters,
  messages: readonly QueueMessage[],
  writes: WriteCounts = { records: 0, markers: 0, counters: 0, states: 0 },
): Promise<BatchOutcome[]> {
  const groups = new Map<string, Group>();
  messages.forEach((message, i) => {
    if (message.kind !== 'event' || !isCountedEvent(message.record)) return;
    const record = message.record;
    const key = {
      provider: record.provider,
      campaignId: record.campaign_id ?? '',
      day: dayOf(record.created_at),
    };
    const id = groupId(key);
    const group: Group = groups.get(id) ?? {
      key,
      token: newClaimToken(),
      members: [],
      claimed: Promise.resolve({}),
    };
    group.members.push(i);
    groups.set(id, group);
  });
  for (const group of groups.values()) {
    writes.counters++;
    group.claimed = counters.claim(group.key, group.token);
    group.claimed.catch(() => {});
  }

  const groupOf = new Map<number, Group>();
  for (const group of groups.values()) for (const i of group.members) groupOf.set(i, group);

  // A counted record is written only once its campaign-day is claimed, so no first insert escapes a recount.
  const outcomes: BatchOutcome[] = await Promise.all(
    messages.map(async (message, i): Promise<BatchOutcome> => {
      try {
        await groupOf.get(i)?.claimed;
        writes.records++;
        return { ok: true, outcome: await records.store(message) };
      } catch (error) {
        return { ok: false, error };
      }
    }),
  );

  await Promise.all(
    [...groups.values()].map(async (group) => {
      const claims = await group.claimed.catch(() => undefined);
      if (claims === undefined) return;
      const tally: Tally = { impressions: 0, clicks: 0, unique_devices: 0 };
      let settled = true;
      const devices = new Map<string, number[]>();
      for (const i of group.members) {
        const result = outcomes[i];
        const message = messages[i];
        if (!result?.ok || message?.kind !== 'event') {
          settled = false;
          continue;
        }
        const counter = counterOf(message.record);
        if (result.outcome === 'stored' && counter) tally[counter]++;
        // Markers are written for duplicates too: the first attempt may have stored the record and died
        // before its marker.
        const device = message.record.device_id;
        if (device) devices.set(device, [...(devices.get(device) ?? []), i]);
      }
      await Promise.all(
        [...devices.entries()].map(async ([device, members]) => {
          const first = messages[members[0] ?? -1];
          if (first?.kind !== 'event' || !first.record.campaign_id) return;
          try {
            writes.markers++;
            const marked = await records.putIfAbsent(
              deviceMarkerItem(
                { ...first.record, campaign_id: first.record.campaign_id, device_id: device },
                records.layout,
              ),
            );
            if (marked === 'stored') tally.unique_devices++;
          } catch (error) {
            settled = false;
            for (const i of members) outcomes[i] = { ok: false, error };
          }
        }),
      );
      try {
        writes.counters++;
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
        writes.states++;
        await records.applyState(message.record.provider, update);
      } catch (error) {
        outcomes[i] = { ok: false, error };
      }
    }),
  );
  return outcomes;
}
