import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { inject } from 'vitest';
import { ensureRecordsTable, RecordsRepository } from '../../lib/records/records-repository';
import { createEventQueues, localClientConfig } from '../../local/local-stack';

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
