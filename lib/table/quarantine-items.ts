import type { ConditionalUpdate } from './expressions';
import { quarantinePartitionKey, RECORD_SORT_KEY, RECORDS_TABLE, RESOLVED_ATTRIBUTES } from './records-table';

/** The key of a quarantined delivery's item. */
export const quarantineKey = (id: string) => ({
  [RECORDS_TABLE.partitionKey]: { S: quarantinePartitionKey(id) },
  [RECORDS_TABLE.sortKey]: { S: RECORD_SORT_KEY },
});

/** The update that marks a quarantined delivery resolved with its record's id, once (the first run wins). */
export function resolvedUpdate(
  tableName: string,
  id: string,
  recordId: string,
  at: string,
): ConditionalUpdate {
  return {
    TableName: tableName,
    Key: quarantineKey(id),
    UpdateExpression: 'SET #at = :at, #record = :record',
    ConditionExpression: 'attribute_exists(#pk) AND attribute_not_exists(#at)',
    ExpressionAttributeNames: {
      '#pk': RECORDS_TABLE.partitionKey,
      '#at': RESOLVED_ATTRIBUTES.at,
      '#record': RESOLVED_ATTRIBUTES.record,
    },
    ExpressionAttributeValues: { ':at': { S: at }, ':record': { S: recordId } },
  };
}

/** The update that records the reason the current provider code gives, for an entry still not understood. */
export function reasonUpdate(tableName: string, id: string, reason: string): ConditionalUpdate {
  return {
    TableName: tableName,
    Key: quarantineKey(id),
    UpdateExpression: 'SET #reason = :reason',
    ConditionExpression: 'attribute_exists(#pk) AND attribute_not_exists(#at)',
    ExpressionAttributeNames: {
      '#pk': RECORDS_TABLE.partitionKey,
      '#reason': 'reason',
      '#at': RESOLVED_ATTRIBUTES.at,
    },
    ExpressionAttributeValues: { ':reason': { S: reason } },
  };
}
