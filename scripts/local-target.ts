import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { loadTableLayout } from '../lib/config';
import type { TableLayout } from '../lib/table/records-table';
import { readDevSecret } from '../local/dev-secret';
import { LOCAL_TABLE_NAME, type LocalStackInfo, localClientConfig, STACK_FILE } from '../local/stack-info';
import { findRegion, NO_REGION, requireRegion } from './aws-region';
import { UsageError } from './entry';
import { readStackOutputs, requireOutput } from './stack-outputs';

/** The data directory `npm start` uses: env `DATA_DIR`, default `.data`. */
export const dataDir = () => resolve(process.env.DATA_DIR || '.data');

/**
 * `true` when the working directory is inside a clone of this project, where `npm start` runs the local stack:
 * the nearest package.json is this project's and `local/start.ts` is beside it (an installed copy of the
 * package has the same package.json, but no sources).
 */
export function inClone(from = process.cwd()): boolean {
  for (let folder = resolve(from); ; folder = dirname(folder)) {
    const manifest = join(folder, 'package.json');
    if (existsSync(manifest)) {
      try {
        const { name } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown };
        return name === 'campaign-inbox' && existsSync(join(folder, 'local/start.ts'));
      } catch {
        return false;
      }
    }
    if (dirname(folder) === folder) return false;
  }
}

/**
 * The failure of a tool that found no local stack to work on, in one line: what it looked for, where, and the
 * flag that names another target (`instead`). Only in a clone does it suggest `npm start`: a user's own app has
 * no such script.
 */
export function noLocalStack(instead: string, dir = dataDir()): Error {
  const next = inClone() ? `: start it with "npm start", or pass ${instead}` : `; pass ${instead}`;
  return new Error(`no local stack found in ${dir}${next}`);
}

/** What the table-reading tools take instead of a local stack. */
const TABLE_FLAGS = '--stack <name> (or --endpoint and --table)';

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

/** A DynamoDB client for the running local stack's table server, signed with the local stack's own key. */
export function runningStackDynamoDb(running: Pick<LocalStackInfo, 'dynamodbEndpoint'>): DynamoDBClient {
  return new DynamoDBClient(localClientConfig(running.dynamodbEndpoint));
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
      inClone()
        ? `no local stack runs in ${dir}: start it with "npm start", or pass ${TABLE_FLAGS}`
        : `no local stack runs in ${dir}, and reading its data needs dynalite (npm install dynalite); or pass ${TABLE_FLAGS}`,
    );
  }
}

export interface TableTarget {
  client: DynamoDBClient;
  tableName: string;
  layout: TableLayout;
  close(): Promise<void>;
}

/** Where a tool was told its table or queues are. */
export interface TargetFlags {
  endpoint?: string | undefined;
  table?: string | undefined;
  stack?: string | undefined;
  region?: string | undefined;
}

// A local server takes any region and key; the local stack's own are the ones its tools sign with.
const { region: ANY_REGION, credentials: PLACEHOLDER_CREDENTIALS } = localClientConfig('');

/** `true` for an endpoint on this machine: a local DynamoDB-API server, never AWS. */
function onThisMachine(endpoint: string): boolean {
  try {
    const host = new URL(endpoint).hostname;
    return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
  } catch {
    return false;
  }
}

/**
 * The client for a DynamoDB-API endpoint the user named. A server on this machine answers whatever region and
 * key are signed with: a user with no AWS settings at all can read it, with the AWS settings they have when
 * they have some (DynamoDB Local keeps a database per key and region). Anywhere else it is AWS, which needs both.
 */
async function endpointClient(endpoint: string | undefined, region: string | undefined) {
  const local = endpoint !== undefined && onThisMachine(endpoint);
  const chosen = (await findRegion(region)) ?? (local ? ANY_REGION : undefined);
  if (!chosen) throw new UsageError(NO_REGION);
  if (!local) return new DynamoDBClient({ ...(endpoint ? { endpoint } : {}), region: chosen });
  const probe = new DynamoDBClient({ region: chosen });
  const credentials = await probe.config.credentials().catch(() => PLACEHOLDER_CREDENTIALS);
  probe.destroy();
  return new DynamoDBClient({ endpoint, region: chosen, credentials });
}

/**
 * Finds the records table to read: the deployed stack's (`--stack`, from its outputs, in the region of
 * `--region` or the AWS settings); `--endpoint`/`--table` (or env `EVENTS_ENDPOINT`/`EVENTS_TABLE`) when given;
 * else the local stack running on `DATA_DIR`; else, when the stack is stopped, its data on disk opened directly.
 * @throws when there is nothing to read, saying in one line what to pass.
 */
export async function resolveTableTarget(flags: TargetFlags): Promise<TableTarget> {
  if (flags.stack) {
    const region = await requireRegion(flags.region);
    const outputs = await readStackOutputs(flags.stack, region);
    const tableName = requireOutput(outputs, 'EventsTableName', flags.stack);
    const layout = loadTableLayout({
      SHARDS: outputs.Shards,
      RECORD_RETENTION_DAYS: outputs.RecordRetentionDays,
    });
    const client = new DynamoDBClient({ region });
    return { client, tableName, layout, close: async () => client.destroy() };
  }
  const endpoint = flags.endpoint ?? process.env.EVENTS_ENDPOINT;
  const table = flags.table ?? process.env.EVENTS_TABLE;
  if (endpoint || table) {
    if (!table) throw new UsageError('--table (or EVENTS_TABLE) is required with --endpoint');
    const client = await endpointClient(endpoint, flags.region);
    return { client, tableName: table, layout: loadTableLayout(), close: async () => client.destroy() };
  }
  const dir = dataDir();
  const running = await findRunningStack(dir);
  if (running) {
    const client = runningStackDynamoDb(running);
    return {
      client,
      tableName: running.tableName,
      layout: running.layout,
      close: async () => client.destroy(),
    };
  }
  if (!existsSync(join(dir, 'dynamodb'))) throw noLocalStack(TABLE_FLAGS, dir);
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
 * Finds the events queue and its DLQ: the deployed stack's (`--stack`, in the region of `--region` or the AWS
 * settings), else the running local stack's.
 * @throws when neither is there, saying in one line what to pass.
 */
export async function resolveQueueTarget(flags: Pick<TargetFlags, 'stack' | 'region'>): Promise<QueueTarget> {
  if (flags.stack) {
    const region = await requireRegion(flags.region);
    const outputs = await readStackOutputs(flags.stack, region);
    const client = new SQSClient({ region });
    return {
      client,
      queueUrl: requireOutput(outputs, 'QueueUrl', flags.stack),
      dlqUrl: requireOutput(outputs, 'DeadLetterQueueUrl', flags.stack),
      close: () => client.destroy(),
    };
  }
  const running = await findRunningStack();
  if (!running) throw noLocalStack('--stack <name>');
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
