// Log bytes the two functions write with the deployed log and metrics settings: the production handler modules
// run in this process against the local SQS-API and DynamoDB-API servers, their stdout and stderr counted.
// The signing secret comes from the environment instead of Secrets Manager (no local server for it); that
// only changes the cold start, which reads the secret once.
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, Context, SQSEvent } from 'aws-lambda';
import { signBody } from '../lib/signature/verify-signature';
import { startDynamoDb, startSqs } from '../local/aws-servers';
import { ensureRecordsTable } from '../local/create-records-table';
import { localClientConfig } from '../local/local-stack';

/**
 * Lambda's own START, END and REPORT lines: none, as the stack deploys the functions with the system log level
 * at WARN (in the text format they would be some 300 bytes per invocation).
 */
export const PLATFORM_LOG_BYTES_PER_INVOCATION = 0;

const EVENTS = 200;
const BATCH = 10;

function capture() {
  let bytes = 0;
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const count = (chunk: unknown) => {
    bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk as Uint8Array).byteLength;
    return true;
  };
  process.stdout.write = count as typeof process.stdout.write;
  process.stderr.write = count as typeof process.stderr.write;
  return {
    take() {
      const taken = bytes;
      bytes = 0;
      return taken;
    },
    restore() {
      process.stdout.write = out;
      process.stderr.write = err;
    },
  };
}

const context = (name: string) =>
  ({
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${name}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    getRemainingTimeInMillis: () => 10_000,
  }) as unknown as Context;

/** @returns log bytes per accepted event (receive) and per full batch (process), platform lines included. */
export async function measureLogBytes(): Promise<{ logBytesPerEvent: number; logBytesPerBatch: number }> {
  const sqsServer = await startSqs();
  const dynamodbServer = await startDynamoDb();
  const saved = { ...process.env };
  try {
    const sqs = new SQSClient(localClientConfig(sqsServer.endpoint));
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `bench-${randomUUID()}` }));
    const dynamodb = new DynamoDBClient(localClientConfig(dynamodbServer.endpoint));
    await ensureRecordsTable(dynamodb, 'bench-records');
    Object.assign(process.env, {
      QUEUE_URL: QueueUrl,
      TABLE_NAME: 'bench-records',
      SORI_SECRET_KEY: SECRET,
      AWS_ENDPOINT_URL_SQS: sqsServer.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamodbServer.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      // As the stack deploys them.
      POWERTOOLS_LOG_LEVEL: 'INFO',
      POWERTOOLS_METRICS_DISABLED: 'false',
      POWERTOOLS_DEV: 'false',
    });
    const handlers = await loadHandlers();
    const bodies = soriBodies();
    // The local SQS server spells queue URLs with a host that is no valid URL, so the SDK warns on every send;
    // in AWS it does not. Only that warning is left out of the count.
    const warn = console.warn;
    console.warn = (...args: unknown[]) => {
      if (args[0] instanceof TypeError && (args[0] as { input?: string }).input === QueueUrl) return;
      warn(...args);
    };
    const output = capture();
    let receiveBytes = 0;
    let processBytes = 0;
    try {
      receiveBytes = await receiveLogBytes(handlers.receive, bodies, output);
      processBytes = await processLogBytes(handlers.processBatch, bodies, output);
    } finally {
      output.restore();
      console.warn = warn;
    }
    sqs.destroy();
    dynamodb.destroy();
    return {
      logBytesPerEvent: receiveBytes / (EVENTS - 1) + PLATFORM_LOG_BYTES_PER_INVOCATION,
      logBytesPerBatch: processBytes + PLATFORM_LOG_BYTES_PER_INVOCATION,
    };
  } finally {
    process.env = saved;
    await sqsServer.stop();
    await dynamodbServer.stop();
  }
}

const SECRET = 'sk_bench';

/** The two functions' handlers, loaded once the environment is set (they read it as they load). */
async function loadHandlers() {
  const receive = (await import('../functions/receive-webhook/handler')).handler as unknown as (
    event: APIGatewayProxyEventV2,
    context: Context,
  ) => Promise<unknown>;
  const processBatch = (await import('../functions/process-webhook/handler')).handler as unknown as (
    event: SQSEvent,
    context: Context,
  ) => Promise<unknown>;
  return { receive, processBatch };
}

/** SORI impressions, each its own activity, from 20 devices. */
function soriBodies(): string[] {
  return Array.from({ length: EVENTS }, (_, i) =>
    JSON.stringify({
      event: 'campaign.impression',
      account_id: 'acc_123456',
      created_at: new Date().toISOString(),
      activity_id: `act_${i}`,
      device_id: `device_${i % 20}`,
      platform: 'Android',
      campaign: { id: 'cmp_1234', name: 'Fall Promotion' },
      timestamp: new Date().toISOString(),
    }),
  );
}

/** A signed POST of `body` to SORI's webhook, as API Gateway hands it to the receive function. */
const soriRequest = (body: string): APIGatewayProxyEventV2 =>
  ({
    version: '2.0',
    routeKey: 'POST /webhooks/{provider}',
    rawPath: '/webhooks/sori',
    rawQueryString: '',
    headers: {
      'content-type': 'application/json',
      'x-sori-signature': signBody(body, SECRET).toString('hex'),
    },
    requestContext: { http: { method: 'POST', path: '/webhooks/sori', sourceIp: '198.51.100.7' } },
    pathParameters: { provider: 'sori' },
    body,
    isBase64Encoded: false,
  }) as unknown as APIGatewayProxyEventV2;

type Output = ReturnType<typeof capture>;

/**
 * The receive function's log bytes over every event after the first: the first invocation is the cold start,
 * whose lines are once per container, not per event.
 */
async function receiveLogBytes(
  receive: Awaited<ReturnType<typeof loadHandlers>>['receive'],
  bodies: string[],
  output: Output,
): Promise<number> {
  const accepted = async (body: string) => {
    const result = (await receive(soriRequest(body), context('receive-webhook'))) as { statusCode: number };
    if (result.statusCode !== 202) throw new Error(`the receive function answered ${result.statusCode}`);
  };
  await accepted(bodies[0] as string);
  output.take();
  for (const body of bodies.slice(1)) await accepted(body);
  return output.take();
}

/** The process function's log bytes per full batch, the first (cold) batch left out. */
async function processLogBytes(
  processBatch: Awaited<ReturnType<typeof loadHandlers>>['processBatch'],
  bodies: string[],
  output: Output,
): Promise<number> {
  const { buildQueueMessage } = await import('../lib/receive/build-queue-message');
  const { sori } = await import('../lib/providers/sori');
  const records = bodies.map((body, i) => ({
    messageId: `m${i}`,
    body: JSON.stringify(buildQueueMessage(sori, Buffer.from(body), new Date().toISOString())),
  }));
  await processBatch({ Records: records.slice(0, BATCH) } as unknown as SQSEvent, context('process-webhook'));
  output.take();
  let batches = 0;
  for (let i = BATCH; i + BATCH <= records.length; i += BATCH) {
    await processBatch(
      { Records: records.slice(i, i + BATCH) } as unknown as SQSEvent,
      context('process-webhook'),
    );
    batches++;
  }
  return output.take() / batches;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await measureLogBytes());
}
