import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { loadTableLayout } from '../../lib/config';
import type { Destination, DestinationKind } from '../../lib/destinations/destination';
import { EventBridgeDestination } from '../../lib/destinations/eventbridge';
import { HttpDestination } from '../../lib/destinations/http';
import { SqsDestination } from '../../lib/destinations/sqs';
import { registerCustomProviders } from '../../lib/providers/declarative';
import { RangeReader } from '../../lib/replay/range-reader';
import { invokeAsync } from './invoke-self';
import { type ReplayLegResult, type ReplayRequest, replayLeg } from './replay-events';

/** The destinations a replay may send to, as the construct writes them (`REPLAY_DESTINATIONS`). */
interface ConfiguredDestinations {
  eventBusName?: string;
  queueUrl?: string;
  httpUrl?: string;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

// Once per container: a missing variable fails the cold start loudly.
const tableName = required('TABLE_NAME');
const region = required('AWS_REGION');
const functionName = required('AWS_LAMBDA_FUNCTION_NAME');
const configured = JSON.parse(required('REPLAY_DESTINATIONS')) as ConfiguredDestinations;
// No page starts with less than this left: a page of 100 events, each tried with backoff, ends well within it.
const reserveMs = Number(process.env.REPLAY_RESERVE_MS ?? 120_000);
registerCustomProviders(process.env.CUSTOM_PROVIDERS);
const logger = new Logger({ serviceName: 'replay-events' });
const dynamodb = new DynamoDBClient({});
const reader = new RangeReader({ client: dynamodb, tableName, layout: loadTableLayout() });
const destinations: Partial<Record<DestinationKind, Destination>> = {};
if (configured.eventBusName)
  destinations.eventbridge = new EventBridgeDestination({ region, bus: configured.eventBusName });
if (configured.queueUrl)
  destinations.sqs = new SqsDestination({ client: new SQSClient({}), queueUrl: configured.queueUrl });
if (configured.httpUrl) destinations.http = new HttpDestination({ url: configured.httpUrl });

/**
 * One leg of a replay (see {@link replayLeg}): pages until the range is sent or the time left is short, then
 * invokes this function again with the cursor reached.
 */
export async function replayEvents(request: ReplayRequest, context: Context): Promise<ReplayLegResult> {
  logger.info('replay leg', {
    leg: request.leg ?? 1,
    to: request.to,
    since: request.since,
    until: request.until,
  });
  const result = await replayLeg(request, {
    reader,
    destinations,
    remainingMs: () => context.getRemainingTimeInMillis(),
    reserveMs,
    continueWith: (next) => invokeAsync(next, { region, functionName }),
  });
  logger.info(result.status === 'complete' ? 'replay complete' : 'replay continues', { ...result });
  return result;
}

export const handler = middy(replayEvents).use(injectLambdaContext(logger));
