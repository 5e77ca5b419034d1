// Receive CPU per event: the deployed receive composition (our flow + Powertools logger and metrics middleware)
// against the typical build of the same flow, both in this process with SQS answered by a stub transport.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createReceiveHandler } from '../functions/receive-webhook/receive-webhook';
import { fromPowertools } from '../lib/log';
import { PowertoolsMetrics } from '../lib/powertools-metrics';
import { EventQueue } from '../lib/queue/event-queue';
import { StaticSigningSecrets } from '../lib/signature/signing-secrets';
import { signBody } from '../lib/signature/verify-signature';
import { stubbedSqsClient } from './stub-sqs';
import { createTypicalHandler } from './typical-receive';

process.env.POWERTOOLS_METRICS_DISABLED = 'true';
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

function sqsFor(mode: SendMode): SQSClient {
  if (mode === 'sdk') return stubbedSqsClient().client;
  // Serializing the command's input is all the flow's own work; the SDK's signing and checksums are not.
  return {
    send: async (command: { input: unknown }) => ({
      MessageId: String(JSON.stringify(command.input).length),
    }),
  } as never;
}

export function ourHandler(mode: SendMode = 'sdk'): Invoke {
  const client = sqsFor(mode);
  const logger = new Logger({ serviceName: 'receive-webhook', logLevel: 'WARN' });
  const metrics = new Metrics({ namespace: 'Bench', serviceName: 'receive-webhook' });
  const handler = createReceiveHandler(
    {
      queue: new EventQueue(client, QUEUE_URL),
      secrets: new StaticSigningSecrets({ sori: { current: SECRET } }),
      maxBodyBytes: 262_144,
      logger: fromPowertools(logger),
      metrics: new PowertoolsMetrics(metrics),
    },
    logMetrics(metrics),
    injectLambdaContext(logger),
  );
  return (event) => handler(event, context);
}

export function typicalHandler(mode: SendMode = 'sdk'): Invoke {
  const client = sqsFor(mode);
  const handler = createTypicalHandler(client, QUEUE_URL, SECRET);
  return (event) => handler(event, context);
}

/** CPU microseconds (user + system) per event over `n` invocations, after a warm-up. */
async function cpuPerEvent(invoke: Invoke, n: number): Promise<number> {
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
