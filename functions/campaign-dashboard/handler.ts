import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createLambdaLogger, levelFrom } from '../../lib/log';
import { registerCustomProviders } from '../../lib/providers/declarative';
import { awsPipelineHealth, loadPipelineHealthConfig } from '../../lib/queries/pipeline-health';
import { composeDashboardHandler } from './compose';
import { loadDashboardConfig } from './config';
// The page travels inside the bundle: esbuild reads a `type: 'text'` import as the file's text.
import html from './page/index.html' with { type: 'text' };

// Once per container: a missing variable fails the cold start loudly.
registerCustomProviders(process.env.CUSTOM_PROVIDERS);
const config = loadDashboardConfig();
const logLevel = levelFrom(process.env.POWERTOOLS_LOG_LEVEL ?? process.env.LOG_LEVEL);
// Delivery health from CloudWatch and SQS, where the construct says to read it (`METRICS_NAMESPACE`, …).
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
