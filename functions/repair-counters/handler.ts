import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import middy from '@middy/core';
import { loadProcessConfig } from '../../lib/config';
import { CampaignCounters, type RepairSummary } from '../../lib/ingest/campaign-counters';

// Once per container: a missing variable fails the cold start loudly.
const config = loadProcessConfig();
const logger = new Logger({ serviceName: 'repair-counters' });
const counters = new CampaignCounters(
  new DynamoDBClient({}),
  config.tableName,
  config.layout,
  config.staleAfterMs,
);
counters.onRepairError = (key, error) =>
  logger.warn('campaign-day not settled; the next pass retries it', { ...key, error });

/**
 * Runs on a schedule: recounts every campaign-day that a killed or failed consumer batch left with stale
 * claims, so counters equal the stored records without waiting for more traffic. A failed pass throws (the
 * function's error alarm sees it) and the next one starts over.
 */
export async function repairCounters(): Promise<RepairSummary> {
  const summary = await counters.repair();
  logger.info('repair pass', { ...summary });
  return summary;
}

export const handler = middy(repairCounters).use(injectLambdaContext(logger));
