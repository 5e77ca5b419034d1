import type { AttributeValue, UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { assignments, type ConditionalUpdate } from './expressions';
import { COUNTED_ATTRIBUTE } from './records-table';
import { keyOf } from './table-io';

/**
 * The update that creates a device marker if needed and flags it `counted` by `writer` (the batch that sets
 * it), only if no one flagged it before.
 */
export function countedFlagUpdate(
  tableName: string,
  marker: Record<string, AttributeValue>,
  writer: string,
): ConditionalUpdate {
  return {
    ...countedFlagSet(tableName, marker, writer),
    ConditionExpression: 'attribute_not_exists(#counted)',
  };
}

/**
 * The update that creates a device marker if needed and flags it `counted` whatever it was (a recount making a
 * marker match the records; the flag is then `true`).
 */
export function countedFlagSet(
  tableName: string,
  marker: Record<string, AttributeValue>,
  writer?: string,
): UpdateItemCommandInput {
  const { pk, sk, ...rest } = marker;
  const extra = assignments(rest);
  return {
    TableName: tableName,
    Key: keyOf(marker),
    UpdateExpression: `SET ${['#counted = :by', ...extra.sets].join(', ')}`,
    ExpressionAttributeNames: { '#counted': COUNTED_ATTRIBUTE, ...extra.names },
    ExpressionAttributeValues: { ':by': writer ? { S: writer } : { BOOL: true }, ...extra.values },
  };
}
