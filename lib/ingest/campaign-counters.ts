import { randomBytes } from 'node:crypto';
import { type DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { type CountedKind, type CountedKinds, kindOf } from '../events/event-record';
import { countedEvents, currentCountedKinds } from '../receive/event-policy';
import { isLogin, signalFactOf } from '../signals/facts';
import {
  type CampaignEventFact,
  type CampaignSignalChange,
  type LoginEventFact,
  SignalFold,
} from '../signals/fold-signals';
import { impressionsAndClicks, isHighCtr, noSignals, type SignalCounts } from '../signals/signal-counts';
import { campaignNotices, loginNotices, putNotices } from '../signals/signal-notices';
import { DEFAULT_SIGNAL_THRESHOLDS, type SignalThresholds } from '../signals/thresholds';
import {
  type BatchEntry,
  type BatchTally,
  batchKey,
  type CounterGroup,
  closeBatchUpdate,
  countedKindsOfItem,
  counterItem,
  counterUnchanged,
  type Deliveries,
  dayCampaigns,
  type FoldRun,
  type FoldState,
  foldChangesUpdate,
  foldOf,
  foldStateItem,
  foldStateKey,
  fromBatchItem,
  fromFoldStateItem,
  type Inserted,
  journalQuery,
  legacyClaimsOf,
  openBatchItem,
  registerUpdate,
  stateUnchanged,
  typesOf,
  unlistUpdate,
  versionOf,
} from '../table/counter-items';
import { callOptions, trackUnansweredAttempts, withDeadline } from '../table/deadline';
import {
  addDeviceAccounts,
  type DeviceReach,
  deviceReachItem,
  deviceReachUnchanged,
  readDeviceReach,
} from '../table/device-reach';
import type { SignalFact } from '../table/journal-facts';
import {
  DELIVERY_FIGURES,
  fromProviderDayItem,
  type ProviderDay,
  providerDayItem,
  providerDayKey,
} from '../table/provider-days';
import {
  changed,
  dayNumber,
  dayOfNumber,
  decodeDays,
  encodeDays,
  REACH_ATTRIBUTE,
  REACH_SEED_ATTRIBUTE,
  reachChanges,
} from '../table/reach';
import {
  BreakdownBudget,
  COUNTED_ATTRIBUTE,
  type CounterFields,
  type CounterKey,
  campaignDayFamily,
  countAttribute,
  counterAttributesOfFields,
  counterFieldsOf,
  counterItemKey,
  DEVICES_ATTRIBUTE,
  deviceMarkerItem,
  EVENT_SORT_PREFIX,
  fromCounterItem,
  fromEventItem,
  isCountAttribute,
  NAME_ATTRIBUTE,
  PENDING_COUNTERS_PARTITION,
  RECORDS_TABLE,
  shardKeys,
  type TableLayout,
  WRITER_ATTRIBUTE,
} from '../table/records-table';
import {
  addBounded,
  type CampaignSignals,
  campaignSignalAttributes,
  campaignSignalsOf,
  type LoginSignals,
  MAX_FLAGS,
  MAX_ORPHANS,
  orphanEntry,
  parseOrphan,
} from '../table/signal-attributes';
import { getItems, type Item, keyOf, putIf, putItemIfAbsent, queryItems, updateIf } from '../table/table-io';
import { setCountedFlag } from './event-writer';

export type { BatchTally, CounterGroup, CounterKey, Deliveries, Inserted, SignalCounts };

/** Delivery figures summed per provider and day. */
export function mergeDeliveries(entries: Iterable<Deliveries>): Deliveries[] {
  const merged = new Map<string, Deliveries>();
  for (const [provider, day, ...figures] of entries) {
    const id = JSON.stringify([provider, day]);
    const sum = merged.get(id) ?? [provider, day, 0, 0, 0, 0];
    figures.forEach((value, i) => {
      sum[i + 2] = (sum[i + 2] as number) + value;
    });
    merged.set(id, sum);
  }
  return [...merged.values()];
}

/**
 * What a campaign-day's records add up to: events per counter attribute (per event type, and per breakdown
 * value and event type; see `counterAttributesOf`), and unique devices.
 */
export interface Tally {
  counts: Record<string, number>;
  unique_devices: number;
}

/**
 * A batch's token: `<epoch ms, base 36, 9 digits>_<random>`. It names the batch's journal entry and every write
 * of the batch, and its time tells when the batch is stale (can no longer be running). Tokens sort by time.
 */
export function newClaimToken(now = Date.now()): string {
  return `${timeKey(now)}_${randomBytes(6).toString('hex')}`;
}

const timeKey = (ms: number) => Math.max(0, Math.floor(ms)).toString(36).padStart(9, '0');
const claimTime = (token: string) => Number.parseInt(token.split('_')[0] ?? '', 36);

/** What one repair pass did. */
export interface RepairSummary {
  /** Journal entries read (batches since the fold's watermark). */
  checked: number;
  /** Batches left open by a killed or failed consumer, counted from their own writes. */
  recounted: number;
  /** Counter items taken off the earlier protocol's repair list. */
  cleared: number;
  /** Batches or campaign-days the pass could not settle (a failed read or write); the next pass retries. */
  failed: number;
  /** Batches folded into the counter items by this pass. */
  folded: number;
  /** Counter items this pass wrote. */
  written: number;
  /** `true` when another pass moved the fold state first and this one stopped (nothing lost). */
  gaveWay?: boolean;
  /** Fraud and quality signals this pass raised (new flags on the items it wrote), by signal. */
  signals?: SignalCounts;
}

/** Counter items a fold writes at once. */
const FOLD_CONCURRENCY = 8;
/** Devices whose days a fold reads and writes at once (a query and a put each). */
const REACH_CONCURRENCY = 16;
/** Devices new on a day a fold counts at most: each costs a query and a put, and a fold ends within its lease. */
const MAX_RUN_DEVICES = 5_000;

/** Batches one fold folds at most: their tokens (25 bytes each) are written down in the fold state. */
const MAX_RUN_BATCHES = 2_000;
/** Folds newer than the watermark's bound the state lists at most (22 bytes each). */
const MAX_RECENT_FOLDS = 4_000;
/** A fold's calls end this long after it began; another pass takes it over only after twice as long. */
const RUN_DEADLINE_MS = 45_000;
const RUN_LEASE_MS = 2 * RUN_DEADLINE_MS;
/** A pass starts no new fold after this long (the scheduled function has a minute). */
const PASS_BUDGET_MS = 30_000;

/** How a repair pass runs. */
export interface RepairOptions {
  /**
   * Whether the pass may take over a fold another pass left under way once its lease is over (default `true`).
   * A pass run from an operator's machine (`doctor`) passes `false`: its clock may be off.
   */
  takeOver?: boolean;
}

/** Orphan clicks a campaign-day holds: those kept, and those past the bound. */
const orphanCount = (signals: CampaignSignals) => signals.orphans.size + signals.orphansOver;

/** Whether two campaign-days' signals are the same. */
function sameSignals(a: CampaignSignals, b: CampaignSignals): boolean {
  const same = (x: Set<string>, y: Set<string>) => x.size === y.size && [...x].every((e) => y.has(e));
  return (
    same(a.orphans, b.orphans) &&
    a.orphansOver === b.orphansOver &&
    same(a.bursts, b.bursts) &&
    a.burstsFull === b.burstsFull
  );
}

/** Another repair pass wrote the fold state since this one read it. */
class GaveWay extends Error {
  constructor() {
    super('another repair pass moved the fold state; this pass stops');
  }
}

/** A campaign-day's share of a fold: the first inserts and new devices its batches journaled. */
interface Delta {
  key: CounterKey;
  name: string | null;
  inserted: CounterFields[];
  devices: number;
  /** What the new devices change in its reach histogram, by gap. */
  reach: Map<number, number>;
  /** Claims of the earlier protocol this fold settles on the campaign-day. */
  legacy: string[];
  /** What its first inserts' counted event types count as, as their batches received them. */
  kinds: Map<string, CountedKind>;
  /** What the fold's first inserts change in its signals. */
  signals?: CampaignSignalChange;
  /**
   * Only its signals may change (an impression's fold taking an orphan click off another day): the item is
   * written only if it exists and they do.
   */
  signalOnly?: boolean;
}

const keyId = (key: CounterKey) => JSON.stringify([key.provider, key.campaignId, key.day]);

/** A provider-day's share of a fold: its deliveries, and what new devices change in its reach histogram. */
interface ProviderDelta {
  provider: string;
  day: string;
  figures: number[];
  reach: Map<number, number>;
  /** Devices whose logins this fold flags on the day. */
  logins?: { accounts: string[]; countries: string[] };
}

/** Adds changes by gap into a histogram's pending change. */
function addChange(target: Map<number, number>, change: ReadonlyMap<number, number>) {
  for (const [gap, by] of change) target.set(gap, (target.get(gap) ?? 0) + by);
}

/**
 * Takes the next run's batches off the front of `candidates`: runs of a bounded size, so the fold state stays
 * far below DynamoDB's 400 KB item limit and a fold ends within its lease; batches newer than `bound` only
 * while the list of recent folds (`recent` long) has room (the others wait for the bound to pass).
 */
function takeRun(candidates: BatchEntry[], bound: string, recent: number): BatchEntry[] {
  const take: BatchEntry[] = [];
  let devices = 0;
  let newer = recent;
  while (take.length < MAX_RUN_BATCHES && candidates.length > 0) {
    const next = candidates[0] as BatchEntry;
    if (next.token >= bound && newer >= MAX_RECENT_FOLDS) break;
    const reach = next.tally?.reach?.length ?? 0;
    if (take.length > 0 && devices + reach > MAX_RUN_DEVICES) break;
    devices += reach;
    if (next.token >= bound) newer++;
    take.push(candidates.shift() as BatchEntry);
  }
  return take;
}

/**
 * A counter item's histogram before a fold adds to it: an item folded before histograms were kept has its
 * devices so far taken as new to any range (over-counted across its days, never dropped).
 */
function reachBefore(item: Item | undefined): Map<number, number> {
  if (!item) return new Map();
  const { reach, unique_devices } = fromCounterItem(item);
  if (item[REACH_ATTRIBUTE] === undefined && unique_devices > 0) return new Map([[0, unique_devices]]);
  return new Map(reach);
}

/**
 * The devices an item held before histograms were kept (`reach_seed`, kept on the item once its histogram is
 * seeded with them), so that the day's provider-day item, whenever it is made, counts them once.
 */
function reachSeedOf(item: Item | undefined): number {
  if (!item) return 0;
  if (item[REACH_ATTRIBUTE] === undefined) return Number(item[DEVICES_ATTRIBUTE]?.N ?? 0);
  return Number(item[REACH_SEED_ATTRIBUTE]?.N ?? 0);
}

/** A device counted on new days by a fold's batches: per campaign, the day numbers. */
interface NewDays {
  provider: string;
  deviceId: string;
  days: Map<string, Set<number>>;
}

/** What one fold adds: per campaign-day, per provider-day, and the devices counted on new days. */
class FoldShare {
  private readonly byCounter = new Map<string, Delta>();
  private readonly byProviderDay = new Map<string, ProviderDelta>();
  private readonly byDevice = new Map<string, NewDays>();
  /** The signal facts of the fold's first inserts. */
  readonly campaignFacts: CampaignEventFact[] = [];
  readonly loginFacts: LoginEventFact[] = [];

  /** The share of a campaign-day's counter item. */
  counter(key: CounterKey): Delta {
    const id = keyId(key);
    let delta = this.byCounter.get(id);
    if (!delta) {
      delta = { key, name: null, inserted: [], devices: 0, reach: new Map(), legacy: [], kinds: new Map() };
      this.byCounter.set(id, delta);
    }
    return delta;
  }

  /** Whether the fold counts anything in a campaign-day. */
  has(key: CounterKey): boolean {
    return this.byCounter.has(keyId(key));
  }

  /** The share of a provider-day's item. */
  providerDay(provider: string, day: string): ProviderDelta {
    const id = JSON.stringify([provider, day]);
    let delta = this.byProviderDay.get(id);
    if (!delta) {
      delta = { provider, day, figures: DELIVERY_FIGURES.map(() => 0), reach: new Map() };
      this.byProviderDay.set(id, delta);
    }
    return delta;
  }

  /** Adds a closed journal entry: its first inserts, new devices and delivery figures. */
  addEntry(entry: BatchEntry, tally: BatchTally): void {
    const received = entry.groups.map(receivedKinds);
    entry.groups.forEach((group, g) => {
      const delta = this.counter(group.key);
      if (group.name) delta.name = group.name;
      delta.devices += tally.devices[g] ?? 0;
      for (const [event, kind] of Object.entries(received[g]?.kinds ?? {}))
        if (!delta.kinds.has(event)) delta.kinds.set(event, kind);
    });
    for (const [g, ...fields] of tally.inserted) {
      const group = entry.groups[g];
      if (group) this.counter(group.key).inserted.push(fields);
    }
    for (const [g, deviceId] of tally.reach ?? []) {
      const group = entry.groups[g];
      if (!group) continue;
      const id = JSON.stringify([group.key.provider, deviceId]);
      const device = this.byDevice.get(id) ?? { provider: group.key.provider, deviceId, days: new Map() };
      this.byDevice.set(id, device);
      const days = device.days.get(group.key.campaignId) ?? new Set<number>();
      device.days.set(group.key.campaignId, days.add(dayNumber(group.key.day)));
    }
    for (const [provider, day, ...figures] of tally.deliveries ?? []) {
      const delta = this.providerDay(provider, day);
      figures.forEach((value, i) => {
        delta.figures[i] = (delta.figures[i] ?? 0) + value;
      });
    }
    this.addFacts(entry, received, tally.signals ?? []);
  }

  private addFacts(entry: BatchEntry, received: ReceivedKinds[], facts: SignalFact[]) {
    for (const fact of facts) {
      if (fact[0] === 'c') {
        const [, g, event, activity, device, at] = fact;
        const group = entry.groups[g];
        const { kinds = {}, pairs = [] } = received[g] ?? {};
        const kind = kindOf(kinds, event);
        if (group)
          this.campaignFacts.push({ key: group.key, event, kind, pairsWith: pairs, activity, device, at });
      } else {
        const [, provider, device, account, country, at] = fact;
        if (device) this.loginFacts.push({ provider, device, account, country, at });
      }
    }
  }

  counters = () => [...this.byCounter.values()];
  providerDays = () => [...this.byProviderDay.values()];
  devices = () => [...this.byDevice.values()];
}

/** What a journal group's counted event types count as, and the impression types its clicks pair with. */
interface ReceivedKinds {
  kinds: CountedKinds;
  pairs: readonly string[];
}

/**
 * What a journal group's events counted as when received; for an entry of the earlier layout, which did not
 * say, what the provider's current code counts them as (its counted types only, where the entry names them).
 */
function receivedKinds(group: CounterGroup): ReceivedKinds {
  if (group.kinds) return { kinds: group.kinds, pairs: group.pairs ?? [] };
  const current = Object.entries(currentCountedKinds(group.key.provider));
  const counted = group.counted ? new Set(group.counted) : undefined;
  return {
    kinds: Object.fromEntries(current.filter(([event]) => !counted || counted.has(event))),
    pairs: current.filter(([, kind]) => kind === 'impressions').map(([event]) => event),
  };
}

/**
 * What a counter item's counted types count as before a fold adds to it: as the item says, or, for an item no
 * fold wrote since items said, as the provider's current code counts the types the item has counts of.
 */
function kindsBefore(item: Item | undefined, provider: string): CountedKinds {
  const kept = countedKindsOfItem(item);
  if (kept) return kept;
  return Object.fromEntries(
    Object.entries(currentCountedKinds(provider)).filter(([event]) => item?.[countAttribute(event)]),
  );
}

/**
 * What a counter item's counted types count as once a fold is added: the item's word first (its earliest
 * batch's), then the fold's batches', then, for the claims of the earlier protocol it settles (which did not
 * say), the provider's current code.
 */
function kindsAfter(before: CountedKinds, delta: Delta): CountedKinds {
  const legacy = delta.legacy.length > 0 ? currentCountedKinds(delta.key.provider) : {};
  return { ...legacy, ...Object.fromEntries(delta.kinds), ...before };
}

/** Runs `work` over `items`, `concurrency` at a time; every item is tried. @returns whether all succeeded. */
async function eachLimited<T>(
  items: T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
  onError: (item: T, error: unknown) => void,
) {
  const todo = [...items];
  let complete = true;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, todo.length) }, async () => {
      for (let item = todo.shift(); item !== undefined; item = todo.shift()) {
        try {
          await work(item);
        } catch (error) {
          complete = false;
          onError(item, error);
        }
      }
    }),
  );
  return complete;
}

/**
 * Exact per campaign-day counters, moved only by first inserts, without transactions, at a few writes per batch
 * whatever the number of campaign-days it touches.
 *
 * A consumer batch writes a journal entry before anything else (`open`: the campaign-days it may count), then its
 * records and device markers with conditional puts that name the batch (`writer`, the `counted` flag), then
 * closes the entry with what it stored for the first time (`close`: per first insert, the few fields the
 * counters read; new devices per campaign-day). It never writes a counter item.
 *
 * The repair pass ({@link CampaignCounters.repair}, every minute in AWS, every 2 s locally) is the counter items'
 * one writer: it reads the journal from its watermark on and folds every closed batch into the counter items,
 * each written whole once per pass, conditional on its version. A batch left open (its consumer killed, or
 * its writes ended in doubt) is counted, once stale, from its own writes: the records whose `writer` names it
 * and the device markers it flagged. A fold is written down before it touches a counter item, and each counter
 * item it writes says so (`fold`), so a pass killed half-way is finished by the next, never applied twice.
 *
 * The fraud and quality signals ride on the same fold: a batch journals each first insert's signal fact with its
 * tally, and the fold, having read the stored records around the facts it folds (see `SignalFold`), writes the
 * signals into the counter items and provider-day items it writes anyway. A device's accounts are the one item
 * of their own, written once per device and account.
 */
export class CampaignCounters {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly layout: TableLayout,
    readonly staleAfterMs = 60_000,
    private readonly deadBefore = 0,
    clock?: () => number,
  ) {
    trackUnansweredAttempts(client);
    this.clock = clock ?? (() => Date.now());
    this.ownClock = clock !== undefined;
  }

  /**
   * The time (epoch ms) batches are stamped, aged and folded by: the machine's, unless the constructor is given
   * another (a test passes a fake one to age a batch without waiting). Timers keep the machine's clock (see
   * {@link timerDeadline}).
   */
  readonly clock: () => number;
  private readonly ownClock: boolean;

  /**
   * A time of {@link clock} as the machine's clock has it, for a deadline its timers keep (a table call is
   * aborted by a real timer): the same time when the clock is the machine's.
   */
  private timerDeadline(at: number): number {
    return this.ownClock ? Date.now() + (at - this.clock()) : at;
  }

  /** The fraud and quality signals' thresholds the fold applies (the repair function reads them at cold start). */
  signalThresholds: SignalThresholds = DEFAULT_SIGNAL_THRESHOLDS;

  /** Called with each batch or campaign-day a repair pass could not settle, and why (for the logs). */
  onRepairError?: (subject: CounterKey | { batch: string }, error: unknown) => void;

  /**
   * The one staleness rule: a batch can no longer be running when it is older than any batch runs
   * (`staleAfterMs`, above the consumer's timeout), or when it began before `deadBefore` (the local stack
   * passes its start time: batches from before are a killed process's).
   * @param token a batch token, which carries the time it began (see {@link newClaimToken}).
   */
  isStale(token: string, now = this.clock()): boolean {
    const claimedAt = claimTime(token);
    return claimedAt < this.deadBefore || now - claimedAt >= this.staleAfterMs;
  }

  /**
   * How long after its token's time a batch's journal entry can still land: the entry is the batch's first
   * write and is given a sixth of the staleness (10 s by default), so a third leaves room for a slow link. The
   * fold moves its watermark no closer to the present than this.
   */
  get openWithinMs(): number {
    return Math.floor(this.staleAfterMs / 6);
  }

  /**
   * Opens a batch's journal entry: the campaign-days it may count, and the partition families of its logins
   * (see `loginFamiliesOf`: a recount reads them for the signals). Its own deadline is {@link openWithinMs}
   * after the token's time (or the batch's deadline, if sooner).
   * @throws the SDK's error: nothing of the batch may then be written.
   */
  async open(token: string, groups: CounterGroup[], logins: readonly string[] = []): Promise<void> {
    const deadline = this.timerDeadline(claimTime(token) + this.openWithinMs);
    const write = () =>
      putItemIfAbsent(this.client, this.tableName, openBatchItem(token, groups, this.clock(), logins));
    await withDeadline(deadline, write);
  }

  /** Campaign-days and event types this container has registered (see {@link register}); only confirmed ones. */
  private readonly registered = new Set<string>();

  /**
   * Lists, on their counter items, the campaign-days and event types a batch stores, unless this container
   * registered them before: the read paths then find the records before the repair counts them. One small
   * update per campaign-day and type a container has not seen, whatever the traffic.
   * @throws the SDK's error (the records are then found once the repair has counted them).
   */
  async register(groups: readonly (CounterGroup & { types: readonly string[] })[]): Promise<void> {
    await Promise.all(
      groups.map(async ({ key, name, types }) => {
        const ids = types.map((type) => JSON.stringify([key.provider, key.campaignId, key.day, type]));
        const fresh = types.filter((_, i) => !this.registered.has(ids[i] as string));
        if (fresh.length === 0) return;
        await this.client.send(
          new UpdateItemCommand(registerUpdate(this.tableName, key, name, fresh)),
          callOptions(),
        );
        // Bounded: forgetting costs a write, never a count.
        if (this.registered.size > 100_000) this.registered.clear();
        for (const id of ids) this.registered.add(id);
      }),
    );
  }

  /**
   * Closes a batch's journal entry with what it stored for the first time, once.
   * @returns `false` when the entry was closed before (by the repair, having counted from the batch's writes).
   */
  close(token: string, tally: BatchTally): Promise<boolean> {
    const update = closeBatchUpdate(this.tableName, token, tally);
    const value = update.ExpressionAttributeValues[':tally'].S;
    return updateIf(this.client, update, (found) => found?.tally?.S === value);
  }

  /**
   * One repair pass: finishes a fold a killed pass left, counts stale open batches from their own writes, folds
   * every closed batch not yet folded into the counter items, settles stale claims of the earlier protocol, and
   * moves the watermark on.
   * @returns what the pass did.
   * @throws the SDK's error when the journal or the fold state cannot be read or written; the next pass starts
   *   over where this one stopped.
   */
  async repair(now = this.clock(), options: RepairOptions = {}): Promise<RepairSummary> {
    const summary: RepairSummary = { checked: 0, recounted: 0, cleared: 0, failed: 0, folded: 0, written: 0 };
    try {
      return await this.pass(now, summary, options);
    } catch (error) {
      // Another pass (the schedule's, or `doctor`'s) wrote the fold state first: it carries on, this one stops.
      if (error instanceof GaveWay) return { ...summary, gaveWay: true };
      throw error;
    }
  }

  private async pass(now: number, summary: RepairSummary, options: RepairOptions): Promise<RepairSummary> {
    const began = this.clock();
    // The watermark follows the clock (a `now` ahead of it, as tests pass to age batches, must not move it past
    // entries still to come); staleness and the lease follow `now`.
    const clock = Math.min(now, began);
    let state = await this.readState();
    if (state.run) {
      // A fold under way may belong to a pass still writing (it stops at its deadline): it is taken over only
      // once its lease is over, or when it began before this process (a killed local stack's).
      const dead = state.run.started < this.deadBefore || now - state.run.started >= RUN_LEASE_MS;
      if (!dead || options.takeOver === false) return { ...summary, gaveWay: true };
      // Taken over under a lease of its own, so that no third pass takes it from this one meanwhile.
      const run: FoldRun = { ...state.run, started: now };
      state = await this.writeState({ ...state, run, version: state.version + 1 }, state.version);
      state = await this.finishRun(state, await this.entriesOf(run.tokens), summary);
      if (state.run) return summary;
    }
    // A pass that may not take over (doctor's, from a machine whose clock may be off) only folds what consumers
    // closed: by its clock it must neither take a batch for stale (it may be running) nor move the watermark
    // (the journal before it is not read again).
    const careful = options.takeOver === false;
    const { candidates, unfolded } = await this.unfoldedEntries(state, careful ? 0 : now, summary);
    // Every batch that began before the bound has its entry in the table by now (see `openWithinMs`): the
    // journal before it needs no reading again, bar the pending batches.
    const bound = timeKey(clock - 2 * this.openWithinMs);
    let legacy = await this.legacyClaims(careful ? 0 : now, summary);
    let recent = state.folded.length;
    while (candidates.length > 0 || legacy.length > 0) {
      const take = takeRun(candidates, bound, recent);
      recent += take.filter((entry) => entry.token >= bound).length;
      if (take.length === 0 && legacy.length === 0) break;
      const run: FoldRun = { id: newClaimToken(now), started: now, tokens: take.map((e) => e.token), legacy };
      legacy = [];
      state = await this.writeState({ ...state, run, version: state.version + 1 }, state.version);
      state = await this.finishRun(state, new Map(take.map((e) => [e.token, e])), summary);
      if (state.run) return summary;
      if (this.clock() - began >= PASS_BUDGET_MS) break;
    }
    if (!careful) await this.moveWatermark(state, bound, [...unfolded, ...candidates.map((e) => e.token)]);
    return summary;
  }

  /**
   * The journal's entries not folded yet, from the watermark on and the pending ones, oldest first: those with a
   * tally (closed, or stale and counted now from their own writes) to fold, and the tokens of those still open.
   */
  private async unfoldedEntries(state: FoldState, now: number, summary: RepairSummary) {
    const queried = (await queryItems(this.client, journalQuery(this.tableName, state.watermark))).map(
      fromBatchItem,
    );
    const pending = await this.entriesOf(state.pending);
    const entries = [...pending.values(), ...queried].sort((a, b) => (a.token < b.token ? -1 : 1));
    summary.checked = entries.length;
    const folded = new Set(state.folded);
    const candidates: BatchEntry[] = [];
    const unfolded: string[] = [];
    for (const entry of entries) {
      if (entry.token >= state.watermark && folded.has(entry.token)) continue;
      if (!entry.tally && this.isStale(entry.token, now)) {
        try {
          entry.tally = await this.recountBatch(entry);
          summary.recounted++;
        } catch (error) {
          summary.failed++;
          this.onRepairError?.({ batch: entry.token }, error);
        }
      }
      if (entry.tally) candidates.push(entry);
      else unfolded.push(entry.token);
    }
    // A pending batch no longer in the journal expired unfolded (the repair was down for two weeks).
    for (const token of state.pending) {
      if (!pending.has(token))
        this.onRepairError?.({ batch: token }, new Error('expired before it was folded'));
    }
    return { candidates, unfolded };
  }

  /**
   * Moves the watermark to `bound`: what was left unfolded below it is kept pending, and recent folds below it
   * are forgotten. Writes the state only when that changes it.
   */
  private async moveWatermark(state: FoldState, bound: string, unfolded: string[]): Promise<void> {
    const watermark = bound > state.watermark ? bound : state.watermark;
    const next: FoldState = {
      ...state,
      watermark,
      folded: state.folded.filter((token) => token >= watermark),
      pending: unfolded.filter((token) => token < watermark),
      version: state.version + 1,
    };
    const same = (a: string[], b: string[]) => a.length === b.length && a.every((t, i) => t === b[i]);
    if (
      next.watermark !== state.watermark ||
      !same([...next.folded].sort(), [...state.folded].sort()) ||
      !same([...next.pending].sort(), [...state.pending].sort())
    ) {
      await this.writeState(next, state.version);
    }
  }

  /** Reads journal entries by token (consistent). @returns those found, by token. */
  private async entriesOf(tokens: readonly string[]): Promise<Map<string, BatchEntry>> {
    if (tokens.length === 0) return new Map();
    const items = await getItems(this.client, this.tableName, tokens.map(batchKey));
    return new Map(items.map(fromBatchItem).map((entry) => [entry.token, entry]));
  }

  private async readState(): Promise<FoldState> {
    const { Item } = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: foldStateKey(), ConsistentRead: true }),
      callOptions(),
    );
    return fromFoldStateItem(Item);
  }

  /** Writes the fold state, unless another pass wrote it since `expected`. */
  private async writeState(state: FoldState, expected: number): Promise<FoldState> {
    const item = foldStateItem(state);
    const written = await putIf(
      this.client,
      { TableName: this.tableName, Item: item, ...stateUnchanged(expected) },
      (found) => found?.version?.N === item.version?.N && found?.run?.S === item.run?.S,
    );
    if (!written) throw new GaveWay();
    return state;
  }

  /**
   * Applies a fold written down in the state to every counter item it touches (skipping those that say they
   * have it), then marks its batches folded. Its calls end by its lease's first half (`RUN_DEADLINE_MS` after it
   * began or was taken over), so that a pass taking it over after the lease finds no write of it still coming.
   * @returns the state after it; still holding the run when a counter item could not be written (a pass after
   *   the lease finishes it).
   */
  private finishRun(
    state: FoldState,
    byToken: Map<string, BatchEntry>,
    summary: RepairSummary,
  ): Promise<FoldState> {
    const run = state.run as FoldRun;
    return withDeadline(this.timerDeadline(run.started + RUN_DEADLINE_MS), () =>
      this.applyRun(state, run, byToken, summary),
    );
  }

  private async applyRun(
    state: FoldState,
    run: FoldRun,
    byToken: Map<string, BatchEntry>,
    summary: RepairSummary,
  ): Promise<FoldState> {
    const share = new FoldShare();
    for (const token of run.tokens) {
      const entry = byToken.get(token);
      // Expired with its TTL before a fold killed long ago was taken over: nothing left to add.
      if (entry?.tally) share.addEntry(entry, entry.tally);
      else this.onRepairError?.({ batch: token }, new Error('expired before it was folded'));
    }
    for (const [provider, campaignId, day, token] of run.legacy) {
      share.counter({ provider, campaignId, day }).legacy.push(token);
    }
    // The devices' days first: a fold that fails here writes no counter item, and starts again from the days
    // each device had before it (`base`), so that every histogram moves once.
    const reached = await eachLimited(
      share.devices(),
      REACH_CONCURRENCY,
      (device) => this.foldDeviceDays(run.id, device, share),
      (device, error) => this.onRepairError?.({ batch: `${run.id} (device ${device.deviceId})` }, error),
    );
    // The signals read the table around the fold's first inserts before any item is written: a fold that fails
    // here writes nothing either.
    const signalled =
      reached &&
      (await this.foldSignals(share).then(
        () => true,
        (error) => {
          this.onRepairError?.({ batch: `${run.id} (signals)` }, error);
          return false;
        },
      ));
    if (!signalled) summary.failed++;
    const wrote = signalled && (await this.writeShare(share, run.id, summary));
    // Sent whether or not every item was written (a released fold moves `counted` too), before the state: a
    // reader that sees `counted` move finds what to read again.
    await this.recordChanges(share, state.counted + 1);
    if (!wrote) {
      // Every call of this fold is over (a late one is a put conditional on a version, which the next pass's
      // read or write moves): the next pass may take it over at once rather than wait out the lease.
      const released: FoldState = {
        ...state,
        run: { ...run, started: 0 },
        version: state.version + 1,
        counted: state.counted + 1,
      };
      return this.writeState(released, state.version).catch(() => state);
    }
    summary.folded += run.tokens.length;
    const tokens = new Set(run.tokens);
    const done: FoldState = {
      ...state,
      folded: [...state.folded, ...run.tokens.filter((token) => token >= state.watermark)],
      pending: state.pending.filter((token) => !tokens.has(token)),
      run: undefined,
      version: state.version + 1,
      counted: state.counted + 1,
    };
    return this.writeState(done, state.version);
  }

  /**
   * What a fold's first inserts change in the signals (see {@link SignalFold}), put on the shares of the items
   * the fold writes; and the accounts of the devices that signed in, added to their accounts item (a union: a
   * fold taken over adds them again for nothing).
   * @throws the SDK's error.
   */
  private async foldSignals(share: FoldShare): Promise<void> {
    if (share.campaignFacts.length === 0 && share.loginFacts.length === 0) return;
    const thresholds = this.signalThresholds;
    // A stored event whose item does not say what it counted as was stored before items said.
    const legacyKindOf = (provider: string, event: string) => kindOf(currentCountedKinds(provider), event);
    const fold = new SignalFold(this.client, this.tableName, this.layout, thresholds, legacyKindOf);
    for (const change of (await fold.campaignChanges(share.campaignFacts)).values()) {
      const signalOnly = !share.has(change.key);
      const delta = share.counter(change.key);
      delta.signals = change;
      if (signalOnly) delta.signalOnly = true;
    }
    const loginsOf = (provider: string, day: string) => {
      const delta = share.providerDay(provider, day);
      delta.logins ??= { accounts: [], countries: [] };
      return delta.logins;
    };
    for (const change of (await fold.countryChanges(share.loginFacts)).values())
      loginsOf(change.provider, change.day).countries.push(...change.countries);
    const byDevice = new Map<string, LoginEventFact[]>();
    for (const fact of share.loginFacts) {
      const id = JSON.stringify([fact.provider, fact.device]);
      byDevice.set(id, [...(byDevice.get(id) ?? []), fact]);
    }
    const devices = [...byDevice.values()];
    const complete = await eachLimited(
      devices,
      REACH_CONCURRENCY,
      async (logins) => {
        const { provider, device } = logins[0] as LoginEventFact;
        const accounts = [...new Set(logins.flatMap((login) => (login.account ? [login.account] : [])))];
        if (accounts.length === 0) return;
        const keep = thresholds.accountsPerDevice + 1;
        const known = await addDeviceAccounts(this.client, this.tableName, provider, device, accounts, keep);
        if (known <= thresholds.accountsPerDevice) return;
        for (const day of new Set(logins.map((login) => login.at.slice(0, 10))))
          loginsOf(provider, day).accounts.push(device);
      },
      () => undefined,
    );
    if (!complete) throw new Error("a device's accounts could not be read or written");
  }

  /**
   * Writes down the counter items and provider-day items a fold writes, under the `counted` it moves the state
   * to. A failure is reported and otherwise left: a reader that finds no list reads everything again.
   */
  private async recordChanges(share: FoldShare, counted: number): Promise<void> {
    const changes = {
      counters: share.counters().map((delta) => delta.key),
      providerDays: share.providerDays().map(({ provider, day }) => ({ provider, day })),
    };
    try {
      await this.client.send(
        new UpdateItemCommand(foldChangesUpdate(this.tableName, counted, changes, this.clock())),
        callOptions(),
      );
    } catch (error) {
      this.onRepairError?.({ batch: `fold changes ${counted}` }, error as Error);
    }
  }

  /**
   * Adds a device's new days to its days in each campaign, and what they change in the reach histograms of the
   * campaign-days and of the provider's days to the fold's share; writes the device's days back, naming the
   * fold. A fold taken over starts again from the days before it (`base`).
   * @throws the SDK's error, or when the device's days changed meanwhile (the fold then writes no counter item).
   */
  private async foldDeviceDays(runId: string, device: NewDays, share: FoldShare): Promise<void> {
    const { provider, deviceId, days } = device;
    const known = await readDeviceReach(this.client, this.tableName, provider, deviceId);
    const before = new Map<string, number[]>();
    for (const [campaignId, reach] of known) {
      before.set(campaignId, decodeDays(reach.fold === runId ? reach.base : reach.days));
    }
    const after = new Map(before);
    for (const [campaignId, added] of days) {
      after.set(campaignId, [...new Set([...(before.get(campaignId) ?? []), ...added])]);
    }
    for (const campaignId of days.keys()) {
      const changes = reachChanges(before.get(campaignId) ?? [], after.get(campaignId) ?? []);
      for (const [day, change] of changes) {
        addChange(share.counter({ provider, campaignId, day: dayOfNumber(day) }).reach, change);
      }
    }
    const across = reachChanges([...before.values()].flat(), [...after.values()].flat());
    for (const [day, change] of across)
      addChange(share.providerDay(provider, dayOfNumber(day)).reach, change);
    for (const campaignId of days.keys()) {
      const old = before.get(campaignId) ?? [];
      const next = after.get(campaignId) ?? [];
      if (next.length === old.length) continue;
      const item: DeviceReach = { campaignId, days: encodeDays(next), base: encodeDays(old), fold: runId };
      // Written already by this fold, before a pass took it over: nothing to write again.
      const read = known.get(campaignId);
      if (read?.fold === runId && read.days === item.days) continue;
      const written = await putIf(
        this.client,
        {
          TableName: this.tableName,
          Item: deviceReachItem(provider, deviceId, item),
          ...deviceReachUnchanged(known.get(campaignId)),
        },
        (found) => found?.fold?.S === runId,
      );
      if (!written) throw new Error(`device ${deviceId}'s days changed while the fold wrote them`);
    }
  }

  /**
   * Writes a fold's share into every counter and provider-day item it touches, a few at a time (a pass over
   * thousands of campaign-days ends well within its minute); one item that cannot be written now (throttled,
   * say) does not hold back the others.
   * @returns whether every item has the fold.
   */
  private async writeShare(share: FoldShare, runId: string, summary: RepairSummary): Promise<boolean> {
    const [counters, providerDays] = await Promise.all([
      eachLimited(
        share.counters(),
        FOLD_CONCURRENCY,
        async (delta) => {
          if (await this.foldInto(delta, runId, summary)) summary.written++;
        },
        (delta, error) => {
          summary.failed++;
          this.onRepairError?.(delta.key, error);
        },
      ),
      eachLimited(
        share.providerDays(),
        FOLD_CONCURRENCY,
        async (delta) => {
          await this.foldIntoProviderDay(delta, runId, summary);
        },
        (delta, error) => {
          summary.failed++;
          this.onRepairError?.({ provider: delta.provider, campaignId: '*', day: delta.day }, error);
        },
      ),
    ]);
    return counters && providerDays;
  }

  /**
   * Writes one counter item whole with a fold's share added, unless it already has it.
   * @returns `false` when the item already had this fold.
   */
  private async foldInto(delta: Delta, runId: string, summary: RepairSummary): Promise<boolean> {
    for (let attempt = 1; attempt <= 5; attempt++) {
      const item = await this.read(delta.key);
      if (foldOf(item) === runId) return false;
      const legacyClaims = legacyClaimsOf(item);
      const inserted = [...delta.inserted];
      let devices = delta.devices;
      for (const token of delta.legacy) {
        if (!legacyClaims.has(token)) continue;
        const own = await this.countOwnWrites(token, [{ key: delta.key, name: null }]);
        inserted.push(...own.inserted.map(([, ...fields]) => fields as CounterFields));
        devices += own.devices[0] ?? 0;
        legacyClaims.delete(token);
      }
      const counts: Record<string, number> = {};
      for (const [name, value] of Object.entries(item ?? {})) {
        if (isCountAttribute(name)) counts[name] = Number(value.N ?? 0);
      }
      const signalsBefore = campaignSignalsOf(item);
      const signals = this.nextSignals(signalsBefore, delta.signals);
      // An impression's fold finds no orphan click of its activity here: nothing to write.
      if (delta.signalOnly && (!item || sameSignals(signalsBefore, signals))) return false;
      const before = kindsBefore(item, delta.key.provider);
      const counted = kindsAfter(before, delta);
      const figuresBefore = impressionsAndClicks(before, counts);
      // The item's breakdowns keep their values; new ones are taken while there is room, the rest are "other".
      const budget = new BreakdownBudget(Object.keys(item ?? {}));
      for (const fields of inserted) {
        for (const attribute of counterAttributesOfFields(fields)) {
          const placed = budget.place(attribute);
          counts[placed] = (counts[placed] ?? 0) + 1;
        }
      }
      const next = counterItem(delta.key, {
        types: [...typesOf(item), ...inserted.map(([event]) => event)],
        counts,
        devices: Number(item?.[DEVICES_ATTRIBUTE]?.N ?? 0) + devices,
        reach: changed(reachBefore(item), delta.reach),
        reachSeed: reachSeedOf(item),
        name: delta.name ?? item?.[NAME_ATTRIBUTE]?.S ?? null,
        version: versionOf(item) + 1,
        fold: runId,
        legacyClaims,
        signals: campaignSignalAttributes(signals),
        counted,
      });
      const figuresAfter = impressionsAndClicks(counted, counts);
      // The signals this write raises are noticed before the item records them: a notice's key is what the
      // signal is and its put is conditional, so a fold killed in between and taken over notices nothing twice.
      const change = { key: delta.key, before: signalsBefore, after: signals, figuresBefore, figuresAfter };
      await putNotices(this.client, this.tableName, campaignNotices(change, this.signalThresholds));
      const written = await putIf(
        this.client,
        { TableName: this.tableName, Item: next, ...counterUnchanged(item) },
        (found) => foldOf(found) === runId,
      );
      if (written) {
        const thresholds = this.signalThresholds;
        this.raise(summary, {
          clicks_without_impression: Math.max(0, orphanCount(signals) - orphanCount(signalsBefore)),
          click_bursts: signals.bursts.size - signalsBefore.bursts.size,
          high_ctr: !isHighCtr(figuresBefore, thresholds) && isHighCtr(figuresAfter, thresholds) ? 1 : 0,
        });
        return true;
      }
      // Only a consumer of the earlier protocol, still finishing its batch, writes a counter item besides the
      // fold: read it again.
    }
    throw new Error('the counter item kept changing while the fold wrote it');
  }

  /**
   * Writes one provider-day item whole with a fold's share added, unless it already has it.
   * @returns `false` when the item already had this fold.
   */
  private async foldIntoProviderDay(
    delta: ProviderDelta,
    runId: string,
    summary: RepairSummary,
  ): Promise<boolean> {
    const { Item } = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: providerDayKey(delta.provider, delta.day),
        ConsistentRead: true,
      }),
      callOptions(),
    );
    if (foldOf(Item) === runId) return false;
    // A day counted before histograms were kept: its campaigns' devices so far count as new to any range.
    const seed = Item ? 0 : await this.devicesWithoutReach(delta.provider, delta.day);
    const day: ProviderDay = Item
      ? fromProviderDayItem(Item)
      : {
          provider: delta.provider,
          day: delta.day,
          reach: new Map(),
          received: 0,
          stored: 0,
          duplicates: 0,
          quarantined: 0,
        };
    DELIVERY_FIGURES.forEach((figure, i) => {
      day[figure] += delta.figures[i] ?? 0;
    });
    const before = seed > 0 ? changed(day.reach, new Map([[0, seed]])) : day.reach;
    const signalsBefore = day.signals ?? {
      accounts: new Set<string>(),
      countries: new Set<string>(),
      full: false,
    };
    const signals: LoginSignals = {
      accounts: new Set(signalsBefore.accounts),
      countries: new Set(signalsBefore.countries),
      full: signalsBefore.full,
    };
    if (delta.logins) {
      if (addBounded(signals.accounts, delta.logins.accounts, MAX_FLAGS)) signals.full = true;
      if (addBounded(signals.countries, delta.logins.countries, MAX_FLAGS)) signals.full = true;
    }
    const next = providerDayItem(
      { ...day, reach: changed(before, delta.reach), signals },
      versionOf(Item) + 1,
      runId,
    );
    const logins = { provider: delta.provider, day: delta.day, before: signalsBefore, after: signals };
    await putNotices(this.client, this.tableName, loginNotices(logins, this.signalThresholds));
    const written = await putIf(
      this.client,
      { TableName: this.tableName, Item: next, ...counterUnchanged(Item) },
      (found) => foldOf(found) === runId,
    );
    // The fold alone writes these items, under its lease: another write means another pass took it over.
    if (!written)
      throw new Error(`provider-day ${delta.provider} ${delta.day} changed while the fold wrote it`);
    this.raise(summary, {
      shared_devices: signals.accounts.size - signalsBefore.accounts.size,
      country_hops: signals.countries.size - signalsBefore.countries.size,
    });
    return true;
  }

  /** A campaign-day's signals with a fold's change applied. */
  private nextSignals(before: CampaignSignals, change: CampaignSignalChange | undefined): CampaignSignals {
    const next: CampaignSignals = {
      orphans: new Set(before.orphans),
      orphansOver: before.orphansOver,
      bursts: new Set(before.bursts),
      burstsFull: before.burstsFull,
    };
    if (!change) return next;
    const window = this.signalThresholds.impressionMinutes * 60_000;
    for (const [at, activity] of change.resolves) {
      for (const entry of next.orphans) {
        const orphan = parseOrphan(entry);
        if (orphan.activity === activity && Math.abs(Date.parse(orphan.at) - Date.parse(at)) <= window)
          next.orphans.delete(entry);
      }
    }
    for (const [at, activity] of change.orphans) {
      if (next.orphans.size < MAX_ORPHANS) next.orphans.add(orphanEntry(at, activity));
      else next.orphansOver++;
    }
    if (addBounded(next.bursts, change.bursts, MAX_FLAGS)) next.burstsFull = true;
    return next;
  }

  /** Adds signals raised to a pass's summary (only those it raised: a summary without any has none). */
  private raise(summary: RepairSummary, raised: Partial<SignalCounts>) {
    for (const [name, count] of Object.entries(raised) as [keyof SignalCounts, number][]) {
      if (count <= 0) continue;
      summary.signals ??= noSignals();
      summary.signals[name] += count;
    }
  }

  /**
   * The unique devices of a provider's campaigns on a day that their counter items hold without a histogram
   * (folded before histograms were kept), summed over the campaigns.
   */
  private async devicesWithoutReach(provider: string, day: string): Promise<number> {
    const campaigns = await dayCampaigns(this.client, this.tableName, provider, day);
    const keys = campaigns.map((campaignId) => counterItemKey({ provider, campaignId, day }));
    const items = await getItems(this.client, this.tableName, keys);
    return items.reduce((sum, item) => sum + reachSeedOf(item), 0);
  }

  private async read(key: CounterKey) {
    const { Item } = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: counterItemKey(key), ConsistentRead: true }),
      callOptions(),
    );
    return Item;
  }

  /**
   * Counts a batch left open from its own writes, and closes its entry with the count (so a fold killed
   * after it reads the same again).
   */
  private async recountBatch(entry: BatchEntry): Promise<BatchTally> {
    const tally = await this.countOwnWrites(entry.token, entry.groups, entry.logins);
    if (await this.close(entry.token, tally)) return tally;
    // Closed meanwhile by its own consumer: its count is the same.
    const { Item } = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: batchKey(entry.token),
        ConsistentRead: true,
      }),
      callOptions(),
    );
    const closed = Item ? fromBatchItem(Item).tally : undefined;
    if (!closed) throw new Error(`journal entry ${entry.token} is neither open nor closed`);
    return closed;
  }

  /**
   * What a batch stored for the first time, from its own writes: the records of its campaign-days whose `writer`
   * names it, and the device markers whose `counted` flag it set (for any message of the batch, a duplicate
   * delivery's too). A marker its batch did not get to is flagged now in the name of the batch's record (once: a
   * marker flagged meanwhile by a later delivery counts for that one). Reads are consistent, and the batch is
   * stale: none of its writes can land any more.
   */
  private async countOwnWrites(
    token: string,
    groups: CounterGroup[],
    logins: readonly string[] = [],
  ): Promise<BatchTally> {
    const tally: BatchTally = {
      inserted: [],
      devices: groups.map(() => 0),
      reach: [],
      deliveries: [],
      signals: [],
    };
    const deliveries: Deliveries[] = [];
    const mine = `${token}.`;
    for (const [g, { key, counted: countedTypes }] of groups.entries()) {
      // The types the batch's events counted as when received; an entry of the earlier layout does not say.
      const counted = new Set(countedTypes ?? countedEvents(key.provider));
      const family = campaignDayFamily(key.provider, key.campaignId, key.day);
      // Per device of a counted event: its marker, and the first record of it this batch wrote, if any.
      const devices = new Map<string, { marker: Item; deviceId: string; writer: string | undefined }>();
      for (const pk of shardKeys(family, this.layout)) {
        const items = await this.eventItemsOf(pk);
        for (const item of items) {
          const record = fromEventItem(item);
          const writer = item[WRITER_ATTRIBUTE]?.S;
          const ours = writer?.startsWith(mine) === true;
          if (ours) {
            tally.inserted.push([g, ...counterFieldsOf(record)]);
            const fact = signalFactOf(record, g);
            if (fact) tally.signals?.push(fact);
            deliveries.push([record.provider, record.received_at.slice(0, 10), 1, 1, 0, 0]);
          }
          const marker = counted.has(record.event) ? deviceMarkerItem(record, this.layout) : undefined;
          if (!marker || !record.device_id) continue;
          const id = JSON.stringify([marker.pk?.S, marker.sk?.S]);
          const seen = devices.get(id);
          if (!seen)
            devices.set(id, { marker, deviceId: record.device_id, writer: ours ? writer : undefined });
          else if (ours) seen.writer ??= writer;
        }
      }
      const found = new Map(
        (
          await getItems(
            this.client,
            this.tableName,
            [...devices.values()].map((d) => keyOf(d.marker)),
          )
        ).map((item) => [JSON.stringify([item.pk?.S, item.sk?.S]), item] as const),
      );
      for (const [id, { marker, deviceId, writer }] of devices) {
        const flag = found.get(id)?.[COUNTED_ATTRIBUTE];
        const ours = flag
          ? flag.S?.startsWith(mine) === true
          : writer !== undefined && (await setCountedFlag(this.client, this.tableName, marker, writer));
        if (!ours) continue;
        tally.devices[g] = (tally.devices[g] ?? 0) + 1;
        tally.reach?.push([g, deviceId]);
      }
    }
    tally.deliveries = mergeDeliveries(deliveries);
    tally.signals?.push(...(await this.ownLogins(mine, logins)));
    return tally;
  }

  /** Every event item of one partition, read consistently: what a batch wrote there, to recount it. */
  private eventItemsOf(partitionKey: string): Promise<Item[]> {
    return queryItems(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeNames: { '#pk': RECORDS_TABLE.partitionKey, '#sk': RECORDS_TABLE.sortKey },
      ExpressionAttributeValues: { ':pk': { S: partitionKey }, ':prefix': { S: EVENT_SORT_PREFIX } },
      ConsistentRead: true,
    });
  }

  /** The signal facts of the logins a batch stored for the first time, from its own writes. */
  private async ownLogins(mine: string, families: readonly string[]): Promise<SignalFact[]> {
    const facts: SignalFact[] = [];
    for (const family of families) {
      for (const pk of shardKeys(family, this.layout)) {
        const items = await this.eventItemsOf(pk);
        for (const item of items) {
          if (item[WRITER_ATTRIBUTE]?.S?.startsWith(mine) !== true) continue;
          const record = fromEventItem(item);
          const fact = isLogin(record) ? signalFactOf(record, undefined) : undefined;
          if (fact) facts.push(fact);
        }
      }
    }
    return facts;
  }

  /**
   * Claims of the earlier protocol (a counter item listed for the repair, a claim attribute on it) that are
   * stale, to be settled by this pass's fold; items listed with no claim left are taken off the list.
   */
  private async legacyClaims(now: number, summary: RepairSummary): Promise<FoldRun['legacy']> {
    const index = RECORDS_TABLE.indexes.byDevice;
    const listed = await queryItems(this.client, {
      TableName: this.tableName,
      IndexName: index.name,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': index.partitionKey },
      ExpressionAttributeValues: { ':pk': { S: PENDING_COUNTERS_PARTITION } },
    });
    const settle: FoldRun['legacy'] = [];
    for (const entry of listed) {
      const key = {
        provider: entry.provider?.S ?? '',
        campaignId: entry.campaign_id?.S ?? '',
        day: entry.day?.S ?? entry[RECORDS_TABLE.sortKey]?.S ?? '',
      };
      try {
        const item = await this.read(key);
        if (!item) continue;
        const claims = legacyClaimsOf(item);
        if (claims.size === 0) {
          if (await this.unlist(key, item)) summary.cleared++;
          continue;
        }
        for (const [token, parts] of claims) {
          if (!this.isStale(token, now)) continue;
          // A claim whose counts were applied in part cannot tell which parts: only a whole recount can.
          if (parts > 0) throw new Error(`claim ${token} was applied in part; recount the campaign-day`);
          settle.push([key.provider, key.campaignId, key.day, token]);
        }
      } catch (error) {
        summary.failed++;
        this.onRepairError?.(key, error);
      }
    }
    return settle;
  }

  /** Takes a claim-free item off the earlier protocol's repair list, unless it changed since it was read. */
  private unlist(key: CounterKey, item: Item): Promise<boolean> {
    return updateIf(this.client, unlistUpdate(this.tableName, key, item));
  }
}
