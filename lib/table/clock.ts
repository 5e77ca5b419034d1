import { type DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { foldStateKey } from './counter-items';
import { callOptions } from './deadline';

/**
 * How far this machine's clock is from the table's server (ms; positive when the server is ahead), from the
 * `Date` header of one small read. The header has whole seconds, so the figure is good to about a second.
 * @returns `undefined` when the server sends no `Date` header.
 */
export async function tableClockOffsetMs(
  client: DynamoDBClient,
  tableName: string,
): Promise<number | undefined> {
  let date: string | undefined;
  const command = new GetItemCommand({ TableName: tableName, Key: foldStateKey() });
  command.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      date = (result.response as { headers?: Record<string, string> }).headers?.date;
      return result;
    },
    { step: 'deserialize', name: 'readServerDate' },
  );
  const before = Date.now();
  await client.send(command, callOptions());
  const after = Date.now();
  const server = date === undefined ? Number.NaN : Date.parse(date);
  if (Number.isNaN(server)) return undefined;
  // The header cuts the server's time to the second: on average half a second earlier than it was.
  return server + 500 - (before + after) / 2;
}
