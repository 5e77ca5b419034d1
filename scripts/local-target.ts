import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { loadTableLayout } from '../lib/config';
import type { TableLayout } from '../lib/table/records-table';
import { findRegion, NO_REGION, requireRegion } from './aws-region';
import { UsageError } from './entry';
import {
  ANY_REGION,
  dataDir,
  findRunningStack,
  openStoppedTable,
  PLACEHOLDER_CREDENTIALS,
  runningStackDynamoDb,
  runningStackSqs,
} from './local-stack-file';
import { readStackOutputs, requireOutput } from './stack-outputs';

export { dataDir };

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

/** A stopped local stack's table, read from its data on disk; without dynalite, says in one line what to do. */
async function openStoppedData(dir: string) {
  try {
    return await openStoppedTable(dir);
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
  return { ...(await openStoppedData(dir)), layout: loadTableLayout() };
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
  const client = runningStackSqs(running);
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
