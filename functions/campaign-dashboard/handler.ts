import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { levelFrom } from '../../lib/log';
// The page travels inside the bundle: esbuild reads a `type: 'text'` import as the file's text.
import html from '../../local/dashboard/index.html' with { type: 'text' };
import { composeDashboardHandler } from './compose';
import { loadDashboardConfig } from './config';

// Once per container: a missing variable fails the cold start loudly.
const config = loadDashboardConfig();

export const handler = composeDashboardHandler(config, html, {
  dynamodb: new DynamoDBClient({}),
  logLevel: levelFrom(process.env.POWERTOOLS_LOG_LEVEL ?? process.env.LOG_LEVEL),
});
