import { createHash } from 'node:crypto';
import { readFile, realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { readRawRef } from '../blobs/raw-store';
import type { EventRecord } from '../events/event-record';
import { FIRST_NORMALIZER_VERSION, normalizerOf, parseNormalizer } from '../events/normalizer';
import { buildQueueMessage } from '../receive/build-queue-message';
import { providerNamed, withPolicy } from '../receive/event-policy';
import { tableClockOffsetMs } from '../table/clock';
import { reasonUpdate, resolvedUpdate } from '../table/quarantine-items';
import {
  counterFieldsOf,
  DELIVERY_ID_ATTRIBUTE,
  EVENT_KEY_ATTRIBUTES,
  fromEventItem,
  rawBytesOf,
  renormalizeUpdate,
  type StoredQuarantine,
  type TableLayout,
  toItem,
} from '../table/records-table';
import { scanPages, updateIf } from '../table/table-io';
import type { CampaignCounters } from './campaign-counters';
import type { EventWriter } from './event-writer';
import { createIngest, type Ingest } from './ingest';

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
 * the ingest port (see {@link createIngest}), as the consumer stores: stored once under its proper key, counted once, whatever else stores the same event
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
    /** The ingest port to store through, with its listeners; else one of `writer` and `counters` alone. */
    ingest?: Ingest;
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
  const ingest = tables.ingest ?? createIngest({ writer: tables.writer, counters: tables.counters });
  for (const entry of entries) {
    const provider = providerNamed(entry.provider);
    if (!provider) {
      outcomes.push({ id: entry.id, provider: entry.provider, result: 'quarantined', reason: entry.reason });
      continue;
    }
    const raw = await rawBytes(
      { ...entry, inline: () => Buffer.from(entry.raw, entry.raw_encoding) },
      options,
    );
    if (typeof raw === 'string') {
      outcomes.push({ id: entry.id, provider: entry.provider, result: 'skipped', reason: raw });
      continue;
    }
    // Keyed and placed as at receipt: by the delivery id its provider keys records by, for the app it came to.
    const built = buildQueueMessage(provider, raw, entry.received_at, {
      id: entry.delivery_id,
      app: entry.app,
    });
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
    const [outcome] = await ingest.store([message], { reprocessed: true });
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
async function rawBytes(
  entry: { provider: string; raw_ref?: string | undefined; inline: () => Buffer | undefined },
  places: RawPlaces,
): Promise<Buffer | string> {
  const ref = entry.raw_ref;
  if (!ref) return entry.inline() ?? 'raw body missing from its item';
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
const markResolved = (
  tables: { client: DynamoDBClient; tableName: string; counters: CampaignCounters },
  id: string,
  recordId: string,
) =>
  updateIf(
    tables.client,
    resolvedUpdate(tables.tableName, id, recordId, new Date(tables.counters.clock()).toISOString()),
  );

/** Records the reason the current provider code gives, for an entry that is still not understood. */
const setReason = (tables: { client: DynamoDBClient; tableName: string }, id: string, reason: string) =>
  updateIf(tables.client, reasonUpdate(tables.tableName, id, reason));

/** Which stored records to normalize again: those a given mapping made. */
export interface StoredFilter {
  /** The mapping that made them, `<provider>@<version>` (records stored before records said: `<provider>@1`). */
  normalizer: string;
  /** Only those received at or after this time (ISO 8601). */
  since?: string | undefined;
  /** Only this record. */
  id?: string | undefined;
}

/** What normalizing one stored record again did (or, with `dryRun`, would do). */
export interface ReprocessStoredOutcome {
  id: string;
  provider: string;
  /**
   * `rewritten`: its fields are the current mapping's now, and so is its `normalizer`; `already`: another run
   * rewrote it first; `quarantined`: the current mapping does not understand its body, and `skipped`: its body
   * cannot be used, or the current mapping would move what the counters count or where the record is found
   * (see `reason`). A record quarantined or skipped is left as it was, with its normalizer.
   */
  result: 'rewritten' | 'already' | 'quarantined' | 'skipped';
  /** The normalizer it has now (or would have). */
  normalizer: string;
  /** The record fields the rewrite changed. */
  changed?: string[];
  reason?: string;
}

/**
 * Normalizes stored records again with the current mapping of their provider: those `filter.normalizer` made,
 * read from their raw bodies (kept with each record, or where its reference points) as if received again when
 * they were, for the app they came to and with the delivery id they were keyed by. Each record is rewritten in
 * place, once: the write holds only while the item still names the old normalizer, so a run killed anywhere and
 * run again, or two runs at once, rewrite each record exactly once, and a rewritten record is not listed again.
 *
 * The counters are not moved: they count what a record's type, time, platform, country, material, campaign and
 * device are, and a rewrite that would change any of these (or the record's keys) would leave them counting the
 * old values. Such a record is `skipped` and left as it was, with the reason; so is one whose body the current
 * mapping quarantines. Everything else a mapping gives (names, account, activity, metadata, region, city) is
 * rewritten. The table is scanned once, for this provider's events made by that mapping.
 * @throws when `filter.normalizer` is not `<provider>@<version>` of a provider served here, or names the current
 *   mapping (there is nothing newer to normalize into); the SDK's error when a read or a write fails (a run
 *   stopped so can be run again).
 * @returns one outcome per record looked at, in the order the scan met them.
 */
export async function reprocessStored(
  tables: { client: DynamoDBClient; tableName: string; layout: TableLayout },
  filter: StoredFilter,
  options: { dryRun?: boolean; onOutcome?: (outcome: ReprocessStoredOutcome) => void } & RawPlaces = {},
): Promise<ReprocessStoredOutcome[]> {
  const label = parseNormalizer(filter.normalizer);
  if (!label)
    throw new Error(`not a normalizer label (<provider>@<version>): ${JSON.stringify(filter.normalizer)}`);
  const provider = providerNamed(label.provider);
  if (!provider) throw new Error(`unknown provider ${JSON.stringify(label.provider)}`);
  const current = normalizerOf(provider);
  if (current === filter.normalizer)
    throw new Error(
      `${current} is the current normalizer of ${provider.name}: there is nothing newer to normalize into`,
    );
  const first = label.version === FIRST_NORMALIZER_VERSION;
  const names: Record<string, string> = {
    '#kind': 'kind',
    '#provider': 'provider',
    '#normalizer': 'normalizer',
  };
  const values: Record<string, AttributeValue> = {
    ':event': { S: 'event' },
    ':provider': { S: provider.name },
    ':from': { S: filter.normalizer },
  };
  const terms = [
    '#kind = :event',
    '#provider = :provider',
    first ? '(#normalizer = :from OR attribute_not_exists(#normalizer))' : '#normalizer = :from',
  ];
  if (filter.since) {
    names['#received'] = 'received_at';
    values[':since'] = { S: filter.since };
    terms.push('#received >= :since');
  }
  if (filter.id) {
    names['#id'] = 'id';
    values[':id'] = { S: filter.id };
    terms.push('#id = :id');
  }
  const outcomes: ReprocessStoredOutcome[] = [];
  const report = (outcome: ReprocessStoredOutcome) => {
    outcomes.push(outcome);
    options.onOutcome?.(outcome);
  };
  for await (const page of scanPages(tables.client, {
    TableName: tables.tableName,
    FilterExpression: terms.join(' AND '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
    ConsistentRead: true,
  })) {
    for (const item of page) {
      report(await renormalize(tables, item, filter.normalizer, first, options));
    }
  }
  return outcomes;
}

/** Normalizes one stored event again (see {@link reprocessStored}). */
async function renormalize(
  tables: { client: DynamoDBClient; tableName: string; layout: TableLayout },
  item: Record<string, AttributeValue>,
  from: string,
  fromIsFirst: boolean,
  options: { dryRun?: boolean } & RawPlaces,
): Promise<ReprocessStoredOutcome> {
  const stored = fromEventItem(item);
  const base = { id: stored.id, provider: stored.provider };
  const left = (result: 'quarantined' | 'skipped', reason: string): ReprocessStoredOutcome => ({
    ...base,
    result,
    normalizer: stored.normalizer,
    reason,
  });
  const provider = providerNamed(stored.provider);
  if (!provider) return left('skipped', `${stored.provider} is not served here`);
  const raw = await rawBytes(
    { provider: stored.provider, raw_ref: item.raw_ref?.S, inline: () => rawBytesOf(item) },
    options,
  );
  if (typeof raw === 'string') return left('skipped', raw);
  // Records stored before the delivery id was kept beside them were of configured providers keyed by it, whose
  // records took it for their activity id.
  const deliveryId =
    item[DELIVERY_ID_ATTRIBUTE]?.S ??
    (provider.deliveryIdHeader ? (stored.activity_id ?? undefined) : undefined);
  const built = buildQueueMessage(provider, raw, stored.received_at, { id: deliveryId, app: stored.app });
  if (built.kind === 'quarantine') return left('quarantined', built.record.reason);
  const message = withPolicy(item.raw_ref?.S ? { ...built, raw: '', raw_ref: item.raw_ref.S } : built);
  if (message.kind !== 'event') return left('quarantined', 'not an event');
  const next = toItem(message, tables.layout);
  const moved = movedFields(item, next, stored, message.record);
  if (moved.length > 0)
    return left(
      'skipped',
      `would move what the counters count or where the record is found (${moved.join(', ')}): left as it is, counted as it was`,
    );
  const { update, changed } = renormalizeUpdate(tables.tableName, item, next, from, fromIsFirst);
  const done = { ...base, normalizer: message.record.normalizer ?? normalizerOf(provider), changed };
  if (options.dryRun) return { ...done, result: 'rewritten' };
  const written = await updateIf(tables.client, update);
  return { ...done, result: written ? 'rewritten' : 'already' };
}

/**
 * What a rewrite would move that the counters, the device markers or the keys depend on: the item's keys and
 * index keys, the fields the counters read, the campaign and the device.
 */
function movedFields(
  item: Record<string, AttributeValue>,
  next: Record<string, AttributeValue>,
  stored: EventRecord,
  record: EventRecord,
): string[] {
  const moved = COUNTED_FIELDS.filter(
    ([, read]) => JSON.stringify(read(stored) ?? null) !== JSON.stringify(read(record) ?? null),
  ).map(([name]) => name);
  // Every field the counters read is above; the keys are made of them too, so this is a safeguard.
  if (
    moved.length === 0 &&
    JSON.stringify(counterFieldsOf(stored)) !== JSON.stringify(counterFieldsOf(record))
  )
    moved.push('counted fields');
  if (moved.length === 0 && EVENT_KEY_ATTRIBUTES.some((name) => item[name]?.S !== next[name]?.S))
    moved.push('keys');
  return moved;
}

/** The fields a record is counted, marked and found by, each with how it is read. */
const COUNTED_FIELDS: [string, (record: EventRecord) => unknown][] = [
  ['event', (record) => record.event],
  ['created_at', (record) => record.created_at],
  ['campaign_id', (record) => record.campaign_id],
  ['device_id', (record) => record.device_id],
  ['platform', (record) => record.platform],
  ['viewer_country', (record) => record.geolocation?.viewer_country],
  ['material_id', (record) => record.material_id],
];
