import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { histogramAttribute, histogramOf, REACH_ATTRIBUTE, type ReachHistogram } from './reach';
import { RECORDS_TABLE } from './records-table';
import { type LoginSignals, loginSignalAttributes, loginSignalsOf } from './signal-attributes';
import { type Item, queryItems } from './table-io';

/**
 * A provider's figures for one UTC day, written whole by the repair's fold alone (as the counter items are):
 * unique devices across all its campaigns, as a reach histogram of the day (see `reach.ts`), and what its
 * deliveries received that day came to.
 *
 * | item                        | partition key             | sort key |
 * |-----------------------------|---------------------------|----------|
 * | a provider's day            | `PROVIDERDAY#<provider>`  | `<day>`  |
 */
export interface ProviderDay {
  provider: string;
  day: string;
  /** Devices counted that day in any of the provider's campaigns, by gap to their previous such day. */
  reach: ReachHistogram;
  /** Deliveries the consumer settled that day (by the day they were received): stored, duplicate or quarantined. */
  received: number;
  /** Deliveries stored for the first time. */
  stored: number;
  /** Deliveries of an event already stored (a sender's retry, or SQS delivering twice). */
  duplicates: number;
  /** Deliveries kept in the quarantine (a payload the normalizer refused). */
  quarantined: number;
  /** The devices whose logins that day raised a fraud signal (absent: none). */
  signals?: LoginSignals;
}

/** A provider-day's delivery figures, in the order a journal entry lists them. */
export const DELIVERY_FIGURES = ['received', 'stored', 'duplicates', 'quarantined'] as const;
/** A provider-day's delivery figures by name (see {@link DELIVERY_FIGURES}). */
export type DeliveryFigures = Record<(typeof DELIVERY_FIGURES)[number], number>;

/** The partition of a provider's days: one item per UTC day, sorted by day. */
export const providerDayPartitionKey = (provider: string) => `PROVIDERDAY#${provider}`;

/** The key of a provider-day's item. */
export const providerDayKey = (provider: string, day: string): Item => ({
  [RECORDS_TABLE.partitionKey]: { S: providerDayPartitionKey(provider) },
  [RECORDS_TABLE.sortKey]: { S: day },
});

/** @returns the figures a provider-day item holds. */
export function fromProviderDayItem(item: Item): ProviderDay {
  const figure = (name: string) => Number(item[name]?.N ?? 0);
  return {
    provider: item.provider?.S ?? '',
    day: item[RECORDS_TABLE.sortKey]?.S ?? '',
    reach: histogramOf(item[REACH_ATTRIBUTE]),
    received: figure('received'),
    stored: figure('stored'),
    duplicates: figure('duplicates'),
    quarantined: figure('quarantined'),
    signals: loginSignalsOf(item),
  };
}

/** A provider-day item as the fold writes it whole, with its version and the fold that wrote it. */
export function providerDayItem(day: ProviderDay, version: number, fold: string): Item {
  return {
    ...providerDayKey(day.provider, day.day),
    kind: { S: 'provider-day' },
    provider: { S: day.provider },
    [REACH_ATTRIBUTE]: histogramAttribute(day.reach),
    received: { N: String(day.received) },
    stored: { N: String(day.stored) },
    duplicates: { N: String(day.duplicates) },
    quarantined: { N: String(day.quarantined) },
    version: { N: String(version) },
    fold: { S: fold },
    ...(day.signals ? loginSignalAttributes(day.signals) : {}),
  };
}

/**
 * A provider's days from `from` to `to` (UTC days, inclusive), oldest first: one query (eventually consistent,
 * half a read unit per 4 KB; an item is well under 1 KB).
 */
export async function readProviderDays(
  client: DynamoDBClient,
  tableName: string,
  provider: string,
  from: string,
  to: string,
): Promise<ProviderDay[]> {
  const items = await queryItems(client, {
    TableName: tableName,
    KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
    ExpressionAttributeNames: { '#pk': RECORDS_TABLE.partitionKey, '#sk': RECORDS_TABLE.sortKey },
    ExpressionAttributeValues: {
      ':pk': { S: providerDayPartitionKey(provider) },
      ':from': { S: from },
      ':to': { S: to },
    },
  });
  return items.map(fromProviderDayItem);
}
