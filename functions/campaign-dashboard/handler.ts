import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createLambdaLogger } from '../../lib/log';
import { awsPipelineHealth, loadPipelineHealthConfig } from '../../lib/queries/pipeline-health';
import { composeDashboardHandler } from './compose';
import { readDashboardEnvironment } from './config';
// The page travels inside the bundle: esbuild reads a `type: 'text'` import as the file's text.
import html from './page/index.html' with { type: 'text' };

// Once per container: a missing variable fails the cold start loudly. The configured providers are served
// first, then delivery health is read from CloudWatch and SQS, where the construct says to read it.
const { config, logLevel } = readDashboardEnvironment();
const health = loadPipelineHealthConfig();

const runtime = {
  dynamodb: new DynamoDBClient({}),
  logLevel,
  ...(health
    ? {
        pipelineHealth: awsPipelineHealth(health, {
          logger: createLambdaLogger('campaign-dashboard', logLevel),
        }),
      }
    : {}),
};

export const handler = composeDashboardHandler(config, html, runtime);
