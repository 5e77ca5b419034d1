import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { inject } from 'vitest';
import { CampaignCounters } from '../../lib/ingest/campaign-counters';
import { EventWriter } from '../../lib/ingest/event-writer';
import { CampaignStats } from '../../lib/queries/campaign-stats';
import { RecordsRepository } from '../../lib/queries/records-repository';
import { DEFAULT_LAYOUT, type TableLayout } from '../../lib/table/records-table';
import { ensureRecordsTable } from '../../local/create-records-table';
import { createEventQueues, drainQueue, localClientConfig } from '../../local/local-stack';

/** A name no other test uses, so tests sharing the local servers never see each other's data. */
export const uniqueName = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

export function localClients() {
  return {
    dynamodb: new DynamoDBClient(localClientConfig(inject('dynamodbEndpoint'))),
    sqs: new SQSClient(localClientConfig(inject('sqsEndpoint'))),
  };
}

/** A fresh records table on the run's DynamoDB-API server, with its reader, writer, counters and stats. */
export async function createTestTable(
  dynamodb: DynamoDBClient,
  layout: TableLayout = DEFAULT_LAYOUT,
  staleAfterMs = 60_000,
) {
  const tableName = uniqueName('records');
  await ensureRecordsTable(dynamodb, tableName);
  return {
    tableName,
    repository: new RecordsRepository(dynamodb, tableName, layout),
    writer: new EventWriter(dynamodb, tableName, layout),
    counters: new CampaignCounters(dynamodb, tableName, layout, staleAfterMs),
    stats: new CampaignStats(dynamodb, tableName),
  };
}

/** A fresh events queue and DLQ on the run's SQS-API server. */
export async function createTestQueues(
  sqs: SQSClient,
  options: { visibilityTimeout?: number; maxReceiveCount?: number } = {},
) {
  const name = uniqueName('events');
  return createEventQueues(sqs, {
    name,
    dlqName: `${name}-dlq`,
    visibilityTimeout: options.visibilityTimeout ?? 1,
    maxReceiveCount: options.maxReceiveCount ?? 3,
  });
}

/** Polls `probe` until it returns a value other than `undefined`, or fails after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Every message now visible in a queue, removed from it. */
export async function takeMessages(sqs: SQSClient, queueUrl: string): Promise<string[]> {
  return drainQueue(sqs, queueUrl);
}

/** A DynamoDB command as the SDK middleware sees it. */
export interface SeenCommand {
  name: string;
  input: Record<string, unknown>;
}

/**
 * A DynamoDB client for the run's local server that counts every command and throws `fault()`'s error for
 * the commands it picks. Mock, by necessity: the local server cannot be made to throttle, time out or fail one
 * chosen write. Tests that use it say which fault they inject.
 */
export function faultyDynamoDb(fault: (command: SeenCommand) => Error | undefined = () => undefined) {
  const client = new DynamoDBClient(localClientConfig(inject('dynamodbEndpoint')));
  const seen: SeenCommand[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = { name: String(context.commandName), input: args.input as Record<string, unknown> };
      seen.push(command);
      const error = fault(command);
      if (error) throw error;
      return next(args);
    },
    { step: 'initialize', name: 'faultInjection' },
  );
  return { client, seen };
}
