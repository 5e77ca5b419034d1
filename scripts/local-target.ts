import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { loadTableLayout } from '../lib/config';
import type { TableLayout } from '../lib/table/records-table';
import { readDevSecret } from '../local/dev-secret';
import { LOCAL_TABLE_NAME, type LocalStackInfo, localClientConfig, STACK_FILE } from '../local/stack-info';
import { UsageError } from './entry';
import { readStackOutputs, requireOutput } from './stack-outputs';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

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

/**
 * Serves a stopped local stack's data on disk with dynalite, loaded only here: the CLI bundle leaves it out, and
 * an installed package has it only when its user adds it.
 */
async function openStoppedData(dir: string) {
  const { startDynamoDb } = await import('../local/aws-servers');
  try {
    return await startDynamoDb({ path: join(dir, 'dynamodb') });
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new Error(
      `no local stack runs on ${dir}: start it, or pass --endpoint and --table (reading a stopped stack's data needs dynalite)`,
    );
  }
}

export interface TableTarget {
  client: DynamoDBClient;
  tableName: string;
  layout: TableLayout;
  close(): Promise<void>;
}

/**
 * Finds the records table to read: the deployed stack's (`--stack`, from its outputs); `--endpoint`/`--table` (or env `EVENTS_ENDPOINT`/`EVENTS_TABLE`) when
 * given; else the local stack running on `DATA_DIR`; else, when the stack is stopped, its data on disk opened
 * directly.
 * @throws when there is nothing to read.
 */
export async function resolveTableTarget(flags: {
  endpoint?: string | undefined;
  table?: string | undefined;
  stack?: string | undefined;
}): Promise<TableTarget> {
  if (flags.stack) {
    const outputs = await readStackOutputs(flags.stack);
    const tableName = requireOutput(outputs, 'EventsTableName', flags.stack);
    const layout = loadTableLayout({
      SHARDS: outputs.Shards,
      RECORD_RETENTION_DAYS: outputs.RecordRetentionDays,
    });
    const client = new DynamoDBClient({});
    return { client, tableName, layout, close: async () => client.destroy() };
  }
  const endpoint = flags.endpoint ?? process.env.EVENTS_ENDPOINT;
  const table = flags.table ?? process.env.EVENTS_TABLE;
  if (endpoint || table) {
    if (!table) throw new UsageError('--table (or EVENTS_TABLE) is required with --endpoint');
    const client = new DynamoDBClient(endpoint ? { endpoint } : {});
    return { client, tableName: table, layout: loadTableLayout(), close: async () => client.destroy() };
  }
  const dir = dataDir();
  const running = await findRunningStack(dir);
  if (running) {
    const client = new DynamoDBClient(localClientConfig(running.dynamodbEndpoint));
    return {
      client,
      tableName: running.tableName,
      layout: running.layout,
      close: async () => client.destroy(),
    };
  }
  if (!existsSync(join(dir, 'dynamodb'))) {
    throw new Error(
      `no local data in ${dir}: start the stack with "npm start", or pass --endpoint and --table`,
    );
  }
  const server = await openStoppedData(dir);
  const client = new DynamoDBClient(localClientConfig(server.endpoint));
  return {
    client,
    tableName: LOCAL_TABLE_NAME,
    layout: loadTableLayout(),
    close: async () => {
      client.destroy();
      await server.stop();
    },
  };
}

export interface QueueTarget {
  client: SQSClient;
  queueUrl: string;
  dlqUrl: string;
  close(): void;
}

/**
 * Finds the events queue and its DLQ: the deployed stack's (`--stack`), else the running local stack's.
 * @throws when neither is there.
 */
export async function resolveQueueTarget(flags: { stack?: string | undefined }): Promise<QueueTarget> {
  if (flags.stack) {
    const outputs = await readStackOutputs(flags.stack);
    const client = new SQSClient({});
    return {
      client,
      queueUrl: requireOutput(outputs, 'QueueUrl', flags.stack),
      dlqUrl: requireOutput(outputs, 'DeadLetterQueueUrl', flags.stack),
      close: () => client.destroy(),
    };
  }
  const running = await findRunningStack();
  if (!running)
    throw new Error(`no local stack runs on ${dataDir()}: start it with "npm start", or pass --stack <name>`);
  const client = new SQSClient(localClientConfig(running.sqsEndpoint));
  return { client, queueUrl: running.queueUrl, dlqUrl: running.dlqUrl, close: () => client.destroy() };
}

/** Runs `use` with the records table `flags` point at (see {@link resolveTableTarget}), and closes it after. */
export async function withTable<T>(
  flags: Parameters<typeof resolveTableTarget>[0],
  use: (target: TableTarget) => Promise<T>,
): Promise<T> {
  const target = await resolveTableTarget(flags);
  try {
    return await use(target);
  } finally {
    await target.close();
  }
}
