import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CampaignCounters, type RepairSummary } from '../../lib/ingest/campaign-counters';
import { createInvocationContext, createLambdaLogger, type InvocationInfo } from '../../lib/log';
import { signalMetricsLine } from '../../lib/signals/metrics';
import { readRepairConfig } from './config';

// Once per container: a missing variable fails the cold start loudly.
const config = readRepairConfig();
const invocation = createInvocationContext();
const logger = createLambdaLogger('repair-counters', config.logLevel, invocation.fields);
const counters = new CampaignCounters(
  new DynamoDBClient({}),
  config.tableName,
  config.layout,
  config.staleAfterMs,
);
counters.signalThresholds = config.signals;
counters.onRepairError = (subject, error) =>
  logger.warn('not settled; the next pass retries it', { ...subject, error });

/**
 * Runs on a schedule: folds the consumer batches' journal into the counter items (their one writer), counting a
 * batch that a killed or failed consumer left open from its own writes once it is stale. A failed pass throws
 * (the function's error alarm sees it) and the next one finishes what it left.
 */
export async function repairCounters(): Promise<RepairSummary> {
  const summary = await counters.repair();
  logger.info('repair pass', { ...summary });
  // The fraud and quality signals it raised, as metrics alarms can watch.
  process.stdout.write(`${signalMetricsLine(summary.signals)}\n`);
  return summary;
}

/** The scheduled entry point: each pass's lines name its invocation, as Powertools' logger would. */
export async function handler(_event: unknown, context?: Partial<InvocationInfo>): Promise<RepairSummary> {
  invocation.start(context);
  return repairCounters();
}
