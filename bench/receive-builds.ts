// The two receive builds the CPU benchmark compares, in one module that it bundles with the stack's bundling
// options (minified, ESM, node24 target): what is measured is built as what is deployed, for both.
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { composeReceiveHandler, RECEIVE_SQS_TUNING } from '../functions/receive-webhook/compose';
import { readReceiveConfig } from '../lib/config';
import { levelFrom } from '../lib/log';
import { providerNames } from '../lib/providers';
import type { SendMessage } from '../lib/queue/event-queue';
import { sqsSendMessage } from '../lib/receive/services';
import { stubbedSqsClient, stubbedSqsTransport } from './stub-sqs';
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

/**
 * Where the flows send: each through its own SQS client (ours signed by our own code, the typical one the
 * SDK's) over a transport that answers in process, or nothing beyond serializing what would be sent.
 */
export type SendMode = 'send' | 'serialize-only';

const CREDENTIALS = { accessKeyId: 'bench', secretAccessKey: 'bench' };
// Serializing the input is all the flow's own work; signing and the client's machinery are not.
const serializeOnly = async (input: unknown) => ({ MessageId: String(JSON.stringify(input).length) });

function ourSend(mode: SendMode): SendMessage {
  if (mode === 'serialize-only') return serializeOnly;
  return sqsSendMessage('us-east-1', {
    ...RECEIVE_SQS_TUNING,
    transport: stubbedSqsTransport().transport,
    credentials: () => CREDENTIALS,
  });
}

function typicalSqs(mode: SendMode): SQSClient {
  if (mode === 'send') return stubbedSqsClient().client;
  return { send: (command: { input: unknown }) => serializeOnly(command.input) } as never;
}

/**
 * Our receive function exactly as the stack deploys it (`composeReceiveHandler`, the deployed log level and
 * metrics flushing), with the secret given directly instead of read from Secrets Manager (a cached read is all
 * an invocation does with it).
 */
export function ourHandler(mode: SendMode = 'send'): Invoke {
  const handler = composeReceiveHandler(
    readReceiveConfig({ QUEUE_URL, SORI_SECRET_KEY: SECRET }, providerNames()),
    {
      sendMessage: ourSend(mode),
      readSecret: () => {
        throw new Error('the benchmark gives the secret directly');
      },
      logLevel: levelFrom(DEPLOYED_LOG_LEVEL),
    },
  );
  return (event) => handler(event, context);
}

export function typicalHandler(mode: SendMode = 'send'): Invoke {
  const client = typicalSqs(mode);
  const handler = createTypicalHandler(client, QUEUE_URL, SECRET);
  return (event) => handler(event, context);
}
