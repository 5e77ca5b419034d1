// The device-marker cache over a whole day of traffic: how many markDevice calls it answers without a write, at
// the default cache size, for the workload's devices and campaigns at a given rate.
//
// The cache is the consumer's own (EventWriter and its RecentSet, constructed with their default size); only the
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
import { EventWriter } from '../lib/ingest/event-writer';
import { campaignId, DEPLOYED_LAYOUT, drawer, random, type Workload } from './workload';

/** A day's deliveries, or this many at most (then the rest of the day is extrapolated, see below). */
const MAX_SIMULATED_DELIVERIES = 1_250_000;

export interface MarkerCacheFigures {
  workload: string;
  devices: number;
  ratePerSecond: number;
  /** Process containers the deliveries were spread over, each with its own cache. */
  containers: number;
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
  /** Over the last fifth of the simulated deliveries, when the cache is in its steady state. */
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

/**
 * Runs the workload's deliveries (duplicates included, each within 1,000 events of its first) through real
 * EventWriters, one per container, batches dealt to containers in turn, from the start of a day: as many as
 * the busiest rate's day holds, or {@link MAX_SIMULATED_DELIVERIES}. A rate whose day fits is read where its day
 * ends; for a longer day, the day's marker writes are those simulated plus the rest of the day at the miss rate
 * of the simulation's last fifth (the cache full, the day's markers nearly all seen: new markers come rarer as
 * the day goes on, so this errs high).
 */
export async function measureMarkerCache(options: MarkerCacheOptions): Promise<MarkerCacheFigures[]> {
  const workload = { ...options.workload, devices: options.devices ?? options.workload.devices };
  const seed = options.seed ?? 7;
  const days = options.rates.map((rate) => deliveriesPerDay(rate));
  const simulated = Math.min(Math.max(...days), options.maxDeliveries ?? MAX_SIMULATED_DELIVERIES);
  const table = standInTable();
  const writers = Array.from(
    { length: options.containers },
    () => new EventWriter(table.client, 'markers', DEPLOYED_LAYOUT),
  );
  // The default size, as the consumer constructs its writer; read back for the report.
  const cacheEntries = (writers[0] as unknown as { markers: { capacity: number } }).markers.capacity;
  const draw = drawer(workload, seed);
  const next = random(seed ^ 0x5bd1e995);
  // Duplicates wait in a queue sorted by the distinct event they are due after.
  const due: Array<{ at: number; record: EventRecord }> = [];
  const day = '2025-10-14';
  const recordOf = (campaign: number, device: number, click: boolean): EventRecord =>
    ({
      id: '',
      provider: 'sori',
      event: click ? 'campaign.click' : 'campaign.impression',
      created_at: `${day}T12:00:00.000Z`,
      received_at: `${day}T12:00:00.000Z`,
      device_id: `device_${String(device).padStart(7, '0')}`,
      campaign_id: campaignId(campaign),
    }) as EventRecord;
  const duplicateOdds = workload.duplicateShare / (1 - workload.duplicateShare);
  const at: Tally = { deliveries: 0, distinct: 0, hits: 0, writes: 0, markers: 0 };
  const checkpoints = new Map<number, Tally>();
  const steadyFrom = Math.floor(simulated * 0.8);
  let steady: Tally | undefined;
  let batch = 0;
  let inBatch = 0;
  const snapshot = (): Tally => ({ ...at, writes: table.writes, markers: table.markers });
  for (let delivered = 0; delivered < simulated; delivered++) {
    if (delivered === steadyFrom) steady = snapshot();
    let record: EventRecord;
    const first = due[0];
    if (first && first.at <= at.distinct) {
      due.shift();
      record = first.record;
    } else {
      const { campaign, device, click } = draw();
      record = recordOf(campaign, device, click);
      at.distinct++;
      if (next() < duplicateOdds) {
        const dueAt = at.distinct + Math.floor(next() * 1000);
        let i = due.length;
        while (i > 0 && (due[i - 1] as { at: number }).at > dueAt) i--;
        due.splice(i, 0, { at: dueAt, record });
      }
    }
    if (inBatch >= options.meanBatch) {
      batch++;
      inBatch = 0;
    }
    inBatch++;
    const writer = writers[batch % writers.length] as EventWriter;
    const before = table.writes;
    await writer.markDevice(record, true, 'bench');
    at.deliveries++;
    if (table.writes === before) at.hits++;
    if (days.includes(at.deliveries)) checkpoints.set(at.deliveries, snapshot());
  }
  const end = snapshot();
  const start = steady ?? end;
  const window = Math.max(1, end.deliveries - start.deliveries);
  const steadyMiss = (end.writes - start.writes) / window;
  const newMarkers = (end.markers - start.markers) / window;
  const newDistinct = (end.distinct - start.distinct) / window;
  return options.rates.map((rate, r) => {
    const dayDeliveries = days[r] as number;
    const fits = checkpoints.get(dayDeliveries);
    const rest = fits ? 0 : dayDeliveries - end.deliveries;
    const base = fits ?? end;
    const writes = base.writes + rest * steadyMiss;
    const distinct = base.distinct + rest * newDistinct;
    const markers = Math.min(workload.devices * workload.campaigns, base.markers + rest * newMarkers);
    return {
      workload: workload.name,
      devices: workload.devices,
      ratePerSecond: rate,
      containers: options.containers,
      cacheEntries,
      simulatedDeliveries: fits ? dayDeliveries : end.deliveries,
      deliveriesPerDay: dayDeliveries,
      hitRate: 1 - writes / dayDeliveries,
      markerWritesPerStored: writes / distinct,
      markersStoredPerStored: markers / distinct,
      steadyHitRate: 1 - steadyMiss,
      method: fits
        ? 'a whole day simulated'
        : `the day's first ${end.deliveries.toLocaleString('en-US')} deliveries simulated, the rest at the steady-state miss rate`,
    };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { REALISTIC } = await import('./workload');
  console.log(
    await measureMarkerCache({ workload: REALISTIC, containers: 1, meanBatch: 1, rates: [10, 100, 1000] }),
  );
}
