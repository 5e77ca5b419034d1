import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { readRawRef } from '../blobs/raw-store';
import { findProvider } from '../providers';
import type { RecordsRepository } from '../queries/records-repository';
import { buildQueueMessage } from '../receive/build-queue-message';
import {
  quarantinePartitionKey,
  RECORD_SORT_KEY,
  RECORDS_TABLE,
  RESOLVED_ATTRIBUTES,
  type StoredQuarantine,
} from '../table/records-table';
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
   * quarantine entry now points to it; `quarantined`: it still does not parse, with `reason` (updated if new).
   */
  result: 'stored' | 'duplicate' | 'quarantined';
  record_id?: string;
  reason?: string;
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
    repository: RecordsRepository;
    writer: EventWriter;
    counters: CampaignCounters;
  },
  filter: ReprocessFilter,
  options: { dryRun?: boolean; fileRoot?: string | undefined } = {},
): Promise<ReprocessOutcome[]> {
  const entries = (await tables.repository.listQuarantine(Number.POSITIVE_INFINITY)).filter(
    (entry) =>
      !entry.resolved_at &&
      (!filter.id || entry.id === filter.id) &&
      (!filter.reason || entry.reason.includes(filter.reason)) &&
      (!filter.since || entry.received_at >= filter.since),
  );
  const outcomes: ReprocessOutcome[] = [];
  for (const entry of entries) {
    const provider = findProvider(entry.provider);
    if (!provider) {
      outcomes.push({ id: entry.id, provider: entry.provider, result: 'quarantined', reason: entry.reason });
      continue;
    }
    const raw = await rawBytes(entry, options.fileRoot);
    const message = buildQueueMessage(provider, raw, entry.received_at);
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
    const [outcome] = await storeBatch(tables.writer, tables.counters, [message]);
    if (!outcome?.ok) throw outcome?.error ?? new Error(`reprocessing ${entry.id} failed`);
    await markResolved(tables, entry.id, recordId);
    outcomes.push({ id: entry.id, provider: entry.provider, result: outcome.outcome, record_id: recordId });
  }
  return outcomes;
}

async function rawBytes(entry: StoredQuarantine, fileRoot: string | undefined): Promise<Buffer> {
  if (entry.raw_ref) return readRawRef(entry.raw_ref, { fileRoot });
  return Buffer.from(entry.raw, entry.raw_encoding);
}

const quarantineKey = (id: string) => ({
  [RECORDS_TABLE.partitionKey]: { S: quarantinePartitionKey(id) },
  [RECORDS_TABLE.sortKey]: { S: RECORD_SORT_KEY },
});

/** Marks a quarantine entry resolved with its record's id, once (a concurrent run that marked it first wins). */
function markResolved(tables: { client: DynamoDBClient; tableName: string }, id: string, recordId: string) {
  return updateIf(tables.client, {
    TableName: tables.tableName,
    Key: quarantineKey(id),
    UpdateExpression: 'SET #at = :at, #record = :record',
    ConditionExpression: 'attribute_exists(#pk) AND attribute_not_exists(#at)',
    ExpressionAttributeNames: {
      '#pk': RECORDS_TABLE.partitionKey,
      '#at': RESOLVED_ATTRIBUTES.at,
      '#record': RESOLVED_ATTRIBUTES.record,
    },
    ExpressionAttributeValues: { ':at': { S: new Date().toISOString() }, ':record': { S: recordId } },
  });
}

/** Records the reason the current provider code gives, for an entry that is still not understood. */
function setReason(tables: { client: DynamoDBClient; tableName: string }, id: string, reason: string) {
  return updateIf(tables.client, {
    TableName: tables.tableName,
    Key: quarantineKey(id),
    UpdateExpression: 'SET #reason = :reason',
    ConditionExpression: 'attribute_exists(#pk) AND attribute_not_exists(#at)',
    ExpressionAttributeNames: {
      '#pk': RECORDS_TABLE.partitionKey,
      '#reason': 'reason',
      '#at': RESOLVED_ATTRIBUTES.at,
    },
    ExpressionAttributeValues: { ':reason': { S: reason } },
  });
}
