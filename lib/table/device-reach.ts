import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { callOptions } from './deadline';
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

/** The partition of a device's reach items: one per device of a provider, sorted by campaign. */
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

/**
 * The accounts a device signed in to (the fraud signal "one device in many accounts"), kept by the fold alone,
 * written only when a login names an account the device had not signed in to: once per device and account,
 * not once per login.
 *
 * | item                          | partition key                     | sort key   |
 * |-------------------------------|-----------------------------------|------------|
 * | a device's accounts           | `ACCOUNTS#<provider>#<device_id>` | `ACCOUNTS` |
 */
export const deviceAccountsKey = (provider: string, deviceId: string): Item => ({
  [RECORDS_TABLE.partitionKey]: { S: `ACCOUNTS#${provider}#${deviceId}` },
  [RECORDS_TABLE.sortKey]: { S: 'ACCOUNTS' },
});

/**
 * Adds accounts to a device's, keeping at most `keep` (once over the threshold a device is flagged, and its
 * later accounts change nothing: the item stays small whatever a farm device does). A union, so a fold taken
 * over adds the same accounts again for nothing.
 * @returns how many accounts the device has signed in to, up to `keep`.
 * @throws the SDK's error.
 */
export async function addDeviceAccounts(
  client: DynamoDBClient,
  tableName: string,
  provider: string,
  deviceId: string,
  accounts: readonly string[],
  keep: number,
): Promise<number> {
  const key = deviceAccountsKey(provider, deviceId);
  const { Item } = await client.send(
    new GetItemCommand({ TableName: tableName, Key: key, ConsistentRead: true }),
    callOptions(),
  );
  const known = new Set(Item?.accounts?.SS ?? []);
  const fresh = accounts.filter((account) => !known.has(account));
  if (known.size >= keep || fresh.length === 0) return known.size;
  const added = fresh.slice(0, keep - known.size);
  try {
    const { Attributes } = await client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: key,
        UpdateExpression: 'SET #kind = :kind ADD #accounts :accounts',
        ConditionExpression: 'attribute_not_exists(#accounts) OR size(#accounts) < :keep',
        ExpressionAttributeNames: { '#kind': 'kind', '#accounts': 'accounts' },
        ExpressionAttributeValues: {
          ':kind': { S: 'device-accounts' },
          ':accounts': { SS: added },
          ':keep': { N: String(keep) },
        },
        ReturnValues: 'ALL_NEW',
      }),
      callOptions(),
    );
    return Attributes?.accounts?.SS?.length ?? known.size + added.length;
  } catch (error) {
    // Filled meanwhile by another fold: the device has `keep` accounts.
    if ((error as Error).name === 'ConditionalCheckFailedException') return keep;
    throw error;
  }
}
