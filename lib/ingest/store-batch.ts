import type { CountedKind, QueueMessage } from '../events/event-record';
import { withPolicy } from '../receive/event-policy';
import { loginFamiliesOf, signalFactsOf } from '../signals/facts';
import { wasAnswered, withDeadline } from '../table/deadline';
import { counterFieldsOf, counterKeyOf } from '../table/records-table';
import type { BatchTally, CampaignCounters, CounterGroup, Deliveries } from './campaign-counters';
import { mergeDeliveries, newClaimToken } from './campaign-counters';
import type { EventWriter, StoreOutcome } from './event-writer';

/** What storing one message of a batch did, or why it failed (the message is then retried). */
export type BatchOutcome = { ok: true; outcome: StoreOutcome } | { ok: false; error: unknown };

/** How a batch is stored. */
export interface StoreOptions {
  /**
   * When the batch's table calls must be over (epoch ms): none starts after it, a running one is aborted. It
   * must come before the batch turns stale; the default is half the staleness from now.
   */
  deadline?: number;
  /**
   * The batch stores deliveries kept in the quarantine (`events reprocess`): in the delivery figures each moves
   * from quarantined to stored (or duplicates), and is not received again.
   */
  reprocessed?: boolean;
}

const groupId = (message: QueueMessage & { kind: 'event' }) => {
  const key = counterKeyOf(message.record, message.policy?.keyed_by_id);
  return key ? JSON.stringify([key.provider, key.campaignId, key.day]) : undefined;
};

/**
 * Stores a batch of queue messages: one conditional put per record, a device marker where it can be new, and
 * exact counters per campaign and day (events per type and breakdown, unique devices), moved only by first
 * inserts. The batch journals what it stored for the first time in one entry, opened before its first write
 * and closed after its last; the repair folds the journal into the counter items (see {@link CampaignCounters}
 * for why they stay exact under crashes, retries and lost answers).
 *
 * Every write of the batch names the batch and the message (its token and index), so a write applied whose
 * answer was lost is known for the message's own when the SDK's retry finds it. The entry is closed when every
 * write of the batch is known, a failed one having been answered (nothing of it can land later); otherwise it
 * stays open and the repair counts the batch from its own writes once it is stale.
 *
 * A message fails (and is retried by SQS) when its record or its device marker could not be written, or, for
 * a campaign event, when the journal entry could not be opened. A retried message writes its marker again, so
 * a marker is never missing for a message that succeeded.
 * @returns one outcome per message, in order; never throws.
 */
export async function storeBatch(
  writer: EventWriter,
  counters: CampaignCounters,
  messages: readonly QueueMessage[],
  options: StoreOptions = {},
): Promise<BatchOutcome[]> {
  return (await storeBatchWrites(writer, counters, messages, options)).outcomes;
}

/**
 * Runs before a message's record is written, with the message as it is stored: a throw fails the message
 * (retried by SQS) and nothing of it is written.
 */
export type BeforeWrite = (message: QueueMessage) => Promise<void>;

/** What storing a batch did, message by message. */
export interface BatchWrites {
  /** The batch's messages as they were stored: each event with the policy it was stored by. */
  messages: readonly QueueMessage[];
  /** What storing each message did (see {@link storeBatch}), in order. */
  outcomes: BatchOutcome[];
  /**
   * What each message's record write answered, in order: `stored` for a first insert, `duplicate`, or
   * `undefined` when it was not attempted or failed (a failure without an answer may still have been applied).
   * A record stored counts even when its message then failed on its marker or its state.
   */
  writes: ReadonlyArray<StoreOutcome | undefined>;
}

/**
 * {@link storeBatch}, telling also what each record write answered, and running `beforeWrite` before each one.
 * @param clock stamps the batch (its token's time); the counters' clock by default.
 * @returns never throws.
 */
export function storeBatchWrites(
  writer: EventWriter,
  counters: CampaignCounters,
  messages: readonly QueueMessage[],
  options: StoreOptions = {},
  beforeWrite?: BeforeWrite,
  clock: () => number = counters.clock,
): Promise<BatchWrites> {
  // A deadline is kept by the machine's timers, whatever clock stamps the batch.
  const deadline = options.deadline ?? Date.now() + counters.staleAfterMs / 2;
  // The table and the counters follow each event's policy as it was received (a message sent before an
  // upgrade gets the current code's).
  const policed = messages.map(withPolicy);
  return withDeadline(deadline, () =>
    store(writer, counters, policed, { reprocessed: options.reprocessed === true, beforeWrite, clock }),
  );
}

/** The phases of a batch, each a function of what the one before returned. */
async function store(
  writer: EventWriter,
  counters: CampaignCounters,
  messages: readonly QueueMessage[],
  {
    reprocessed,
    beforeWrite,
    clock,
  }: { reprocessed: boolean; beforeWrite: BeforeWrite | undefined; clock: () => number },
): Promise<BatchWrites> {
  if (messages.length === 0) return { messages, outcomes: [], writes: [] };
  // The token's time is when the batch began by the clock its staleness is judged by.
  const token = newClaimToken(clock());
  const { groups, groupOf } = groupByCampaignDay(messages);
  // The entry comes first, so that no first insert of a campaign event escapes the repair. Every batch has one:
  // it also carries what the batch's deliveries came to (the delivery figures), campaign events or not.
  const opened = await openEntry(counters, token, groups, messages);
  // Listed for the read paths as the records are written; should it fail, the repair's count lists them.
  const registered =
    opened === undefined && groups.length > 0
      ? counters.register(typesByGroup(messages, groups, groupOf)).catch(() => undefined)
      : Promise.resolve();
  const refused = (i: number) => (opened !== undefined && groupOf[i] !== undefined ? opened : undefined);
  const written = await writeMessages(writer, messages, token, refused, beforeWrite);
  if (opened === undefined) {
    const { tally, known } = tallyOf(messages, groups, groupOf, written, reprocessed);
    // Left open, the entry is counted by the repair from the batch's own writes once it is stale; so is it
    // when the close fails. The messages stored stay stored either way. Delivery figures are not part of that
    // promise: those of an entry left open count its first inserts of events only.
    if (known) await counters.close(token, tally).catch(() => false);
  }
  await registered;
  const outcomes = await applyStates(writer, messages, written.outcomes);
  return { messages, outcomes, writes: written.stored };
}

/** The campaign-days a batch's events move (its journal entry's groups), and each message's group. */
function groupByCampaignDay(messages: readonly QueueMessage[]) {
  const groups: CounterGroup[] = [];
  const indexOf = new Map<string, number>();
  const groupOf: Array<number | undefined> = messages.map((message) => {
    if (message.kind !== 'event') return undefined;
    const id = groupId(message);
    if (id === undefined) return undefined;
    let index = indexOf.get(id);
    if (index === undefined) {
      index = groups.length;
      indexOf.set(id, index);
      groups.push({
        key: counterKeyOf(message.record, message.policy?.keyed_by_id) as CounterGroup['key'],
        name: null,
        counted: [],
      });
    }
    const group = groups[index] as CounterGroup;
    group.name = message.record.campaign_name ?? group.name;
    // Which of its event types count, as received: the repair recounts a killed batch by them.
    if (message.policy?.counted && !group.counted?.includes(message.record.event)) {
      group.counted?.push(message.record.event);
    }
    return index;
  });
  addReceivedKinds(messages, groups, groupOf);
  return { groups, groupOf };
}

/**
 * Puts on each group what its counted event types count as, and which impression types its clicks are matched
 * with, as their policies said when received: the fold counts and signals them by these, whatever the
 * provider's code says by then.
 */
function addReceivedKinds(
  messages: readonly QueueMessage[],
  groups: CounterGroup[],
  groupOf: readonly (number | undefined)[],
) {
  const kinds = groups.map(() => new Map<string, CountedKind>());
  const pairs = groups.map(() => new Set<string>());
  messages.forEach((message, i) => {
    const g = groupOf[i];
    if (g === undefined || message.kind !== 'event') return;
    const countedAs = message.policy?.counted_as;
    if (countedAs && !kinds[g]?.has(message.record.event)) kinds[g]?.set(message.record.event, countedAs);
    for (const type of message.policy?.pairs_with ?? []) pairs[g]?.add(type);
  });
  groups.forEach((group, g) => {
    group.kinds = Object.fromEntries(kinds[g] ?? []);
    group.pairs = [...(pairs[g] ?? [])].sort();
  });
}

/** Opens the batch's journal entry. @returns why it could not be opened, `undefined` when it was. */
async function openEntry(
  counters: CampaignCounters,
  token: string,
  groups: CounterGroup[],
  messages: readonly QueueMessage[],
) {
  try {
    // The partitions its logins go to: a batch killed before it closes is recounted from its own records there.
    await counters.open(token, groups, loginFamiliesOf(messages));
    return undefined;
  } catch (error) {
    return error ?? new Error('the batch journal could not be opened');
  }
}

/** Each group with the event types the batch stores in it. */
function typesByGroup(
  messages: readonly QueueMessage[],
  groups: CounterGroup[],
  groupOf: (number | undefined)[],
) {
  const types = groups.map(() => new Set<string>());
  messages.forEach((message, i) => {
    const g = groupOf[i];
    if (g !== undefined && message.kind === 'event') types[g]?.add(message.record.event);
  });
  return groups.map((group, g) => ({ ...group, types: [...(types[g] ?? [])] }));
}

/** What writing a batch's messages did. */
interface Written {
  outcomes: BatchOutcome[];
  /** What each message's record write did, known even when its marker write failed after it. */
  stored: Array<StoreOutcome | undefined>;
  /** Whether each message's marker write was its device's first counted one in its campaign-day. */
  markers: boolean[];
}

/**
 * Writes each message's record and device marker, each write naming the batch and the message.
 * @param refused why a message may not be written (its campaign-day's entry could not be opened).
 */
async function writeMessages(
  writer: EventWriter,
  messages: readonly QueueMessage[],
  token: string,
  refused: (i: number) => unknown,
  beforeWrite: BeforeWrite | undefined,
): Promise<Written> {
  const writes = await Promise.all(
    messages.map((message, i): Promise<MessageWrite> | MessageWrite => {
      const error = refused(i);
      if (error !== undefined) return { outcome: { ok: false, error } };
      // Per message: two deliveries of one event in one batch must not take each other's write for their own.
      return writeMessage(writer, message, `${token}.${i}`, beforeWrite);
    }),
  );
  return {
    outcomes: writes.map((write) => write.outcome),
    stored: writes.map((write) => write.stored),
    markers: writes.map((write) => write.first === true),
  };
}

/** What writing one message did. */
interface MessageWrite {
  outcome: BatchOutcome;
  /** What its record write did, known even when its marker write failed after it. */
  stored?: StoreOutcome;
  /** Whether its marker write was its device's first counted one in its campaign-day. */
  first?: boolean;
}

/** Writes one message's record, then its device marker, both naming `nonce`. */
async function writeMessage(
  writer: EventWriter,
  message: QueueMessage,
  nonce: string,
  beforeWrite: BeforeWrite | undefined,
): Promise<MessageWrite> {
  let stored: StoreOutcome | undefined;
  try {
    await beforeWrite?.(message);
    stored = await writer.store(message, nonce);
    let first = false;
    if (message.kind === 'event') {
      const { counted = false, keyed_by_id: keyedById = false } = message.policy ?? {};
      first = (await writer.markDevice(message.record, counted, nonce, keyedById)) === 'first';
    }
    return { outcome: { ok: true, outcome: stored }, stored, first };
  } catch (error) {
    return { outcome: { ok: false, error }, ...(stored ? { stored } : {}) };
  }
}

/**
 * What the batch stored for the first time, and whether every write of it is known: a failure that may have
 * applied something (unanswered) leaves the entry to the repair.
 */
function tallyOf(
  messages: readonly QueueMessage[],
  groups: CounterGroup[],
  groupOf: (number | undefined)[],
  { outcomes, stored, markers }: Written,
  reprocessed: boolean,
): { tally: BatchTally; known: boolean } {
  const tally: BatchTally = { inserted: [], devices: groups.map(() => 0), reach: [], deliveries: [] };
  let known = true;
  messages.forEach((message, i) => {
    const g = groupOf[i];
    const result = outcomes[i];
    if (g === undefined || message.kind !== 'event' || !result) return;
    // A record stored counts even when the message then failed on its marker: its redelivery finds the
    // record and takes it for a duplicate.
    if (!result.ok) known &&= wasAnswered(result.error);
    if (stored[i] === 'stored') tally.inserted.push([g, ...counterFieldsOf(message.record)]);
    if (markers[i]) {
      tally.devices[g] = (tally.devices[g] ?? 0) + 1;
      if (message.record.device_id) tally.reach?.push([g, message.record.device_id]);
    }
  });
  tally.deliveries = deliveriesOf(messages, stored, reprocessed);
  // What the fraud and quality signals read of each first insert (a click's activity, a login's account).
  tally.signals = signalFactsOf(messages, groupOf, stored);
  return { tally, known };
}

/**
 * Moves current-state items (e.g. a Symphony campaign's status) by every stored or duplicate event: an update
 * is conditional on its rank, so applying one again, or late, never moves a state back.
 * @returns the outcomes, a message whose state could not be moved failed (and retried).
 */
async function applyStates(
  writer: EventWriter,
  messages: readonly QueueMessage[],
  outcomes: readonly BatchOutcome[],
): Promise<BatchOutcome[]> {
  return Promise.all(
    messages.map(async (message, i): Promise<BatchOutcome> => {
      const outcome = outcomes[i] as BatchOutcome;
      const update = message.kind === 'event' && outcome.ok ? message.policy?.state : undefined;
      if (!update) return outcome;
      try {
        await writer.applyState(message.record.provider, update);
        return outcome;
      } catch (error) {
        return { ok: false, error };
      }
    }),
  );
}

/**
 * What a batch's deliveries came to, per provider and UTC day of receipt: each message settled (stored for the
 * first time, a duplicate, or quarantined); a failed one is retried, and counted then.
 */
function deliveriesOf(
  messages: readonly QueueMessage[],
  stored: ReadonlyArray<StoreOutcome | undefined>,
  reprocessed: boolean,
): Deliveries[] {
  return mergeDeliveries(
    messages.flatMap((message, i): Deliveries[] => {
      const outcome = stored[i];
      if (!outcome) return [];
      const first = outcome === 'stored';
      const day = message.record.received_at.slice(0, 10);
      const event = message.kind === 'event';
      // A delivery the quarantine kept, stored now: received (and quarantined) when it came.
      if (reprocessed) return [[message.record.provider, day, 0, first ? 1 : 0, first ? 0 : 1, -1]];
      return [
        [message.record.provider, day, 1, first && event ? 1 : 0, first ? 0 : 1, first && !event ? 1 : 0],
      ];
    }),
  );
}
