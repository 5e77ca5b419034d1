import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import type { CountedKind, CountedKinds } from '../events/event-record';
import { callOptions } from './deadline';
import type { SignalFact } from './journal-facts';
import { histogramAttribute, REACH_ATTRIBUTE, REACH_SEED_ATTRIBUTE, type ReachHistogram } from './reach';
import {
  COUNT_PREFIX,
  type CounterFields,
  type CounterKey,
  counterItemKey,
  DEVICES_ATTRIBUTE,
  isCountAttribute,
  NAME_ATTRIBUTE,
  PENDING_COUNTERS_PARTITION,
  pendingCounterSortKey,
  RECORDS_TABLE,
  statsDayPartitionKey,
  TTL_ATTRIBUTE,
  TYPES_ATTRIBUTE,
} from './records-table';
import { getItems, type Item, queryItems } from './table-io';

/**
 * The items behind the counters besides the counter items themselves: a journal entry per consumer batch, and
 * the state of the pass that folds the journal into the counter items.
 *
 * | item                                   | partition key  | sort key  |
 * |----------------------------------------|----------------|-----------|
 * | a consumer batch's journal entry       | `STATS#BATCH`  | `<token>` |
 * | the fold's state                       | `STATS#FOLD`   | `STATE`   |
 * | what the fold that moved `counted` to n wrote | `STATS#FOLD` | `CHANGES#<n>` |
 *
 * A batch's token begins with its time (see `newClaimToken`), so the journal is sorted by when batches began
 * and the fold reads it from its watermark on.
 */
export const BATCH_PARTITION = 'STATS#BATCH';
const FOLD_STATE_KEY: Item = {
  [RECORDS_TABLE.partitionKey]: { S: 'STATS#FOLD' },
  [RECORDS_TABLE.sortKey]: { S: 'STATE' },
};

/**
 * Journal entries outlive the fold by far (a repair down for two weeks still finds them, as the DLQ keeps its
 * messages as long), then DynamoDB deletes them for free (TTL).
 */
const BATCH_TTL_SECONDS = 14 * 86_400;

/** The attributes of a counter item that a fold writes: the counts, unique devices, name, version, fold. */
const VERSION_ATTRIBUTE = 'version';
const FOLD_ATTRIBUTE = 'fold';
/** The fold state's attribute that moves only when counts were written (see `FoldState.counted`). */
const COUNTED_VERSION_ATTRIBUTE = 'counted';
/** A claim of the earlier protocol, where each batch claimed and updated the counter items itself. */
export const LEGACY_CLAIM_PREFIX = 'claim_';

const S = (value: string): AttributeValue => ({ S: value });
const N = (value: number): AttributeValue => ({ N: String(value) });

/** A campaign-day a batch touches, with the campaign's name as the batch had it. */
export interface CounterGroup {
  key: CounterKey;
  name: string | null;
  /**
   * The batch's event types of the campaign-day that count, as their policy said when received (the repair
   * recounts a killed batch by them); absent in entries of the earlier layout.
   */
  counted?: string[];
  /**
   * What the batch's counted event types of the campaign-day count as, as their policy said when received (the
   * fold signals and counts the campaign-day by them); absent in entries of the earlier layout.
   */
  kinds?: CountedKinds;
  /** The impression types the batch's clicks of the campaign-day are matched with, as received. */
  pairs?: string[];
}

/** One first insert of a batch: the index of its group, then what the counters read of it. */
export type Inserted = [group: number, ...fields: CounterFields];

/** A device a batch counted on a new day in a campaign: the index of its group, and the device. */
export type NewDevice = [group: number, deviceId: string];

/** What a batch's deliveries of one provider, received on one UTC day, came to (see `ProviderDay`). */
export type Deliveries = [provider: string, day: string, ...figures: [number, number, number, number]];

/**
 * What a batch stored for the first time: its first inserts, and the devices new per group (by index); which
 * devices those are (for the reach histograms); and its deliveries per provider and day. Entries of the earlier
 * layout have neither of the last two.
 */
export interface BatchTally {
  inserted: Inserted[];
  devices: number[];
  reach?: NewDevice[];
  deliveries?: Deliveries[];
  /** What the fraud and quality signals read of its first inserts (see `SignalFact`); absent before they were kept. */
  signals?: SignalFact[];
}

/** A journal entry as read back. */
export interface BatchEntry {
  token: string;
  groups: CounterGroup[];
  /** `undefined` while the batch is open (running, or killed before it closed). */
  tally: BatchTally | undefined;
  /** The partition families (without shard) of the batch's logins, which a recount reads besides its groups. */
  logins?: string[];
}

/** The key of a batch's journal entry. */
export const batchKey = (token: string): Item => ({
  [RECORDS_TABLE.partitionKey]: S(BATCH_PARTITION),
  [RECORDS_TABLE.sortKey]: S(token),
});

/** The journal entry a batch opens before its first write: which campaign-days it may count. */
export function openBatchItem(
  token: string,
  groups: CounterGroup[],
  now = Date.now(),
  logins: readonly string[] = [],
): Item {
  return {
    ...(logins.length > 0 ? { logins: { SS: [...new Set(logins)] } } : {}),
    ...batchKey(token),
    kind: S('batch'),
    groups: S(
      JSON.stringify(
        groups.map((g) => [
          g.key.provider,
          g.key.campaignId,
          g.key.day,
          g.name,
          ...(g.counted || g.kinds ? [g.counted ?? []] : []),
          ...(g.kinds ? [g.kinds, g.pairs ?? []] : []),
        ]),
      ),
    ),
    [TTL_ATTRIBUTE]: N(Math.floor(now / 1000) + BATCH_TTL_SECONDS),
  };
}

/** The update that closes a batch's journal entry with what it stored, once, while it is open. */
export function closeBatchUpdate(tableName: string, token: string, tally: BatchTally) {
  return {
    TableName: tableName,
    Key: batchKey(token),
    UpdateExpression: 'SET #tally = :tally',
    ConditionExpression: 'attribute_exists(#pk) AND attribute_not_exists(#tally)',
    ExpressionAttributeNames: { '#tally': 'tally', '#pk': RECORDS_TABLE.partitionKey },
    ExpressionAttributeValues: {
      ':tally': S(
        JSON.stringify([
          tally.inserted,
          tally.devices,
          tally.reach ?? [],
          tally.deliveries ?? [],
          ...(tally.signals?.length ? [tally.signals] : []),
        ]),
      ),
    },
  };
}

/** The query input that reads the journal from `watermark` on, oldest batch first. */
export function journalQuery(tableName: string, watermark: string) {
  return {
    TableName: tableName,
    KeyConditionExpression: '#pk = :pk AND #sk >= :from',
    ExpressionAttributeNames: { '#pk': RECORDS_TABLE.partitionKey, '#sk': RECORDS_TABLE.sortKey },
    ExpressionAttributeValues: { ':pk': S(BATCH_PARTITION), ':from': S(watermark) },
    ConsistentRead: true,
  };
}

/** @returns the journal entry an item holds. */
export function fromBatchItem(item: Item): BatchEntry {
  const groups = (
    JSON.parse(item.groups?.S ?? '[]') as [
      string,
      string,
      string,
      string | null,
      string[]?,
      Record<string, CountedKind>?,
      string[]?,
    ][]
  ).map(([provider, campaignId, day, name, counted, kinds, pairs]) => ({
    key: { provider, campaignId, day },
    name,
    ...(counted ? { counted } : {}),
    ...(kinds ? { kinds: countedKindsFrom(kinds), pairs: pairs ?? [] } : {}),
  }));
  const tally = item.tally?.S;
  const [inserted, devices, reach, deliveries, signals] = tally
    ? (JSON.parse(tally) as [Inserted[], number[], NewDevice[]?, Deliveries[]?, SignalFact[]?])
    : [[], []];
  return {
    token: item[RECORDS_TABLE.sortKey]?.S ?? '',
    groups,
    tally: tally
      ? { inserted, devices, reach: reach ?? [], deliveries: deliveries ?? [], signals: signals ?? [] }
      : undefined,
    ...(item.logins?.SS ? { logins: item.logins.SS } : {}),
  };
}

/**
 * The fold's state: the journal before `watermark` is folded, bar the tokens in `pending` (batches still open,
 * or not yet folded); from the watermark on, the tokens in `folded` are folded. `run` is the fold under way,
 * written before it touches a counter item so that a fold killed half-way is finished, not repeated. The lists
 * stay short: `folded` holds only the last seconds' batches, `pending` those still running or failing.
 */
export interface FoldState {
  watermark: string;
  folded: string[];
  pending: string[];
  run: FoldRun | undefined;
  version: number;
  /**
   * Moves when a fold has written counts (done, or released after writing some); a pass that folds nothing
   * leaves it: counts read at one value are the table's until it moves.
   */
  counted: number;
}

/** A fold under way: its id (each counter item it wrote says so), when it began, and the batches it folds. */
export interface FoldRun {
  id: string;
  /** Epoch ms, by the clock of the pass that began it. */
  started: number;
  tokens: string[];
  /** Claims of the earlier protocol it settles: campaign-day and claim token. */
  legacy: [provider: string, campaignId: string, day: string, token: string][];
}

/** The key of the fold state's item, a fresh copy each call so that no caller can change the shared one. */
export const foldStateKey = () => ({ ...FOLD_STATE_KEY });

/** @returns the fold state an item holds (the initial state for none). */
export function fromFoldStateItem(item: Item | undefined): FoldState {
  return {
    // DynamoDB refuses an empty string in a key condition; every token sorts after "0".
    watermark: item?.watermark?.S ?? '0',
    folded: item?.folded?.SS ?? [],
    pending: item?.pending?.SS ?? [],
    run: item?.run?.S ? (JSON.parse(item.run.S) as FoldRun) : undefined,
    version: Number(item?.[VERSION_ATTRIBUTE]?.N ?? 0),
    counted: Number(item?.[COUNTED_VERSION_ATTRIBUTE]?.N ?? 0),
  };
}

/** The fold state as an item (a string set cannot be empty, so no `folded` when there is none). */
export function foldStateItem(state: FoldState): Item {
  const item: Item = {
    ...FOLD_STATE_KEY,
    kind: S('fold'),
    watermark: S(state.watermark),
    [VERSION_ATTRIBUTE]: N(state.version),
    [COUNTED_VERSION_ATTRIBUTE]: N(state.counted),
  };
  if (state.folded.length > 0) item.folded = { SS: [...new Set(state.folded)] };
  if (state.pending.length > 0) item.pending = { SS: [...new Set(state.pending)] };
  if (state.run) item.run = S(JSON.stringify(state.run));
  return item;
}

/** A condition expression with its names and values. */
export interface Condition {
  ConditionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues?: Record<string, AttributeValue>;
}

/** The condition under which the fold state written last is still the one in the table. */
export function stateUnchanged(version: number): Condition {
  return version === 0
    ? {
        ConditionExpression: 'attribute_not_exists(#v)',
        ExpressionAttributeNames: { '#v': VERSION_ATTRIBUTE },
      }
    : {
        ConditionExpression: '#v = :v',
        ExpressionAttributeNames: { '#v': VERSION_ATTRIBUTE },
        ExpressionAttributeValues: { ':v': N(version) },
      };
}

/** @returns the id of the fold that last wrote a counter item. */
export const foldOf = (item: Item | undefined) => item?.[FOLD_ATTRIBUTE]?.S;
/** @returns a counter item's version (0 for none). */
export const versionOf = (item: Item | undefined) => Number(item?.[VERSION_ATTRIBUTE]?.N ?? 0);

/** @returns the claims of the earlier protocol on a counter item, with the parts each has applied. */
export function legacyClaimsOf(item: Item | undefined): Map<string, number> {
  const claims = new Map<string, number>();
  for (const [name, value] of Object.entries(item ?? {})) {
    if (name.startsWith(LEGACY_CLAIM_PREFIX))
      claims.set(name.slice(LEGACY_CLAIM_PREFIX.length), Number(value.N ?? 0));
  }
  return claims;
}

/**
 * A counter item as a fold writes it whole: its keys and index keys, the counts, unique devices, the campaign's
 * name, the version after this write, the fold that wrote it, and any claim of the earlier protocol still
 * standing (with its listing for the repair).
 */
export function counterItem(
  key: CounterKey,
  content: {
    counts: Record<string, number>;
    devices: number;
    name: string | null;
    version: number;
    fold: string;
    legacyClaims: Map<string, number>;
    /** The campaign-day's reach histogram (see `reach.ts`). */
    reach?: ReachHistogram;
    /** The devices it held before histograms were kept (see `REACH_SEED_ATTRIBUTE`). */
    reachSeed?: number;
    /** The event types the campaign-day has stored (see {@link registerUpdate}). */
    types?: Iterable<string>;
    /** The campaign-day's fraud and quality signals, as attributes (see `campaignSignalAttributes`). */
    signals?: Item;
    /** What its counted event types count as, as received (see {@link countedKindsOfItem}). */
    counted?: CountedKinds;
  },
): Item {
  const byDay = RECORDS_TABLE.indexes.byTypeAndDay;
  const item: Item = {
    ...counterItemKey(key),
    kind: S('stats'),
    provider: S(key.provider),
    campaign_id: S(key.campaignId),
    day: S(key.day),
    [byDay.partitionKey]: S(statsDayPartitionKey(key.provider, key.day)),
    [byDay.sortKey]: S(key.campaignId),
    [DEVICES_ATTRIBUTE]: N(content.devices),
    [VERSION_ATTRIBUTE]: N(content.version),
    [FOLD_ATTRIBUTE]: S(content.fold),
  };
  if (content.name) item[NAME_ATTRIBUTE] = S(content.name);
  if (content.reach && content.reach.size > 0) item[REACH_ATTRIBUTE] = histogramAttribute(content.reach);
  if (content.reachSeed) item[REACH_SEED_ATTRIBUTE] = N(content.reachSeed);
  // A counted type is a stored one.
  const counted = Object.keys(content.counts)
    .filter((name) => name.startsWith(COUNT_PREFIX))
    .map((name) => name.slice(COUNT_PREFIX.length));
  const types = [...new Set([...(content.types ?? []), ...counted])].sort();
  if (types.length > 0) item[TYPES_ATTRIBUTE] = { SS: types };
  for (const [name, count] of Object.entries(content.counts))
    if (isCountAttribute(name)) item[name] = N(count);
  for (const [token, parts] of content.legacyClaims) item[`${LEGACY_CLAIM_PREFIX}${token}`] = N(parts);
  Object.assign(item, content.signals ?? {});
  if (content.counted) item[COUNTED_KINDS_ATTRIBUTE] = S(JSON.stringify(sortedKinds(content.counted)));
  if (content.legacyClaims.size > 0) {
    // Still listed for the repair, which settles those claims once they are stale.
    const pending = RECORDS_TABLE.indexes.byDevice;
    item[pending.partitionKey] = S(PENDING_COUNTERS_PARTITION);
    item[pending.sortKey] = S(pendingCounterSortKey(key.provider, key.campaignId, key.day));
  }
  return item;
}

/**
 * The update a batch makes, once per campaign-day and event type a container has not seen, before the repair
 * counts anything: it creates the counter item if need be and adds the type to its `types`, so the read paths,
 * which find a campaign's records through its counter items, find them as soon as they are stored. It moves
 * `version`, so a fold that read the item before it writes again.
 */
export function registerUpdate(tableName: string, key: CounterKey, name: string | null, types: string[]) {
  const byDay = RECORDS_TABLE.indexes.byTypeAndDay;
  return {
    TableName: tableName,
    Key: counterItemKey(key),
    UpdateExpression: `SET #kind = :kind, #provider = :provider, #campaign = :campaign, #day = :day, #dpk = :dpk, #dsk = :dsk${name ? ', #name = :name' : ''} ADD #types :types, #version :one`,
    ExpressionAttributeNames: {
      '#kind': 'kind',
      '#provider': 'provider',
      '#campaign': 'campaign_id',
      '#day': 'day',
      '#dpk': byDay.partitionKey,
      '#dsk': byDay.sortKey,
      '#types': TYPES_ATTRIBUTE,
      '#version': VERSION_ATTRIBUTE,
      ...(name ? { '#name': NAME_ATTRIBUTE } : {}),
    },
    ExpressionAttributeValues: {
      ':kind': S('stats'),
      ':provider': S(key.provider),
      ':campaign': S(key.campaignId),
      ':day': S(key.day),
      ':dpk': S(statsDayPartitionKey(key.provider, key.day)),
      ':dsk': S(key.campaignId),
      ':types': { SS: types },
      ':one': N(1),
      ...(name ? { ':name': S(name) } : {}),
    },
  };
}

/**
 * The attribute of a counter item (JSON, written whole by every fold, `{}` for none) that says what its counted
 * event types count as, as each batch's events were received: the high-CTR signal reads its counts by it, so a
 * provider's counted map changed later changes nothing about the campaign-days counted before.
 */
const COUNTED_KINDS_ATTRIBUTE = 'counted_kinds';

/** Only the two kinds, under names that are a sender's data (never an inherited property). */
function countedKindsFrom(value: unknown): CountedKinds {
  if (typeof value !== 'object' || value === null) return {};
  return Object.fromEntries(
    Object.entries(value).filter(([, kind]) => kind === 'impressions' || kind === 'clicks'),
  );
}

const sortedKinds = (kinds: CountedKinds) =>
  Object.fromEntries(Object.entries(kinds).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/**
 * What a counter item's counted event types count as, `undefined` for an item no fold wrote since items said
 * (the caller falls back to the provider's current code for the types it counted before).
 */
export function countedKindsOfItem(item: Item | undefined): CountedKinds | undefined {
  const value = item?.[COUNTED_KINDS_ATTRIBUTE]?.S;
  return value === undefined ? undefined : countedKindsFrom(JSON.parse(value));
}

/** @returns the event types a counter item lists as stored. */
export const typesOf = (item: Item | undefined): string[] => item?.[TYPES_ATTRIBUTE]?.SS ?? [];

/** The condition under which a counter item is still as a fold read it. */
export function counterUnchanged(item: Item | undefined): Condition {
  return item === undefined
    ? {
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': RECORDS_TABLE.partitionKey },
      }
    : item[VERSION_ATTRIBUTE] === undefined
      ? {
          ConditionExpression: 'attribute_exists(#pk) AND attribute_not_exists(#v)',
          ExpressionAttributeNames: { '#pk': RECORDS_TABLE.partitionKey, '#v': VERSION_ATTRIBUTE },
        }
      : {
          ConditionExpression: '#v = :v',
          ExpressionAttributeNames: { '#v': VERSION_ATTRIBUTE },
          ExpressionAttributeValues: { ':v': item[VERSION_ATTRIBUTE] as AttributeValue },
        };
}

/**
 * The update that takes a claim-free counter item off the earlier protocol's repair list, unless it changed
 * since it was read.
 */
export function unlistUpdate(tableName: string, key: CounterKey, item: Item | undefined) {
  const pending = RECORDS_TABLE.indexes.byDevice;
  const condition = counterUnchanged(item);
  return {
    TableName: tableName,
    Key: counterItemKey(key),
    UpdateExpression: 'REMOVE #ppk, #psk',
    ...condition,
    ExpressionAttributeNames: {
      ...condition.ExpressionAttributeNames,
      '#ppk': pending.partitionKey,
      '#psk': pending.sortKey,
    },
  };
}

/**
 * The items a fold wrote counts into, kept under the fold state's `counted` it moved to, so that a reader holding
 * the counted items of the `counted` before re-reads only these. A fold of more than {@link MAX_FOLD_CHANGES}
 * items says `whole` (read everything again): the list stays well under DynamoDB's 400 KB item.
 */
export interface FoldChanges {
  counters: CounterKey[];
  providerDays: { provider: string; day: string }[];
  whole: boolean;
}

/** The most items a fold's changes name one by one (more say `whole`): within DynamoDB's 400 KB item cap. */
export const MAX_FOLD_CHANGES = 2_000;
/** A day: a reader more than a fold behind reads everything again anyway. */
const FOLD_CHANGES_TTL_SECONDS = 86_400;
const foldChangesKey = (counted: number): Item => ({
  [RECORDS_TABLE.partitionKey]: FOLD_STATE_KEY[RECORDS_TABLE.partitionKey] as AttributeValue,
  [RECORDS_TABLE.sortKey]: S(`CHANGES#${counted}`),
});

/**
 * The update recording what a fold wrote under the `counted` it moves the state to, sent before the state.
 * Entries go into a string set with `ADD`: a late pass of the same fold (taken over) adds the same entries, and a
 * union only ever names more items than were written, which a reader reads again for nothing.
 */
export function foldChangesUpdate(
  tableName: string,
  counted: number,
  changes: Omit<FoldChanges, 'whole'>,
  now: number,
): UpdateItemCommandInput {
  const entries = [
    ...changes.counters.map((key) => JSON.stringify(['c', key.provider, key.campaignId, key.day])),
    ...changes.providerDays.map(({ provider, day }) => JSON.stringify(['p', provider, day])),
  ];
  const whole = entries.length > MAX_FOLD_CHANGES;
  const values: Record<string, AttributeValue> = {
    ':kind': S('fold-changes'),
    ':expires': N(Math.floor(now / 1000) + FOLD_CHANGES_TTL_SECONDS),
  };
  if (whole) values[':whole'] = { BOOL: true };
  else if (entries.length > 0) values[':entries'] = { SS: entries };
  const set = ['#kind = :kind', '#expires = :expires', ...(whole ? ['#whole = :whole'] : [])];
  return {
    TableName: tableName,
    Key: foldChangesKey(counted),
    UpdateExpression: `SET ${set.join(', ')}${values[':entries'] ? ' ADD #entries :entries' : ''}`,
    ExpressionAttributeNames: {
      '#kind': 'kind',
      '#expires': TTL_ATTRIBUTE,
      ...(whole ? { '#whole': 'whole' } : {}),
      ...(values[':entries'] ? { '#entries': 'entries' } : {}),
    },
    ExpressionAttributeValues: values,
  };
}

/**
 * What the folds that moved `counted` to each of `versions` wrote, read consistently (a reader relies on them to
 * leave every other item as it read it).
 * @returns `undefined` when one of them is not found (expired, or written by a version that did not keep them):
 *   the reader then reads everything again.
 */
export async function readFoldChanges(
  client: DynamoDBClient,
  tableName: string,
  versions: number[],
): Promise<FoldChanges | undefined> {
  const found = await getItems(client, tableName, versions.map(foldChangesKey), true);
  if (found.length !== versions.length) return undefined;
  const changes: FoldChanges = { counters: [], providerDays: [], whole: false };
  // Folds in a row often write the same items: each is named once (a batch read refuses a key named twice).
  const seen = new Set<string>();
  for (const item of found) {
    if (item.whole?.BOOL) changes.whole = true;
    for (const entry of item.entries?.SS ?? []) {
      if (seen.has(entry)) continue;
      seen.add(entry);
      const [kind, provider, ...rest] = JSON.parse(entry) as string[];
      if (kind === 'c')
        changes.counters.push({ provider: provider ?? '', campaignId: rest[0] ?? '', day: rest[1] ?? '' });
      else changes.providerDays.push({ provider: provider ?? '', day: rest[0] ?? '' });
    }
  }
  return changes;
}

/**
 * The fold state's `counted` (eventually consistent, half a read unit for a state of up to 8 KB): it moves
 * whenever a fold has written counts, so counts read at one value are the table's until it moves.
 * @returns `undefined` before any fold.
 */
export async function foldStateVersion(
  client: DynamoDBClient,
  tableName: string,
): Promise<number | undefined> {
  const { Item } = await client.send(
    new GetItemCommand({
      TableName: tableName,
      Key: FOLD_STATE_KEY,
      ProjectionExpression: '#v, #c',
      ExpressionAttributeNames: { '#v': VERSION_ATTRIBUTE, '#c': COUNTED_VERSION_ATTRIBUTE },
    }),
    callOptions(),
  );
  if (Item?.[VERSION_ATTRIBUTE]?.N === undefined) return undefined;
  return Number(Item[COUNTED_VERSION_ATTRIBUTE]?.N ?? 0);
}

/** The campaigns with a counter item on one day of a provider, as the day index lists them (keys only). */
export async function dayCampaigns(
  client: DynamoDBClient,
  tableName: string,
  provider: string,
  day: string,
): Promise<string[]> {
  const index = RECORDS_TABLE.indexes.byTypeAndDay;
  const listed = await queryItems(client, {
    TableName: tableName,
    IndexName: index.name,
    KeyConditionExpression: '#pk = :pk',
    ProjectionExpression: '#sk',
    ExpressionAttributeNames: { '#pk': index.partitionKey, '#sk': index.sortKey },
    ExpressionAttributeValues: { ':pk': { S: statsDayPartitionKey(provider, day) } },
  });
  return listed.map((item) => item[index.sortKey]?.S ?? '');
}
