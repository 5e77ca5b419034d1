import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createInvocationContext, createLambdaLogger, type InvocationInfo } from '../../lib/log';
import { awsPipelineHealth, loadPipelineHealthConfig } from '../../lib/queries/pipeline-health';
import { composeDashboardHandler } from './compose';
import { readDashboardEnvironment } from './config';
// The page travels inside the bundle: esbuild reads a `type: 'text'` import as the file's text.
import html from './page/index.html' with { type: 'text' };

// Once per container: a missing variable fails the cold start loudly. The configured providers are served
// first, then delivery health is read from CloudWatch and SQS, where the construct says to read it.
const { config, logLevel } = readDashboardEnvironment();
const health = loadPipelineHealthConfig();

const invocation = createInvocationContext();

const runtime = {
  dynamodb: new DynamoDBClient({}),
  logLevel,
  logContext: invocation.fields,
  ...(health
    ? {
        pipelineHealth: awsPipelineHealth(health, {
          logger: createLambdaLogger('campaign-dashboard', logLevel, invocation.fields),
        }),
      }
    : {}),
};
const serve = composeDashboardHandler(config, html, runtime);

/** The API's integration: each request's log lines name its invocation, as Powertools' logger would. */
export async function handler(event: APIGatewayProxyEventV2, context?: Partial<InvocationInfo>) {
  invocation.start(context);
  return serve(event);
}
