import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { RECORDS_TABLE } from './records-table';
import { type Item, queryItems } from './table-io';

/**
 * The days a device was counted in each campaign, kept for the reach histograms (see `reach.ts`): the repair's
 * fold reads a device's items when it counts the device on a new day, to find the day before and the day after
 * in the campaign and across the provider's campaigns. Written by the fold alone; kept as long as the counters.
 *
 * | item                           | partition key                  | sort key      |
 * |--------------------------------|--------------------------------|---------------|
 * | a device's days in a campaign  | `REACH#<provider>#<device_id>` | `<campaign>`  |
 *
 * `days` is the set the histograms hold (see `encodeDays`); `base` and `fold` are the set before the fold that
 * last wrote the item, and that fold's id: a fold killed half-way and finished by another pass starts again from
 * `base`, so it moves the histograms once.
 */
export interface DeviceReach {
  campaignId: string;
  days: string;
  base: string;
  fold: string | undefined;
}

export const deviceReachPartitionKey = (provider: string, deviceId: string) =>
  `REACH#${provider}#${deviceId}`;

/** A device's days in each campaign of a provider (consistent: the fold reads what it wrote last). */
export async function readDeviceReach(
  client: DynamoDBClient,
  tableName: string,
  provider: string,
  deviceId: string,
): Promise<Map<string, DeviceReach>> {
  const items = await queryItems(client, {
    TableName: tableName,
    KeyConditionExpression: '#pk = :pk',
    ExpressionAttributeNames: { '#pk': RECORDS_TABLE.partitionKey },
    ExpressionAttributeValues: { ':pk': { S: deviceReachPartitionKey(provider, deviceId) } },
    ConsistentRead: true,
  });
  return new Map(
    items.map((item) => {
      const campaignId = item[RECORDS_TABLE.sortKey]?.S ?? '';
      return [
        campaignId,
        { campaignId, days: item.days?.S ?? '', base: item.base?.S ?? '', fold: item.fold?.S },
      ] as const;
    }),
  );
}

/** A device's days in a campaign as the fold writes them. */
export function deviceReachItem(provider: string, deviceId: string, reach: DeviceReach): Item {
  const item: Item = {
    [RECORDS_TABLE.partitionKey]: { S: deviceReachPartitionKey(provider, deviceId) },
    [RECORDS_TABLE.sortKey]: { S: reach.campaignId },
    kind: { S: 'reach' },
    days: { S: reach.days },
  };
  if (reach.base) item.base = { S: reach.base };
  if (reach.fold) item.fold = { S: reach.fold };
  return item;
}

/** The condition under which a device's item is still as the fold read it. */
export function deviceReachUnchanged(read: DeviceReach | undefined): {
  ConditionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues?: Record<string, AttributeValue>;
} {
  return read?.fold
    ? {
        ConditionExpression: '#fold = :fold',
        ExpressionAttributeNames: { '#fold': 'fold' },
        ExpressionAttributeValues: { ':fold': { S: read.fold } },
      }
    : read
      ? {
          ConditionExpression: 'attribute_not_exists(#fold)',
          ExpressionAttributeNames: { '#fold': 'fold' },
        }
      : {
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': RECORDS_TABLE.partitionKey },
        };
}
