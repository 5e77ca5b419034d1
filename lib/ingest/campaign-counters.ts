import { randomBytes } from 'node:crypto';
import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { findProvider } from '../providers';
import { callOptions, trackUnansweredAttempts } from '../table/deadline';
import {
  BreakdownBudget,
  COUNTED_ATTRIBUTE,
  type CounterKey,
  campaignDayFamily,
  counterAttributesOf,
  counterItemKey,
  DEVICES_ATTRIBUTE,
  deviceMarkerItem,
  EVENT_SORT_PREFIX,
  fromEventItem,
  isCountAttribute,
  NAME_ATTRIBUTE,
  PENDING_COUNTERS_PARTITION,
  pendingCounterSortKey,
  RECORDS_TABLE,
  shardKeys,
  statsDayPartitionKey,
  type TableLayout,
} from '../table/records-table';
import { getItems, type Item, keyOf, queryItems, updateIf } from '../table/table-io';
import { setCountedFlag } from './event-writer';

/**
 * What a batch adds to one campaign-day: first inserts per counter attribute (per event type, and per
 * breakdown value and event type; see `counterAttributesOf`), and devices seen for the first time.
 */
export interface Tally {
  counts: Record<string, number>;
  unique_devices: number;
}

/**
 * Counter attributes written by one update at most: an expression is limited to 4 KB, and `ADD #a12 :a12, `
 * takes 12 characters. A batch with more is applied in several updates (see {@link CampaignCounters.apply}).
 */
const ATTRIBUTES_PER_UPDATE = 200;

/** Settings of {@link CampaignCounters} that only tests and benches change. */
export interface CounterOptions {
  /** Counter attributes per update (default 200). */
  attributesPerUpdate?: number;
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out.length > 0 ? out : [[]];
}

export type { CounterKey };

/**
 * A claim a batch puts on a campaign-day before it writes records: `<epoch ms, base 36>_<random>`. Its time
 * tells when the claim is stale (its batch can no longer be running).
 */
export function newClaimToken(now = Date.now()): string {
  return `${now.toString(36)}_${randomBytes(6).toString('hex')}`;
}

const claimTime = (token: string) => Number.parseInt(token.split('_')[0] ?? '', 36);

/**
 * Claims are top-level attributes, so one update can add one without a map to exist first. A claim's value is
 * the number of parts of its batch's counts applied so far (see {@link CampaignCounters.apply}).
 */
const CLAIM_PREFIX = 'claim_';

const claimsOf = (item: Record<string, AttributeValue> | undefined): string[] =>
  Object.keys(item ?? {})
    .filter((name) => name.startsWith(CLAIM_PREFIX))
    .map((name) => name.slice(CLAIM_PREFIX.length));

/** What a claim found on its counter item: the claims on it, and what its breakdowns may still take. */
export interface Claimed {
  /** Tokens of the claims now on the item, this one included. */
  claims: string[];
  /** The item's breakdown values: a batch counts what it adds within it. */
  budget: BreakdownBudget;
}

const N = (value: number): AttributeValue => ({ N: String(value) });

/** What one repair pass did. */
export interface RepairSummary {
  /** Counter items claimed since the previous pass. */
  checked: number;
  /** Items left with only stale claims, recounted from their records. */
  recounted: number;
  /** Items with no claim left, taken off the list. */
  cleared: number;
  /** Items the pass could not settle (a failed read or write); they stay listed for the next pass. */
  failed: number;
}

/**
 * Exact per campaign-day counters, moved only by first inserts, without transactions.
 *
 * A batch first puts a claim on each campaign-day it touches (`claim_<token>`), then writes its records and
 * device markers with conditional puts, then adds what it stored for the first time and drops its claim in one
 * conditional update: one increment per campaign-day per batch. A batch that dies between the two, or whose
 * writes ended in doubt, leaves its claim behind. Once no batch can still be behind the claim (see
 * {@link CampaignCounters.isStale}), the campaign-day is recounted from its records with consistent reads,
 * which is exact by construction. A recount writes only if no live claim exists and nothing changed since it
 * read (`version`), so it never races a running batch.
 *
 * Nothing waits for traffic to come back: every claim also lists its item in a sparse index, and
 * {@link CampaignCounters.repair}, run on a schedule (every minute in AWS, every few seconds locally), settles
 * what is listed. Read paths only read.
 */
export class CampaignCounters {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly layout: TableLayout,
    readonly staleAfterMs = 60_000,
    private readonly deadBefore = 0,
    private readonly options: CounterOptions = {},
  ) {
    trackUnansweredAttempts(client);
  }

  /** Called with each campaign-day a repair pass could not settle, and why (for the logs). */
  onRepairError?: (key: CounterKey, error: unknown) => void;

  private get attributesPerUpdate() {
    return this.options.attributesPerUpdate ?? ATTRIBUTES_PER_UPDATE;
  }

  /**
   * The one staleness rule: a claim has no batch behind it any more when it is older than any batch runs
   * (`staleAfterMs`, above the consumer's timeout), or when it was made before `deadBefore` (the local stack
   * passes its start time: claims from before are a killed process's).
   * @param token a claim token, which carries the time it was made (see {@link newClaimToken}).
   */
  isStale(token: string, now = Date.now()): boolean {
    const claimedAt = claimTime(token);
    return claimedAt < this.deadBefore || now - claimedAt >= this.staleAfterMs;
  }

  /**
   * Puts a batch's claim on a campaign-day (an attribute `claim_<token>`), creating its counter item if needed
   * and listing it for the repair. Applied twice (a retry), it changes nothing more.
   * @returns the claims now on the item and its breakdown budget.
   */
  async claim(key: CounterKey, token: string, name?: string | null): Promise<Claimed> {
    const byDay = RECORDS_TABLE.indexes.byTypeAndDay;
    const pending = RECORDS_TABLE.indexes.byDevice;
    const output = await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: counterItemKey(key),
        UpdateExpression: `SET #claim = :zero, #kind = :kind, #provider = :provider, #campaign = :campaign, #day = :day, #dpk = :dpk, #dsk = :dsk, #ppk = :ppk, #psk = :psk${name ? ', #name = :name' : ''} ADD #version :one`,
        ExpressionAttributeNames: {
          '#claim': `${CLAIM_PREFIX}${token}`,
          '#kind': 'kind',
          '#provider': 'provider',
          '#campaign': 'campaign_id',
          '#day': 'day',
          '#dpk': byDay.partitionKey,
          '#dsk': byDay.sortKey,
          '#ppk': pending.partitionKey,
          '#psk': pending.sortKey,
          '#version': 'version',
          ...(name ? { '#name': NAME_ATTRIBUTE } : {}),
        },
        ExpressionAttributeValues: {
          ...(name ? { ':name': { S: name } } : {}),
          ':zero': N(0),
          ':kind': { S: 'stats' },
          ':provider': { S: key.provider },
          ':campaign': { S: key.campaignId },
          ':day': { S: key.day },
          ':dpk': { S: statsDayPartitionKey(key.provider, key.day) },
          ':dsk': { S: key.campaignId },
          ':ppk': { S: PENDING_COUNTERS_PARTITION },
          ':psk': { S: pendingCounterSortKey(key.provider, key.campaignId, key.day) },
          ':one': N(1),
        },
        ReturnValues: 'ALL_NEW',
      }),
      callOptions(),
    );
    const claims = claimsOf(output.Attributes);
    // Batches that hold claims together share the room the campaign-day's breakdowns have left.
    return { claims, budget: new BreakdownBudget(Object.keys(output.Attributes ?? {}), claims.length) };
  }

  /**
   * Adds a batch's first inserts and drops its claim. Counts that do not fit one update are applied in parts;
   * each part is conditional on the claim's progress (the parts applied so far) and moves it on, so a part
   * applied whose answer was lost is neither applied again nor lost, and each part moves `version`, so a recount
   * that read the item before it does not write over it.
   * @returns `false` when the claim was gone before its last part (a recount took it over, having counted from
   *   the records).
   */
  async apply(key: CounterKey, token: string, tally: Tally): Promise<boolean> {
    const claim = `${CLAIM_PREFIX}${token}`;
    const parts = chunks(Object.entries(tally.counts), this.attributesPerUpdate);
    for (const [index, part] of parts.entries()) {
      const last = index === parts.length - 1;
      const names: Record<string, string> = { '#claim': claim, '#version': 'version' };
      const values: Record<string, AttributeValue> = { ':done': N(index), ':one': N(1) };
      const adds: string[] = ['#version :one'];
      part.forEach(([attribute, count], i) => {
        names[`#a${i}`] = attribute;
        values[`:a${i}`] = N(count);
        adds.push(`#a${i} :a${i}`);
      });
      if (last) {
        names['#unique'] = DEVICES_ATTRIBUTE;
        values[':u'] = N(tally.unique_devices);
        adds.push('#unique :u');
      } else {
        values[':next'] = N(index + 1);
      }
      const applied = await updateIf(
        this.client,
        {
          TableName: this.tableName,
          Key: counterItemKey(key),
          UpdateExpression: `ADD ${adds.join(', ')} ${last ? 'REMOVE #claim' : 'SET #claim = :next'}`,
          ConditionExpression: '#claim = :done',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        },
        // Found after a retry: this part was applied if the claim moved past it (or, for the last, is gone).
        (found) => (last ? found?.[claim] === undefined : Number(found?.[claim]?.N) === index + 1),
      );
      if (!applied) return false;
    }
    return true;
  }

  /**
   * Recounts a campaign-day from its records when it carries stale claims, unless a live claim (other than
   * `ownToken`, whose writes are settled) is on it. Drops the stale claims and takes the item off the repair
   * list in the same conditional write.
   * @returns `true` when the counters were rewritten.
   */
  async recountIfStale(key: CounterKey, ownToken?: string, now = Date.now()): Promise<boolean> {
    const item = await this.read(key);
    return item ? this.recountItem(key, item, ownToken, now) : false;
  }

  private async read(key: CounterKey) {
    const { Item } = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: counterItemKey(key), ConsistentRead: true }),
      callOptions(),
    );
    return Item;
  }

  /**
   * `true` when some records of `day` may have expired: retention counts from receipt, and an event may be
   * received up to a day before its `created_at` (a sender's clock ahead), so none expires before the day
   * plus the retention minus one day.
   */
  private mayHaveExpired(day: string, now: number): boolean {
    const days = this.layout.retentionDays;
    if (days === null) return false;
    return Date.parse(`${day}T00:00:00.000Z`) + (days - 1) * 86_400_000 <= now;
  }

  private async recountItem(key: CounterKey, item: Item, ownToken: string | undefined, now: number) {
    const claims = claimsOf(item);
    const stale = claims.filter((token) => token === ownToken || this.isStale(token, now));
    if (stale.length === 0 || stale.length < claims.length) return false;

    const tally = await this.countFromRecords(key, new BreakdownBudget(Object.keys(item)));
    // Every counter attribute counted before or now: one no record moves any more is set to 0, not left behind.
    for (const name of Object.keys(item)) if (isCountAttribute(name)) tally.counts[name] ??= 0;
    if (this.mayHaveExpired(key.day, now)) {
      // Records of this day may be gone with their TTL: what is left counts less than what was stored.
      for (const [name, count] of Object.entries(tally.counts)) {
        tally.counts[name] = Math.max(count, Number(item[name]?.N ?? 0));
      }
      tally.unique_devices = Math.max(tally.unique_devices, Number(item[DEVICES_ATTRIBUTE]?.N ?? 0));
    }
    const parts = chunks(Object.entries(tally.counts), this.attributesPerUpdate);
    let version = item.version ?? N(0);
    for (const [index, part] of parts.entries()) {
      const last = index === parts.length - 1;
      const names: Record<string, string> = { '#version': 'version' };
      const values: Record<string, AttributeValue> = { ':one': N(1), ':version': version };
      const sets: string[] = [];
      part.forEach(([attribute, count], i) => {
        names[`#a${i}`] = attribute;
        values[`:a${i}`] = N(count);
        sets.push(`#a${i} = :a${i}`);
      });
      const removes: string[] = [];
      if (last) {
        const pending = RECORDS_TABLE.indexes.byDevice;
        Object.assign(names, {
          '#unique': DEVICES_ATTRIBUTE,
          '#ppk': pending.partitionKey,
          '#psk': pending.sortKey,
        });
        values[':u'] = N(tally.unique_devices);
        sets.push('#unique = :u');
        removes.push('#ppk', '#psk');
        stale.forEach((token, i) => {
          names[`#t${i}`] = `${CLAIM_PREFIX}${token}`;
          removes.push(`#t${i}`);
        });
      }
      // Each part is conditional on nothing having changed since the last: a batch that claims meanwhile stops
      // the recount, and its stale claims stay for the next repair pass, which recounts all of it again.
      const written = await updateIf(this.client, {
        TableName: this.tableName,
        Key: counterItemKey(key),
        UpdateExpression: `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''} ADD #version :one`,
        ConditionExpression: '#version = :version',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      });
      if (!written) return false;
      version = N(Number(version.N ?? 0) + 1);
    }
    return true;
  }

  /**
   * Counts a campaign-day from its stored events, over every shard, with consistent reads: events per type,
   * unique devices as the distinct `device_id`s among its counted events. Device markers are made to match the
   * records first (a batch killed between a record and its marker leaves the marker missing or unflagged), so a
   * later retry of such an event finds its marker flagged and does not count the device a second time.
   */
  async countFromRecords(key: CounterKey, budget = new BreakdownBudget()): Promise<Tally> {
    const raw = new Map<string, number>();
    const counted = findProvider(key.provider)?.counted ?? {};
    const devices = new Map<string, Item>();
    const family = campaignDayFamily(key.provider, key.campaignId, key.day);
    for (const pk of shardKeys(family, this.layout)) {
      const events = await queryItems(this.client, {
        TableName: this.tableName,
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
        ExpressionAttributeNames: { '#pk': RECORDS_TABLE.partitionKey, '#sk': RECORDS_TABLE.sortKey },
        ExpressionAttributeValues: { ':pk': { S: pk }, ':prefix': { S: EVENT_SORT_PREFIX } },
        ConsistentRead: true,
      });
      for (const item of events) {
        const event = item.event?.S ?? '';
        for (const attribute of counterAttributesOf(fromEventItem(item))) {
          raw.set(attribute, (raw.get(attribute) ?? 0) + 1);
        }
        const device = item.device_id?.S;
        if (device && counted[event] && !devices.has(device)) devices.set(device, item);
      }
    }
    // The most frequent values take the room a breakdown has left; the rest are counted as "other".
    const tally: Tally = { counts: {}, unique_devices: 0 };
    for (const [attribute, count] of [...raw.entries()].sort(
      (a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1),
    )) {
      const placed = budget.place(attribute);
      tally.counts[placed] = (tally.counts[placed] ?? 0) + count;
    }
    const markers: Item[] = [];
    for (const item of devices.values()) {
      const marker = deviceMarkerItem(fromEventItem(item), this.layout);
      if (marker) markers.push(marker);
    }
    const flagged = new Set(
      (await getItems(this.client, this.tableName, markers.map(keyOf)))
        .filter((item) => item[COUNTED_ATTRIBUTE] !== undefined)
        .map((item) => JSON.stringify([item.pk?.S, item.sk?.S])),
    );
    for (const marker of markers) {
      if (!flagged.has(JSON.stringify([marker.pk?.S, marker.sk?.S]))) {
        await setCountedFlag(this.client, this.tableName, marker, undefined);
      }
    }
    tally.unique_devices = devices.size;
    return tally;
  }

  /**
   * One repair pass: settles every counter item claimed since the previous pass. An item whose claims are all
   * stale is recounted from its records; an item with no claim left is taken off the list (unless a batch
   * claimed it meanwhile); an item with a live claim stays listed for the next pass.
   * @returns what the pass did.
   * @throws the SDK's error when the list cannot be read; the next pass starts over.
   */
  async repair(now = Date.now()): Promise<RepairSummary> {
    const index = RECORDS_TABLE.indexes.byDevice;
    const listed = await queryItems(this.client, {
      TableName: this.tableName,
      IndexName: index.name,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': index.partitionKey },
      ExpressionAttributeValues: { ':pk': { S: PENDING_COUNTERS_PARTITION } },
    });
    const summary: RepairSummary = { checked: listed.length, recounted: 0, cleared: 0, failed: 0 };
    for (const entry of listed) {
      const key = {
        provider: entry.provider?.S ?? '',
        campaignId: entry.campaign_id?.S ?? '',
        day: entry[RECORDS_TABLE.sortKey]?.S ?? '',
      };
      // One campaign-day that cannot be settled now (throttled, say) must not hold back the others.
      try {
        const item = await this.read(key);
        if (!item) continue;
        if (claimsOf(item).length > 0) {
          if (await this.recountItem(key, item, undefined, now)) summary.recounted++;
        } else if (await this.unlist(key, item)) {
          summary.cleared++;
        }
      } catch (error) {
        summary.failed++;
        this.onRepairError?.(key, error);
      }
    }
    return summary;
  }

  /** Takes a claim-free item off the repair list, unless a batch claimed it since it was read. */
  private unlist(key: CounterKey, item: Item): Promise<boolean> {
    const pending = RECORDS_TABLE.indexes.byDevice;
    return updateIf(this.client, {
      TableName: this.tableName,
      Key: counterItemKey(key),
      UpdateExpression: 'REMOVE #ppk, #psk',
      ConditionExpression: '#version = :version',
      ExpressionAttributeNames: {
        '#ppk': pending.partitionKey,
        '#psk': pending.sortKey,
        '#version': 'version',
      },
      ExpressionAttributeValues: { ':version': item.version ?? N(0) },
    });
  }
}
