// The two receive builds the CPU benchmark compares, in one module that it bundles with the stack's bundling
// options (minified, ESM, node24 target): what is measured is built as what is deployed, for both.
import type { SQSClient, SQSClientConfig } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { composeReceiveHandler, RECEIVE_SQS_OPTIONS } from '../functions/receive-webhook/compose';
import { loadReceiveConfig } from '../lib/config';
import { levelFrom } from '../lib/log';
import { stubbedSqsClient } from './stub-sqs';
import { createTypicalHandler } from './typical-receive';

/** The log level the stack gives its functions (both builds run with it). */
export const DEPLOYED_LOG_LEVEL = 'INFO';
export const SECRET = 'bench-secret';
const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/000000000000/events';

const context = {
  functionName: 'bench',
  functionVersion: '1',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:0:function:bench',
  memoryLimitInMB: '256',
  awsRequestId: 'bench',
  logGroupName: 'bench',
  logStreamName: 'bench',
  getRemainingTimeInMillis: () => 4000,
  callbackWaitsForEmptyEventLoop: false,
} as never;

export type Invoke = (event: APIGatewayProxyEventV2) => Promise<unknown>;

/** Where the flows send: the SDK over a stub transport, or nothing beyond serializing the message. */
export type SendMode = 'sdk' | 'serialize-only';

function sqsFor(mode: SendMode, options: SQSClientConfig = {}): SQSClient {
  if (mode === 'sdk') return stubbedSqsClient(options).client;
  // Serializing the command's input is all the flow's own work; the SDK's signing and checksums are not.
  return {
    send: async (command: { input: unknown }) => ({
      MessageId: String(JSON.stringify(command.input).length),
    }),
  } as never;
}

/**
 * Our receive function exactly as the stack deploys it (`composeReceiveHandler`, the deployed log level and
 * metrics flushing), with the secret given directly instead of read from Secrets Manager (a cached read is all
 * an invocation does with it).
 */
export function ourHandler(mode: SendMode = 'sdk'): Invoke {
  const handler = composeReceiveHandler(loadReceiveConfig({ QUEUE_URL, SORI_SECRET_KEY: SECRET }), {
    sqs: sqsFor(mode, RECEIVE_SQS_OPTIONS),
    secretsManager: () => {
      throw new Error('the benchmark gives the secret directly');
    },
    logLevel: levelFrom(DEPLOYED_LOG_LEVEL),
  });
  return (event) => handler(event, context);
}

export function typicalHandler(mode: SendMode = 'sdk'): Invoke {
  const client = sqsFor(mode);
  const handler = createTypicalHandler(client, QUEUE_URL, SECRET);
  return (event) => handler(event, context);
}
