import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { createInvocationContext, createLambdaLogger, type InvocationInfo } from '../../lib/log';
import { DashboardReader } from '../../lib/queries/dashboard';
import { awsPipelineHealth, loadPipelineHealthConfig } from '../../lib/queries/pipeline-health';
import { readDigestEnvironment } from './config';
import { createDailyDigest } from './daily-digest';

// Once per container: a missing variable fails the cold start loudly. The configured providers are served
// first, then delivery health is read where the construct says.
const { tableName, layout, topicArn, logLevel } = readDigestEnvironment();
const health = loadPipelineHealthConfig();
const invocation = createInvocationContext();
const logger = createLambdaLogger('daily-digest', logLevel, invocation.fields);
const sns = new SNSClient({});

const sendDigest = createDailyDigest({
  reader: new DashboardReader(
    new DynamoDBClient({}),
    tableName,
    layout,
    health ? awsPipelineHealth(health, { logger }) : undefined,
  ),
  publish: (input) => sns.send(new PublishCommand(input)),
  topicArn,
  logger,
});

/** The schedule's target: yesterday's digest, or the `day` a manual invocation names. */
export async function handler(event?: unknown, context?: Partial<InvocationInfo>) {
  invocation.start(context);
  return sendDigest(event);
}
