// The device-marker cache over a whole day of traffic: how many markDevice calls it answers without a write, at
// the cache size the consumer takes in a function of the given memory, for the workload's devices and campaigns
// at a given rate.
//
// The cache is the consumer's own (EventWriter and its MarkerCache, sized as in Lambda); only the
// table is played by a stand-in that answers marker writes as DynamoDB would (a counted flag set once per
// device, campaign and day; a second attempt fails its condition). A local DynamoDB-API server would take hours
// for a day of traffic, and the cache's answers do not depend on how fast the table is.
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { EventRecord } from '../lib/events/event-record';
import { EventWriter, MarkerCache, markerCacheSizeFor } from '../lib/ingest/event-writer';
import { campaignId, DEPLOYED_LAYOUT, type Draw, drawer, random, type Workload } from './workload';

/** Deliveries through the consumer's writers at most (then through their caches alone, see below). */
const MAX_SIMULATED_DELIVERIES = 1_250_000;

/**
 * The process function's memory when the stack is deployed with its defaults, MB (the stack's construct sets it;
 * a caller that reads the synthesized stack passes what it finds).
 */
export const DEFAULT_PROCESS_MEMORY_MB = 512;

export interface MarkerCacheFigures {
  workload: string;
  devices: number;
  ratePerSecond: number;
  /** Process containers the deliveries were spread over, each with its own cache. */
  containers: number;
  /** The function memory the cache was sized for, MB, and the markers it holds at that size. */
  memoryMb: number;
  cacheEntries: number;
  /** Deliveries simulated, and what a whole day holds. */
  simulatedDeliveries: number;
  deliveriesPerDay: number;
  /** markDevice calls answered from the cache, over the day. */
  hitRate: number;
  /** Marker writes sent to the table per stored (distinct) event, over the day. */
  markerWritesPerStored: number;
  /** Markers in the table at the end of the day per stored event (what storage keeps). */
  markersStoredPerStored: number;
  /** Over the last fifth of the deliveries counted, when the cache is in its steady state. */
  steadyHitRate: number;
  /** How the day's figures were reached. */
  method: string;
}

/** FNV-1a, 52 bits: a marker's key in the stand-in table, without keeping millions of strings. */
function hash(text: string): number {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
  }
  return (h2 & 0xfffff) * 4_294_967_296 + h1;
}

/** The table, as far as device markers go: which exist, which carry their counted flag. */
export function standInTable() {
  const exists = new Set<number>();
  const counted = new Set<number>();
  let writes = 0;
  const client = {
    async send(command: unknown) {
      writes++;
      if (command instanceof UpdateItemCommand || command instanceof PutItemCommand) {
        const input = command.input as {
          Key?: Record<string, { S?: string }>;
          Item?: Record<string, { S?: string }>;
          ConditionExpression?: string;
        };
        const key = input.Key ?? input.Item ?? {};
        const id = hash(`${key.pk?.S}\u0000${key.sk?.S}`);
        const setsFlag = command instanceof UpdateItemCommand;
        const refused = setsFlag ? counted.has(id) : exists.has(id);
        if (refused && input.ConditionExpression) {
          throw new ConditionalCheckFailedException({
            message: 'The conditional request failed',
            $metadata: { attempts: 1, httpStatusCode: 400 },
          });
        }
        exists.add(id);
        if (setsFlag) counted.add(id);
        return {};
      }
      throw new Error(`the marker stand-in answers marker writes only, not ${String(command)}`);
    },
    // Middleware the consumer adds to its client has nothing to act on here: every answer is immediate.
    middlewareStack: { add() {} },
    destroy() {},
  };
  return {
    client: client as unknown as DynamoDBClient,
    get writes() {
      return writes;
    },
    get markers() {
      return exists.size;
    },
  };
}

export interface MarkerCacheOptions {
  workload: Workload;
  /** Process containers the deliveries are spread over, each with its own cache. */
  containers: number;
  /** Deliveries per batch (a batch goes to one container), as the event source forms them. */
  meanBatch: number;
  /** Overrides the workload's devices (e.g. 1,000,000). */
  devices?: number;
  /** The process function's memory, which sizes each container's cache (default {@link DEFAULT_PROCESS_MEMORY_MB}). */
  memoryMb?: number;
  /** The rates whose day the figures are for. */
  rates: readonly number[];
  /** Deliveries simulated at most (default {@link MAX_SIMULATED_DELIVERIES}). */
  maxDeliveries?: number;
  seed?: number;
}

interface Tally {
  deliveries: number;
  distinct: number;
  hits: number;
  writes: number;
  markers: number;
}

/** A rate is of deliveries, duplicates included, as the webhook and the queue see them. */
const deliveriesPerDay = (rate: number) => Math.round(rate * 86_400);

/** Deliveries counted at most, through the consumer's writers and then through their caches alone (see below). */
const MAX_COUNTED_DELIVERIES = 30_000_000;

/** How often the running tally is kept, in deliveries (the last fifth's rates are read from these). */
const SNAPSHOT_EVERY = 10_000;

/** A set of small integers, one bit each, that knows its size. */
function bitSet(size: number) {
  const bits = new Uint8Array(Math.ceil(size / 8));
  let count = 0;
  return {
    add(n: number): void {
      const byte = n >>> 3;
      const bit = 1 << (n & 7);
      if ((bits[byte] as number) & bit) return;
      bits[byte] = (bits[byte] as number) | bit;
      count++;
    },
    get size() {
      return count;
    },
  };
}

/**
 * Runs the workload's deliveries (duplicates included, each within 1,000 events of its first) through real
 * EventWriters, one per container, batches dealt to containers in turn, from the start of a day: as many as
 * the busiest rate's day holds, or {@link MAX_SIMULATED_DELIVERIES}.
 *
 * Beside each writer runs a cache of its own size and kind fed a short key per marker: a least-recently-used
 * cache answers by the order of its keys' uses alone (every event here is counted, so every marker it holds
 * carries its flag), so it hits exactly when the writer's does, which every delivery through the writers checks. The day then goes on through those caches alone, a miss counted as the
 * marker write it would be, until the busiest day ends or {@link MAX_COUNTED_DELIVERIES}. A rate whose day was
 * reached is read where its day ends; for a longer day, the day's marker writes are those counted plus the rest
 * of the day at the miss rate of the last fifth counted (new markers come rarer as the day goes on, so this errs
 * high).
 */
export async function measureMarkerCache(options: MarkerCacheOptions): Promise<MarkerCacheFigures[]> {
  const workload = { ...options.workload, devices: options.devices ?? options.workload.devices };
  const days = options.rates.map((rate) => deliveriesPerDay(rate));
  const busiestDay = Math.max(...days);
  const simulated = Math.min(busiestDay, options.maxDeliveries ?? MAX_SIMULATED_DELIVERIES);
  const table = standInTable();
  const memoryMb = options.memoryMb ?? DEFAULT_PROCESS_MEMORY_MB;
  // The size the consumer's writer takes in Lambda, where AWS_LAMBDA_FUNCTION_MEMORY_SIZE tells it the memory.
  const writers = Array.from(
    { length: options.containers },
    () => new EventWriter(table.client, 'markers', DEPLOYED_LAYOUT, markerCacheSizeFor(memoryMb)),
  );
  const cacheEntries = (writers[0] as EventWriter).markerCacheCapacity;
  const day = new DaySimulation(workload, options, days, cacheEntries, () => table.writes);
  while (day.at.deliveries < simulated) {
    const { event, container, hit } = day.deliver();
    const before = table.writes;
    await (writers[container] as EventWriter).markDevice(recordOf(event), true, 'bench');
    if ((table.writes === before) !== hit) {
      throw new Error(`delivery ${day.at.deliveries}: the writer's cache and its shadow disagree`);
    }
    day.delivered();
  }
  const throughWriters = day.at.deliveries;
  while (day.at.deliveries < Math.min(busiestDay, MAX_COUNTED_DELIVERIES)) {
    if (!day.deliver().hit) day.countedWrites++;
    day.delivered();
  }
  const end = day.snapshot();
  const start = day.snapshots.findLast((s) => s.deliveries <= end.deliveries * 0.8) ?? end;
  const window = Math.max(1, end.deliveries - start.deliveries);
  const steady = {
    miss: (end.writes - start.writes) / window,
    markers: (end.markers - start.markers) / window,
    distinct: (end.distinct - start.distinct) / window,
  };
  const how = (upTo: number) => {
    const through = `${Math.min(upTo, throughWriters).toLocaleString('en-US')} deliveries through the consumer's writers`;
    const alone = upTo - throughWriters;
    return `the day's first ${through}${alone > 0 ? `, then ${alone.toLocaleString('en-US')} through their caches alone` : ''}`;
  };
  return options.rates.map((rate, r) => {
    const dayDeliveries = days[r] as number;
    const fits = day.checkpoints.get(dayDeliveries);
    const rest = fits ? 0 : dayDeliveries - end.deliveries;
    const base = fits ?? end;
    const writes = base.writes + rest * steady.miss;
    const distinct = base.distinct + rest * steady.distinct;
    const markers = Math.min(day.markerCount, base.markers + rest * steady.markers);
    return {
      workload: workload.name,
      devices: workload.devices,
      ratePerSecond: rate,
      containers: options.containers,
      memoryMb,
      cacheEntries,
      simulatedDeliveries: fits ? dayDeliveries : end.deliveries,
      deliveriesPerDay: dayDeliveries,
      hitRate: 1 - writes / dayDeliveries,
      markerWritesPerStored: writes / distinct,
      markersStoredPerStored: markers / distinct,
      steadyHitRate: 1 - steady.miss,
      method: fits
        ? dayDeliveries <= throughWriters
          ? 'a whole day simulated'
          : `${how(dayDeliveries)}: the whole day`
        : `${how(end.deliveries)}, the rest at the miss rate of the last fifth`,
    };
  });
}

const SIMULATED_DAY = '2025-10-14';

/** A drawn event as the writer takes it: what a marker needs of it. */
const recordOf = ({ campaign, device, click }: Draw): EventRecord =>
  ({
    id: '',
    provider: 'sori',
    event: click ? 'campaign.click' : 'campaign.impression',
    created_at: `${SIMULATED_DAY}T12:00:00.000Z`,
    received_at: `${SIMULATED_DAY}T12:00:00.000Z`,
    device_id: `device_${String(device).padStart(7, '0')}`,
    campaign_id: campaignId(campaign),
  }) as EventRecord;

/**
 * A day's deliveries, one at a time: the workload's events with their duplicates, dealt to containers batch by
 * batch, each container's cache shadowed by a cache of its own size fed a short key per marker.
 */
class DaySimulation {
  readonly at: Tally = { deliveries: 0, distinct: 0, hits: 0, writes: 0, markers: 0 };
  /** The tally where each rate's day ends, when the simulation reaches it. */
  readonly checkpoints = new Map<number, Tally>();
  readonly snapshots: Tally[] = [];
  /** The markers (a campaign and a device on the day) the table holds. */
  readonly markerCount: number;
  /** Writes counted through the caches alone, beyond the stand-in's. */
  countedWrites = 0;
  private readonly stored: ReturnType<typeof bitSet>;
  private readonly shadows: MarkerCache[];
  private readonly draw: () => Draw;
  private readonly next: () => number;
  /** Duplicates wait in a queue sorted by the distinct event they are due after. */
  private readonly due: Array<{ at: number; event: Draw }> = [];
  private readonly duplicateOdds: number;
  private batch = 0;
  private inBatch = 0;

  constructor(
    private readonly workload: Workload,
    private readonly options: MarkerCacheOptions,
    private readonly days: number[],
    cacheEntries: number,
    private readonly tableWrites: () => number,
  ) {
    const seed = options.seed ?? 7;
    this.markerCount = workload.campaigns * workload.devices;
    this.stored = bitSet(this.markerCount);
    this.shadows = Array.from({ length: options.containers }, () => new MarkerCache(cacheEntries));
    this.draw = drawer(workload, seed);
    this.next = random(seed ^ 0x5bd1e995);
    this.duplicateOdds = workload.duplicateShare / (1 - workload.duplicateShare);
  }

  snapshot(): Tally {
    return { ...this.at, writes: this.tableWrites() + this.countedWrites, markers: this.stored.size };
  }

  /** The next delivery: its event, the container its batch goes to, and whether that container's cache hits. */
  deliver(): { event: Draw; container: number; hit: boolean } {
    const { at } = this;
    if (at.deliveries % SNAPSHOT_EVERY === 0) this.snapshots.push(this.snapshot());
    const event = this.nextEvent();
    if (this.inBatch >= this.options.meanBatch) {
      this.batch++;
      this.inBatch = 0;
    }
    this.inBatch++;
    const container = this.batch % this.shadows.length;
    const marker = event.campaign * this.workload.devices + event.device;
    const shadow = this.shadows[container] as MarkerCache;
    const key = String(marker);
    const hit = shadow.has(key, true);
    if (!hit) shadow.add(key, true);
    this.stored.add(marker);
    if (hit) at.hits++;
    return { event, container, hit };
  }

  /** A duplicate that is due, else a new event (itself sent again later at the workload's duplicate odds). */
  private nextEvent(): Draw {
    const { at, due } = this;
    const first = due[0];
    if (first && first.at <= at.distinct) {
      due.shift();
      return first.event;
    }
    const event = this.draw();
    at.distinct++;
    if (this.next() < this.duplicateOdds) {
      const dueAt = at.distinct + Math.floor(this.next() * 1000);
      let i = due.length;
      while (i > 0 && (due[i - 1] as { at: number }).at > dueAt) i--;
      due.splice(i, 0, { at: dueAt, event });
    }
    return event;
  }

  delivered(): void {
    this.at.deliveries++;
    if (this.days.includes(this.at.deliveries)) this.checkpoints.set(this.at.deliveries, this.snapshot());
  }
}

// Run alone (`npx tsx bench/markers.ts`): the realistic workload and a million devices, at the cache sizes of
// three function memories, each rate on the containers the realistic bench's default settings keep busy (one at
// 10 and 100 deliveries a second, five at 1,000) and the batches they form (about 11, 50 and 100).
if (import.meta.url === `file://${process.argv[1]}`) {
  const { REALISTIC } = await import('./workload');
  const settings = [
    { rate: 10, containers: 1, meanBatch: 11 },
    { rate: 100, containers: 1, meanBatch: 50 },
    { rate: 1000, containers: 5, meanBatch: 100 },
  ];
  for (const devices of [REALISTIC.devices, 1_000_000]) {
    for (const memoryMb of [256, 512, 1024]) {
      for (const { rate, containers, meanBatch } of settings) {
        const [figures] = await measureMarkerCache({
          workload: REALISTIC,
          devices,
          memoryMb,
          containers,
          meanBatch,
          rates: [rate],
        });
        if (!figures) continue;
        console.log(
          [
            `${devices.toLocaleString('en-US')} devices`,
            `${memoryMb} MB (${figures.cacheEntries.toLocaleString('en-US')} markers)`,
            `${rate}/s on ${containers}`,
            `hit rate ${figures.hitRate.toFixed(3)}`,
            `marker writes per stored event ${figures.markerWritesPerStored.toFixed(3)}`,
            `markers stored per stored event ${figures.markersStoredPerStored.toFixed(3)}`,
            figures.method,
          ].join(' | '),
        );
      }
    }
  }
}
