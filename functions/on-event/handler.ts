// The user's module, put in place by the bundler (an esbuild alias to the `onEventModule` setting's file).
import onEvent from 'campaign-inbox:on-event';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { createInvocationContext, createLambdaLogger, type InvocationInfo, levelFrom } from '../../lib/log';
import { createOnEventHandler } from './on-event';

// Once per container: the deployed functions' one log shape, at the level the environment asks for.
const invocation = createInvocationContext();
const logger = createLambdaLogger(
  'on-event',
  levelFrom(process.env.POWERTOOLS_LOG_LEVEL ?? process.env.LOG_LEVEL),
  invocation.fields,
);
const react = createOnEventHandler(onEvent, logger);

/** Runs the user's function once for each newly stored event (see {@link createOnEventHandler}). */
export async function handler(
  event: DynamoDBStreamEvent,
  context?: Partial<InvocationInfo>,
): Promise<DynamoDBBatchResponse> {
  invocation.start(context);
  return react(event);
}
