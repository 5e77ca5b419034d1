import type { TestProject } from 'vitest/node';
import { startDynamoDb, startSqs } from '../../local/aws-servers';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamodbEndpoint: string;
    sqsEndpoint: string;
  }
}

/** One DynamoDB-API and one SQS-API server for the whole run; each test scopes its data with unique names. */
export default async function setup(project: TestProject) {
  const [dynamodb, sqs] = await Promise.all([startDynamoDb(), startSqs()]);
  project.provide('dynamodbEndpoint', dynamodb.endpoint);
  project.provide('sqsEndpoint', sqs.endpoint);
  return async () => {
    await Promise.all([dynamodb.stop(), sqs.stop()]);
  };
}
