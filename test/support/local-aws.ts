import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { inject } from 'vitest';
import { ensureRecordsTable, RecordsRepository } from '../../lib/records/records-repository';
import { createEventQueues, drainQueue, localClientConfig } from '../../local/local-stack';

/** A name no other test uses, so tests sharing the local servers never see each other's data. */
export const uniqueName = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

export function localClients() {
  return {
    dynamodb: new DynamoDBClient(localClientConfig(inject('dynamodbEndpoint'))),
    sqs: new SQSClient(localClientConfig(inject('sqsEndpoint'))),
  };
}

/** A fresh records table on the run's DynamoDB-API server. */
export async function createTestTable(dynamodb: DynamoDBClient) {
  const tableName = uniqueName('records');
  await ensureRecordsTable(dynamodb, tableName);
  return { tableName, repository: new RecordsRepository(dynamodb, tableName) };
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
