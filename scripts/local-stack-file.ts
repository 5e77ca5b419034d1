// What `npm start` leaves in DATA_DIR for the tools: where the running local stack is, and the secret it verifies
// SORI deliveries with. The one module of the tools that reads the local stack's own files; the local servers
// themselves are loaded only to open a stopped stack's data, and the CLI bundle leaves them out.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { readDevSecret } from '../local/dev-secret';
import { LOCAL_TABLE_NAME, type LocalStackInfo, localClientConfig, STACK_FILE } from '../local/stack-info';

export type { LocalStackInfo };

/** The data directory `npm start` uses: env `DATA_DIR`, default `.data`. */
export const dataDir = () => resolve(process.env.DATA_DIR || '.data');

/** @returns the running local stack's coordinates, or `undefined` when none runs for this `DATA_DIR`. */
export async function findRunningStack(dir = dataDir()): Promise<LocalStackInfo | undefined> {
  const text = await readFile(join(dir, STACK_FILE), 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const info = JSON.parse(text) as LocalStackInfo;
  try {
    process.kill(info.pid, 0);
    return info;
  } catch {
    return undefined;
  }
}

/** @returns the secret the local stack verifies with: env `SORI_SECRET_KEY`, else the generated dev secret. */
export async function localSecret(dir = dataDir()): Promise<string | undefined> {
  return process.env.SORI_SECRET_KEY || (await readDevSecret(dir));
}

/** A DynamoDB client for the running local stack's table server, signed with the local stack's own key. */
export function runningStackDynamoDb(running: Pick<LocalStackInfo, 'dynamodbEndpoint'>): DynamoDBClient {
  return new DynamoDBClient(localClientConfig(running.dynamodbEndpoint));
}

/** An SQS client for an SQS-API server on this machine, signed with the local stack's placeholder key. */
export function localSqs(endpoint: string): SQSClient {
  return new SQSClient(localClientConfig(endpoint));
}

/** An SQS client for the running local stack's queue server. */
export const runningStackSqs = (running: Pick<LocalStackInfo, 'sqsEndpoint'>) =>
  localSqs(running.sqsEndpoint);

/** The region and key the local stack's tools sign with: a local server takes any. */
export const { region: ANY_REGION, credentials: PLACEHOLDER_CREDENTIALS } = localClientConfig('');

/**
 * A stopped local stack's table, served from its data on disk with dynalite, which is loaded only here: the
 * CLI bundle leaves it out, and an installed package has it only when its user adds it.
 * @throws the import's `ERR_MODULE_NOT_FOUND` when dynalite is not installed.
 */
export async function openStoppedTable(dir: string) {
  const { startDynamoDb } = await import('../local/aws-servers');
  const server = await startDynamoDb({ path: join(dir, 'dynamodb') });
  const client = new DynamoDBClient(localClientConfig(server.endpoint));
  return {
    client,
    tableName: LOCAL_TABLE_NAME,
    close: async () => {
      client.destroy();
      await server.stop();
    },
  };
}
