import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { assignments, type ConditionalUpdate } from './expressions';
import { RECORD_SORT_KEY, RECORDS_TABLE, statePartitionKey } from './records-table';

/**
 * A provider's current state of an entity (a Symphony campaign's status), moved by its events in rank order.
 *
 * | item                                   | partition key                  | sort key  |
 * |----------------------------------------|--------------------------------|-----------|
 * | a provider's current state of an entity | `STATE#<provider>#<key>`      | `RECORD`  |
 */
export interface StateChange {
  /** The entity's key within the provider. */
  key: string;
  /** Higher ranks win; an equal rank wins with a later or equal `updated_at`. */
  rank: number;
  /** The fields to set (`updated_at` among them); `null` stores a null. */
  fields: Record<string, string | null>;
}

/**
 * The update that moves a state item forward, never back: it applies only when the change's rank is higher,
 * or equal with a later `updated_at`, so applying one again, or late, changes nothing.
 */
export function stateUpdate(tableName: string, provider: string, change: StateChange): ConditionalUpdate {
  const fields: Record<string, AttributeValue> = {};
  for (const [field, value] of Object.entries(change.fields))
    fields[field] = value === null ? { NULL: true } : { S: value };
  const extra = assignments(fields, 'f');
  return {
    TableName: tableName,
    Key: {
      [RECORDS_TABLE.partitionKey]: { S: statePartitionKey(provider, change.key) },
      [RECORDS_TABLE.sortKey]: { S: RECORD_SORT_KEY },
    },
    UpdateExpression: `SET ${['#rank = :rank', '#kind = :kind', '#provider = :provider', '#key = :key', ...extra.sets].join(', ')}`,
    ConditionExpression: 'attribute_not_exists(#pk) OR #rank < :rank OR (#rank = :rank AND #at <= :at)',
    ExpressionAttributeNames: {
      '#pk': RECORDS_TABLE.partitionKey,
      '#rank': 'rank',
      '#at': 'updated_at',
      '#kind': 'kind',
      '#provider': 'provider',
      '#key': 'state_key',
      ...extra.names,
    },
    ExpressionAttributeValues: {
      ':rank': { N: String(change.rank) },
      ':at': { S: change.fields.updated_at ?? '' },
      ':kind': { S: 'state' },
      ':provider': { S: provider },
      ':key': { S: change.key },
      ...extra.values,
    },
  };
}
