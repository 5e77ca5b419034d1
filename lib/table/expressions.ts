import type { AttributeValue, UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';

/** An update with a condition, as the conditional writers take it. */
export type ConditionalUpdate = UpdateItemCommandInput & { ConditionExpression: string };

/** `SET` clauses for attributes whose names come from data, with their placeholders. */
export interface Assignments {
  /** `#<prefix>0 = :<prefix>0`, … one per attribute. */
  sets: string[];
  names: Record<string, string>;
  values: Record<string, AttributeValue>;
}

/**
 * Placeholders for attributes to set: names and values go through `ExpressionAttributeNames` and `…Values`,
 * since an attribute name from data may be a DynamoDB reserved word or hold any character.
 * @param prefix tells these placeholders from the caller's own (`#a0`, `:a0`, …).
 */
export function assignments(attributes: Record<string, AttributeValue>, prefix = 'a'): Assignments {
  const result: Assignments = { sets: [], names: {}, values: {} };
  Object.entries(attributes).forEach(([name, value], i) => {
    result.names[`#${prefix}${i}`] = name;
    result.values[`:${prefix}${i}`] = value;
    result.sets.push(`#${prefix}${i} = :${prefix}${i}`);
  });
  return result;
}
