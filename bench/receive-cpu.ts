// Receive CPU per event: the deployed receive function (its composition, log level and metrics) against the
// typical build of the same flow with its usual deployed settings, both in this process, SQS answered by a stub
// transport.
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { SQSClient, SQSClientConfig } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { composeReceiveHandler, RECEIVE_SQS_OPTIONS } from '../functions/receive-webhook/compose';
import { loadReceiveConfig } from '../lib/config';
import { levelFrom } from '../lib/log';
import { signBody } from '../lib/signature/verify-signature';
import { stubbedSqsClient } from './stub-sqs';
import { createTypicalHandler } from './typical-receive';

/** The log level the stack gives its functions (both builds run with it). */
const DEPLOYED_LOG_LEVEL = 'INFO';
process.env.POWERTOOLS_LOG_LEVEL = DEPLOYED_LOG_LEVEL;
const SECRET = 'bench-secret';
const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/000000000000/events';
const FIXTURES = ['impression', 'click', 'authentication', 'admin-material-created'];

function events(): APIGatewayProxyEventV2[] {
  return FIXTURES.map((name) => {
    const body = JSON.stringify(
      JSON.parse(readFileSync(join(import.meta.dirname, '../test/fixtures/sori', `${name}.json`), 'utf8')),
    );
    return {
      version: '2.0',
      routeKey: 'ANY /webhooks/{provider}',
      rawPath: '/webhooks/sori',
      rawQueryString: '',
      headers: {
        'content-type': 'application/json',
        'x-sori-signature': signBody(body, SECRET).toString('hex'),
      },
      pathParameters: { provider: 'sori' },
      requestContext: {
        accountId: '0',
        apiId: 'bench',
        domainName: 'bench',
        domainPrefix: 'bench',
        http: {
          method: 'POST',
          path: '/webhooks/sori',
          protocol: 'HTTP/1.1',
          sourceIp: '127.0.0.1',
          userAgent: 'bench',
        },
        requestId: 'bench',
        routeKey: 'ANY /webhooks/{provider}',
        stage: '$default',
        time: '',
        timeEpoch: 0,
      },
      body,
      isBase64Encoded: false,
    } as APIGatewayProxyEventV2;
  });
}

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

type Invoke = (event: APIGatewayProxyEventV2) => Promise<unknown>;

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

/**
 * Sends what the functions write (logs, metrics) to /dev/null while they are measured: each line still costs
 * its formatting and a write system call, as in Lambda, but no terminal slows either side down.
 */
function quiet<T>(run: () => Promise<T>): Promise<T> {
  const out = process.stdout.write;
  const err = process.stderr.write;
  const devNull = openSync('/dev/null', 'w');
  const write = ((chunk: string | Uint8Array) => {
    if (typeof chunk === 'string') writeSync(devNull, chunk);
    else writeSync(devNull, chunk);
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = write;
  process.stderr.write = write;
  return run().finally(() => {
    process.stdout.write = out;
    process.stderr.write = err;
    closeSync(devNull);
  });
}

/** CPU microseconds (user + system) per event over `n` invocations, after a warm-up. */
async function cpuPerEvent(invoke: Invoke, n: number): Promise<number> {
  return quiet(() => measure(invoke, n));
}

async function measure(invoke: Invoke, n: number): Promise<number> {
  const inputs = events();
  for (let i = 0; i < 1000; i++) {
    const input = inputs[i % inputs.length] as APIGatewayProxyEventV2;
    await invoke({ ...input, headers: { ...input.headers } });
  }
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    // A fresh event each time, as Lambda gives: the typical middleware set rewrites the event it is handed.
    const input = inputs[i % inputs.length] as APIGatewayProxyEventV2;
    const result = (await invoke({ ...input, headers: { ...input.headers } })) as { statusCode: number };
    if (result.statusCode !== 202) {
      throw new Error(`benchmark delivery ${i % inputs.length} answered ${JSON.stringify(result)}`);
    }
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

export interface ReceiveCpuFigures {
  oursMicros: number;
  typicalMicros: number;
  oursEventsPerSecond: number;
  typicalEventsPerSecond: number;
  ratio: number;
}

/** Alternates both flows `rounds` times and keeps each one's median. */
export async function measureReceiveCpu(mode: SendMode, n = 10_000, rounds = 5): Promise<ReceiveCpuFigures> {
  const ours = ourHandler(mode);
  const typical = typicalHandler(mode);
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < rounds; r++) {
    a.push(await cpuPerEvent(ours, n));
    b.push(await cpuPerEvent(typical, n));
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const oursMicros = median(a);
  const typicalMicros = median(b);
  return {
    oursMicros,
    typicalMicros,
    oursEventsPerSecond: 1e6 / oursMicros,
    typicalEventsPerSecond: 1e6 / typicalMicros,
    ratio: oursMicros / typicalMicros,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log('own work', await measureReceiveCpu('serialize-only'));
  console.log('with the SDK call', await measureReceiveCpu('sdk'));
}
