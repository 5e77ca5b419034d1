import { randomBytes } from 'node:crypto';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { CountedKind, EventPolicy } from '../lib/events/event-record';
import type { StoredBatch } from '../lib/ingest/ingest';
import {
  LAKE_COLUMNS,
  type LakeRow,
  lakePartitionPath,
  lakeRowOf,
  lakeRowOfItem,
} from '../lib/lake/lake-row';
import { scanPages } from '../lib/table/table-io';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from './private-files';

/** Where the local lake keeps its files in `DATA_DIR`. */
export const LAKE_DIR = 'lake';

/**
 * The local twin of the deployed lake: the rows of first inserts, as the Firehose stream would write them into
 * the Iceberg table, appended as newline-delimited JSON under `day=<day>/provider=<provider>/` (one file per
 * process and partition). It hears of stored batches as the consumer's `onStored` listener: only records a batch
 * stored for the first time get there, as only first inserts reach the records table's stream in AWS, so a
 * duplicate delivery never adds a row. A row written twice (the deployed stream retries a batch) is read once by
 * the shipped queries, which count by record id.
 *
 * Rows are appended after the batch is stored: a crash between the two loses those rows from the local lake
 * (the records stay in the table), where the deployed stream would deliver them.
 */
export class LakeSink {
  /** Tells this process's files from another's that writes the same partitions. */
  private readonly file = `part-${Date.now()}-${randomBytes(4).toString('hex')}.jsonl`;
  private readonly made = new Set<string>();

  /** @param dir the lake's folder (e.g. `DATA_DIR/lake`), made private if it is not. */
  constructor(readonly dir: string) {}

  /** The consumer's listener: writes the rows of the batch's new event records (quarantine notes have none). */
  readonly onStored = async (batch: StoredBatch): Promise<void> => {
    const rows = batch.inserted.flatMap(({ message }) =>
      message.kind === 'event'
        ? [lakeRowOf(message.record, message.policy?.keyed_by_id, countedAsReceived(message.policy))]
        : [],
    );
    await this.write(rows);
  };

  /**
   * Writes the row of every event stored in the table, as the stream transform makes it from the item: the local
   * lake of records stored before the sink listened, or by a process that does not tell it (`events reprocess`
   * run on its own), or lost in a crash between a batch and its rows. Rows already in the lake are written again;
   * the shipped queries count each record once.
   * @returns the rows written.
   */
  async backfill(client: DynamoDBClient, tableName: string): Promise<number> {
    let written = 0;
    for await (const items of scanPages(client, {
      TableName: tableName,
      FilterExpression: '#kind = :event',
      ExpressionAttributeNames: { '#kind': 'kind' },
      ExpressionAttributeValues: { ':event': { S: 'event' } },
      ConsistentRead: true,
    })) {
      const rows = items.flatMap((item) => {
        const row = lakeRowOfItem(item);
        return row ? [row] : [];
      });
      await this.write(rows);
      written += rows.length;
    }
    return written;
  }

  /** Appends rows to their partitions' files, each partition's rows in one write. */
  async write(rows: readonly LakeRow[]): Promise<void> {
    const byPartition = new Map<string, string[]>();
    for (const row of rows) {
      const path = lakePartitionPath(row);
      const lines = byPartition.get(path) ?? [];
      lines.push(JSON.stringify(row));
      byPartition.set(path, lines);
    }
    for (const [path, lines] of byPartition) {
      const folder = join(this.dir, path);
      if (!this.made.has(folder)) {
        await ensurePrivateDir(folder);
        this.made.add(folder);
      }
      await appendFile(join(folder, this.file), `${lines.join('\n')}\n`, { mode: PRIVATE_FILE_MODE });
    }
  }
}

/**
 * What an event counted as when received, as its stored item keeps it, so that a live row and the row rebuilt
 * from the table agree: `undefined` (the provider's current code tells) for a message without a policy, or whose
 * policy counts the event without saying as what, as the item then says nothing either.
 */
function countedAsReceived(policy: EventPolicy | undefined): CountedKind | null | undefined {
  if (!policy || (policy.counted && !policy.counted_as)) return undefined;
  return policy.counted_as ?? null;
}

const DUCKDB_TYPES: Record<(typeof LAKE_COLUMNS)[number]['type'], string> = {
  string: 'VARCHAR',
  boolean: 'BOOLEAN',
};

/**
 * The SQL that makes the local lake's files the `events` table the shipped queries read, for DuckDB: a view over
 * every partition's files, typed column by column as the deployed Iceberg table is. Run it, then any shipped
 * query as it is, binding its parameters in order.
 */
export function lakeViewSql(dir: string): string {
  const columns = LAKE_COLUMNS.map((column) => `'${column.name}': '${DUCKDB_TYPES[column.type]}'`).join(', ');
  const files = join(dir, 'day=*', 'provider=*', '*.jsonl').replaceAll("'", "''");
  return `CREATE OR REPLACE VIEW events AS SELECT * FROM read_json('${files}', format = 'newline_delimited', columns = {${columns}}, hive_partitioning = false)`;
}
