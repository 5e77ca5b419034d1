import { createHash } from 'node:crypto';
import { readFile, realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { readRawRef } from '../blobs/raw-store';
import { buildQueueMessage } from '../receive/build-queue-message';
import { providerNamed } from '../receive/event-policy';
import { tableClockOffsetMs } from '../table/clock';
import { reasonUpdate, resolvedUpdate } from '../table/quarantine-items';
import type { StoredQuarantine } from '../table/records-table';
import { updateIf } from '../table/table-io';
import type { CampaignCounters } from './campaign-counters';
import type { EventWriter } from './event-writer';
import { storeBatch } from './store-batch';

/** Which quarantined deliveries to run again; all unresolved ones when empty. */
export interface ReprocessFilter {
  /** Only those whose reason contains this text. */
  reason?: string | undefined;
  /** Only those received at or after this time (ISO 8601). */
  since?: string | undefined;
  id?: string | undefined;
}

/** What running one quarantined delivery again did (or, with `dryRun`, would do). */
export interface ReprocessOutcome {
  id: string;
  provider: string;
  /**
   * `stored`: it is a record now; `duplicate`: its record was there already (a live retry came first), and the
   * quarantine entry now points to it; `quarantined`: it still does not parse, with `reason` (updated if new);
   * `skipped`: its raw body could not be used (a reference not of this stack's form and place, a body that
   * cannot be read or does not match its reference), `reason` says which, and the entry is left as it was.
   */
  result: 'stored' | 'duplicate' | 'quarantined' | 'skipped';
  record_id?: string;
  reason?: string;
}

/**
 * Where this stack keeps raw bodies, the only places a quarantine entry's `raw_ref` is read from: the reference
 * is data in the table, and reading whatever it names would let it pick a file of the user's or an object of
 * any bucket their credentials reach.
 */
export interface RawPlaces {
  /** The local stack's data folder: `file://raw/<provider>/<sha-256>` is read from its `raw` folder only. */
  fileRoot?: string | undefined;
  /** The deployed stack's raw-bodies bucket: `s3://<bucket>/raw/<provider>/<sha-256>` is read from it only. */
  rawBucket?: string | undefined;
}

/**
 * Runs quarantined deliveries again through the current provider code, as if received again at the time they
 * first were (`received_at` keeps its value, so ids and retention do not move). What parses now goes through
 * {@link storeBatch}: stored once under its proper key, counted once, whatever else stores the same event
 * meanwhile; its quarantine entry is then marked resolved with the record's id, and kept. What still fails
 * stays quarantined with its current reason. Resolved entries are skipped, so running it again changes nothing.
 * @returns one outcome per delivery looked at, oldest first.
 */
export async function reprocessQuarantine(
  tables: {
    client: DynamoDBClient;
    tableName: string;
    /** Where the quarantined deliveries are listed from, oldest first (the read model's repository). */
    repository: { listQuarantine(limit: number): Promise<StoredQuarantine[]> };
    writer: EventWriter;
    counters: CampaignCounters;
  },
  filter: ReprocessFilter,
  options: { dryRun?: boolean } & RawPlaces = {},
): Promise<ReprocessOutcome[]> {
  const entries = (await tables.repository.listQuarantine(Number.POSITIVE_INFINITY)).filter(
    (entry) =>
      !entry.resolved_at &&
      (!filter.id || entry.id === filter.id) &&
      (!filter.reason || entry.reason.includes(filter.reason)) &&
      (!filter.since || entry.received_at >= filter.since),
  );
  if (!options.dryRun && entries.length > 0) await requireClockInSync(tables);
  const outcomes: ReprocessOutcome[] = [];
  for (const entry of entries) {
    const provider = providerNamed(entry.provider);
    if (!provider) {
      outcomes.push({ id: entry.id, provider: entry.provider, result: 'quarantined', reason: entry.reason });
      continue;
    }
    const raw = await rawBytes(entry, options);
    if (typeof raw === 'string') {
      outcomes.push({ id: entry.id, provider: entry.provider, result: 'skipped', reason: raw });
      continue;
    }
    const built = buildQueueMessage(provider, raw, entry.received_at);
    // A body kept by reference stays there: inline it would take an incompressible one past the item limit.
    const message = entry.raw_ref ? { ...built, raw: '', raw_ref: entry.raw_ref } : built;
    if (message.kind === 'quarantine') {
      const reason = message.record.reason;
      if (!options.dryRun && reason !== entry.reason) await setReason(tables, entry.id, reason);
      outcomes.push({ id: entry.id, provider: entry.provider, result: 'quarantined', reason });
      continue;
    }
    const recordId = message.record.id;
    if (options.dryRun) {
      outcomes.push({ id: entry.id, provider: entry.provider, result: 'stored', record_id: recordId });
      continue;
    }
    const [outcome] = await storeBatch(tables.writer, tables.counters, [message], { reprocessed: true });
    if (!outcome?.ok) throw outcome?.error ?? new Error(`reprocessing ${entry.id} failed`);
    await markResolved(tables, entry.id, recordId);
    outcomes.push({ id: entry.id, provider: entry.provider, result: outcome.outcome, record_id: recordId });
  }
  return outcomes;
}

/**
 * How far this machine's clock may be from the table's. A batch's journal entry is named by the time it began,
 * by the clock of the machine that stores it, and the repair reads the journal from a watermark 20 s behind its
 * own clock: a batch stored from a clock further behind would be stored but never counted.
 */
const MAX_CLOCK_OFFSET_MS = 5_000;

/** Refuses to store from a machine whose clock is off (see {@link MAX_CLOCK_OFFSET_MS}). */
async function requireClockInSync(tables: { client: DynamoDBClient; tableName: string }): Promise<void> {
  const offset = await tableClockOffsetMs(tables.client, tables.tableName);
  if (offset === undefined || Math.abs(offset) <= MAX_CLOCK_OFFSET_MS) return;
  const seconds = Math.round(Math.abs(offset) / 1000);
  throw new Error(
    `this machine's clock is ${seconds} s ${offset > 0 ? 'behind' : 'ahead of'} the table's: events stored from it could be left uncounted; set the clock right (NTP) and run again`,
  );
}

/** A SHA-256 in hex, as the raw store names a body by its bytes. */
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** A reference as a reason may quote it: cut, since it is data from the table and may be of any length. */
const quoted = (ref: string) => JSON.stringify(ref.length > 120 ? `${ref.slice(0, 120)}…` : ref);

/**
 * The raw body of a quarantine entry: inline, or read where its reference points if that is where and how this
 * stack stores raw bodies (`<scheme>raw/<provider>/<sha-256 of the bytes>`, the provider the entry's own).
 * @returns the bytes, or why they cannot be used (the entry is then left as it is).
 */
async function rawBytes(entry: StoredQuarantine, places: RawPlaces): Promise<Buffer | string> {
  const ref = entry.raw_ref;
  if (!ref) return Buffer.from(entry.raw, entry.raw_encoding);
  const refused = (why: string) => `raw body reference refused: ${why}`;
  const name = /^(?:file:\/\/|s3:\/\/[^/]+\/)raw\/([^/]+)\/([^/]+)$/.exec(ref);
  const hash = name?.[2] ?? '';
  if (ref.startsWith('file://')) {
    const form = `file://raw/${entry.provider}/<sha-256>`;
    if (!places.fileRoot) return refused('a local file, readable only where the local stack runs');
    if (!name || name[1] !== entry.provider || !SHA256_HEX.test(hash))
      return refused(`not one of this stack's (${form}): ${quoted(ref)}`);
    const folder = join(places.fileRoot, 'raw');
    let bytes: Buffer;
    try {
      // Resolved through any link before it is read: a link in the folder must not lead out of it.
      const [real, realFolder] = await Promise.all([
        realpath(join(folder, entry.provider, hash)),
        realpath(folder),
      ]);
      if (!real.startsWith(`${realFolder}${sep}`))
        return refused(`${quoted(ref)} leads outside the data folder's raw bodies`);
      bytes = await readFile(real);
    } catch (error) {
      return `raw body not read: ${(error as Error).message.split('\n')[0]}`;
    }
    return matching(bytes, hash);
  }
  if (ref.startsWith('s3://')) {
    if (!places.rawBucket) return refused('an S3 reference, and no raw-bodies bucket is known here');
    const form = `s3://${places.rawBucket}/raw/${entry.provider}/<sha-256>`;
    if (
      !name ||
      !ref.startsWith(`s3://${places.rawBucket}/raw/`) ||
      name[1] !== entry.provider ||
      !SHA256_HEX.test(hash)
    )
      return refused(`not one of this stack's (${form}): ${quoted(ref)}`);
    let bytes: Buffer;
    try {
      bytes = await readRawRef(`s3://${places.rawBucket}/raw/${entry.provider}/${hash}`);
    } catch (error) {
      return `raw body not read: ${(error as Error).message.split('\n')[0]}`;
    }
    return matching(bytes, hash);
  }
  return refused(`neither a file nor an S3 reference: ${quoted(ref)}`);
}

/** The bytes when they are the ones their reference names (their SHA-256), else why not. */
function matching(bytes: Buffer, hash: string): Buffer | string {
  return createHash('sha256').update(bytes).digest('hex') === hash
    ? bytes
    : 'raw body refused: its bytes do not hash to the name its reference gives';
}

/** Marks a quarantine entry resolved with its record's id, once (a concurrent run that marked it first wins). */
const markResolved = (tables: { client: DynamoDBClient; tableName: string }, id: string, recordId: string) =>
  updateIf(tables.client, resolvedUpdate(tables.tableName, id, recordId, new Date().toISOString()));

/** Records the reason the current provider code gives, for an entry that is still not understood. */
const setReason = (tables: { client: DynamoDBClient; tableName: string }, id: string, reason: string) =>
  updateIf(tables.client, reasonUpdate(tables.tableName, id, reason));
