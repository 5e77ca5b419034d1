/**
 * The dashboard's delivery health against moto: CloudWatch's `GetMetricData` over the AWS JSON 1.0 protocol,
 * signed by the project's own client and verified by moto, and SQS's `GetQueueAttributes`, each call judged by
 * moto against the statements the construct grants the dashboard function (read from a synthesized template:
 * test/support/dashboard-health-stack.ts, the construct given the events queue and its DLQ).
 *
 * What moto cannot do, and what stands in for it here:
 * - CloudWatch Logs does not turn embedded-metric lines into metrics in moto: the lines the receive flow writes
 *   are read as CloudWatch Logs reads them (test/support/emf.ts) and put with `PutMetricData` by the
 *   administrator, one datapoint per metric and dimension set, at the line's time.
 * - moto publishes no SQS metrics: the `AWS/SQS` `ApproximateAgeOfOldestMessage` points SQS would publish are put
 *   the same way.
 * - moto's IAM names CloudWatch's actions after the signing name (`monitoring:GetMetricData`), where IAM names
 *   them `cloudwatch:GetMetricData`: the user's policy in moto names both for each CloudWatch action the template
 *   grants, and nothing else.
 */
import { CreateQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flushMetrics } from '../../functions/receive-webhook/flush-metrics';
import { createReceiveHandler } from '../../functions/receive-webhook/receive-webhook';
import { AwsJsonClient } from '../../lib/aws/aws-json-client';
import { CloudWatchMetrics } from '../../lib/aws/cloudwatch-metrics';
import { EmfMetrics } from '../../lib/emf-metrics';
import { METRICS_NAMESPACE, RECEIVE_SERVICE } from '../../lib/metrics';
import { providerNames } from '../../lib/providers';
import {
  AwsPipelineHealth,
  awsPipelineHealth,
  loadPipelineHealthConfig,
  type PipelineHealthConfig,
} from '../../lib/queries/pipeline-health';
import { StaticSigningSecrets } from '../../lib/signature/signing-secrets';
import { synthesizeDashboardStack } from '../support/dashboard-health-stack';
import { hexSignature, memoryLogger, soriBody } from '../support/deliveries';
import { extractMetrics } from '../support/emf';
import { uniqueName } from '../support/local-aws';
import { type AwsKey, MOTO_REGION, type PolicyStatement } from './support/iam';
import { moto } from './support/moto';
import {
  motoPolicy,
  type Physical,
  resolvedStatements,
  resolveValue,
  templateStatements,
} from './support/policy';
import { type MotoProxy, startMotoProxy } from './support/proxy';

const DAY_MS = 86_400_000;
const dayOf = (time: number) => new Date(time).toISOString().slice(0, 10);

/** CloudWatch's API in moto, as its administrator. */
const cloudWatchAdmin = () =>
  new AwsJsonClient({
    service: 'monitoring',
    region: MOTO_REGION,
    endpoint: moto().endpoint,
    targetPrefix: 'GraniteServiceVersion20100801',
    jsonVersion: '1.0',
    credentials: () => moto().admin,
    maxAttempts: 1,
    timeoutMs: 10_000,
  });

interface Datapoint {
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
  value: number;
  timestamp: number;
}

/** Puts datapoints as CloudWatch would hold them (see the module comment). */
async function putDatapoints(points: Datapoint[]) {
  for (const point of points) {
    await cloudWatchAdmin().call('PutMetricData', {
      Namespace: point.namespace,
      MetricData: [
        {
          MetricName: point.name,
          Dimensions: Object.entries(point.dimensions).map(([Name, Value]) => ({ Name, Value })),
          Value: point.value,
          Unit: 'Count',
          Timestamp: point.timestamp / 1000,
        },
      ],
    });
  }
}

/** IAM's CloudWatch actions as moto names them too (see the module comment). */
function withMotoCloudWatchNames(statements: PolicyStatement[]): PolicyStatement[] {
  return statements.map((statement) => {
    const actions = [statement.Action].flat();
    const named = actions
      .filter((action) => action.startsWith('cloudwatch:'))
      .map((action) => action.replace('cloudwatch:', 'monitoring:'));
    return { ...statement, Action: [...actions, ...named] };
  });
}

interface Deployed {
  proxy: MotoProxy;
  queueUrl: string;
  dlqUrl: string;
  queueName: string;
  /** The dashboard function's statements for delivery health (CloudWatch and SQS), resolved to moto's queues. */
  statements: PolicyStatement[];
  /** Its environment as the template gives it, the queue URLs resolved. */
  environment: Record<string, string>;
}

/** The construct's template, its two queues made in moto, reached through the proxy. */
async function deploy(): Promise<Deployed> {
  const aws = moto();
  const proxy = await startMotoProxy(aws.endpoint);
  const { resources, ids } = synthesizeDashboardStack({ providers: ['sori', 'symphony'] });
  const physical: Record<string, Physical> = {};
  const made: Record<string, { url: string; name: string }> = {};
  for (const id of [ids.deadLetterQueue, ids.queue]) {
    const name = uniqueName(id.toLowerCase().slice(0, 40));
    const { QueueUrl = '' } = await aws.sqs.send(new CreateQueueCommand({ QueueName: name }));
    const url = new URL(new URL(QueueUrl).pathname, proxy.endpoint).href;
    physical[id] = { ref: url, attributes: { Arn: `arn:aws:sqs:${MOTO_REGION}:123456789012:${name}` } };
    made[id] = { url, name };
  }
  const health = templateStatements(resources, ids.role).filter((statement) =>
    [statement.Action].flat().some((action) => /^(cloudwatch|sqs):/.test(String(action))),
  );
  const fn = resources[ids.function]?.Properties.Environment as
    | { Variables: Record<string, unknown> }
    | undefined;
  const variables = fn?.Variables ?? {};
  const environment = Object.fromEntries(
    Object.entries(variables)
      .filter(([name]) =>
        ['METRICS_NAMESPACE', 'RECEIVE_METRICS_SERVICE', 'PROVIDERS', 'QUEUE_URL', 'DLQ_URL'].includes(name),
      )
      .map(([name, value]) => [name, resolveValue(value, physical)]),
  );
  return {
    proxy,
    queueUrl: made[ids.queue]?.url ?? '',
    dlqUrl: made[ids.deadLetterQueue]?.url ?? '',
    queueName: made[ids.queue]?.name ?? '',
    statements: resolvedStatements(health, physical),
    environment,
  };
}

/** An IAM user in moto carrying `statements`, and its key. */
async function userWith(statements: PolicyStatement[]): Promise<AwsKey> {
  return moto().createUser(uniqueName('dashboard'), motoPolicy(withMotoCloudWatchNames(statements)));
}

/**
 * Runs `read` as the deployed function would: its role's key and region in the process environment, every
 * AWS endpoint set to the proxy.
 */
async function asFunction<T>(
  key: AwsKey,
  deployed: Deployed,
  read: (config: PipelineHealthConfig) => Promise<T>,
) {
  const env = {
    ...deployed.environment,
    AWS_REGION: MOTO_REGION,
    AWS_ACCESS_KEY_ID: key.accessKeyId,
    AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
    AWS_ENDPOINT_URL_CLOUDWATCH: deployed.proxy.endpoint,
    AWS_ENDPOINT_URL_SQS: deployed.proxy.endpoint,
  };
  const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
  const unset = ['AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_ENDPOINT_URL'];
  const savedUnset = Object.fromEntries(unset.map((name) => [name, process.env[name]]));
  Object.assign(process.env, env);
  for (const name of unset) delete process.env[name];
  try {
    const config = loadPipelineHealthConfig(process.env);
    if (!config) throw new Error('the template gives the function no delivery health to read');
    return await read(config);
  } finally {
    for (const [name, value] of Object.entries({ ...saved, ...savedUnset })) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

/** Refusals the receive flow counts for these requests, as the embedded-metric lines it writes. */
async function refusalLines(): Promise<string> {
  const lines: string[] = [];
  const metrics = new EmfMetrics(
    METRICS_NAMESPACE,
    RECEIVE_SERVICE,
    (line) => lines.push(line),
    providerNames(),
  );
  const handler = createReceiveHandler(
    {
      queue: { send: async () => {} },
      secrets: new StaticSigningSecrets({ sori: { current: 'sk_moto_health_0123456789', previous: null } }),
      maxBodyBytes: 2_048,
      enabled: ['sori', 'symphony'],
      logger: memoryLogger().logger,
      metrics,
    },
    flushMetrics(metrics, 60_000),
  );
  const click = soriBody('click');
  const request = (
    path: string,
    init: { method?: string; body?: string; headers?: Record<string, string> },
  ) => ({
    version: '2.0',
    routeKey: 'ANY /webhooks/{provider}',
    rawPath: path,
    rawQueryString: '',
    headers: init.headers ?? {},
    pathParameters: { provider: path.split('/')[2] ?? '' },
    requestContext: { http: { method: init.method ?? 'POST', sourceIp: '203.0.113.10' } },
    body: init.body ?? '',
    isBase64Encoded: false,
  });
  const statuses: number[] = [];
  const send = async (path: string, init: Parameters<typeof request>[1]) => {
    const answer = await handler(
      request(path, init) as never,
      { getRemainingTimeInMillis: () => 4_000 } as never,
    );
    statuses.push(answer.statusCode ?? 0);
  };
  const wrong = { 'x-sori-signature': hexSignature(click, 'sk_wrong_0123456789') };
  await send('/webhooks/sori', { body: click, headers: wrong });
  await send('/webhooks/sori', { body: click, headers: wrong });
  await send('/webhooks/symphony', { body: 'x'.repeat(3_000) });
  await send(`/webhooks/${uniqueName('made-up')}`, { body: '{}' });
  await send('/webhooks/sori', { method: 'GET' });
  expect(statuses).toEqual([401, 401, 413, 404, 405]);
  return lines.join('\n');
}

let deployed: Deployed;
const now = Date.now();
const today = dayOf(now);
const threeDaysAgo = dayOf(now - 3 * DAY_MS);

beforeAll(async () => {
  deployed = await deploy();
  const points = extractMetrics(await refusalLines());
  await putDatapoints(points);
  // Three days ago: one refusal of sori's, under both dimension sets, as its line would have put it.
  const earlier = now - 3 * DAY_MS;
  await putDatapoints([
    {
      namespace: METRICS_NAMESPACE,
      name: 'Rejected',
      dimensions: { service: RECEIVE_SERVICE },
      value: 1,
      timestamp: earlier,
    },
    {
      namespace: METRICS_NAMESPACE,
      name: 'Rejected',
      dimensions: { service: RECEIVE_SERVICE, provider: 'sori' },
      value: 1,
      timestamp: earlier,
    },
    // What SQS publishes each minute: the oldest message's age in the events queue, the newest last.
    ...[30, 42].map((value, i) => ({
      namespace: 'AWS/SQS',
      name: 'ApproximateAgeOfOldestMessage',
      dimensions: { QueueName: deployed.queueName },
      value,
      timestamp: now - (5 - 3 * i) * 60_000,
    })),
  ]);
  const { sqs } = moto();
  await sqs.send(new SendMessageCommand({ QueueUrl: deployed.queueUrl, MessageBody: '{"waiting":true}' }));
  for (let i = 0; i < 3; i++)
    await sqs.send(new SendMessageCommand({ QueueUrl: deployed.dlqUrl, MessageBody: `{"dead":${i}}` }));
}, 120_000);
afterAll(() => deployed?.proxy.close());

describe('delivery health from moto’s CloudWatch and SQS', () => {
  it('reads refusals per provider for a day, the DLQ’s messages and the oldest message’s age, with only the calls the construct grants, each taken by moto', async () => {
    const key = await userWith(deployed.statements);
    const from = deployed.proxy.calls.length;
    const figures = await asFunction(key, deployed, (config) => awsPipelineHealth(config).read(today, today));
    expect(figures).toEqual({
      // Two 401s and a 413 of served providers, a 404 of a made-up name and a 405.
      refused: { total: 5, by_provider: { sori: 2, symphony: 1 } },
      dead_letters: 3,
      oldest_message_age_s: 42,
    });
    const calls = deployed.proxy.calls.slice(from);
    expect(calls.map((call) => `${call.service} ${call.action} ${call.status}`).sort()).toEqual([
      'monitoring GetMetricData 200',
      'monitoring GetMetricData 200',
      'sqs GetQueueAttributes 200',
      'sqs GetQueueAttributes 200',
    ]);
    expect(calls.every((call) => call.accessKeyId === key.accessKeyId && call.by === 'moto')).toBe(true);
  });

  it('sums a range’s days: a refusal three days ago counts in a range that holds that day, not in one that starts after it', async () => {
    const key = await userWith(deployed.statements);
    const [range, later] = await asFunction(key, deployed, async (config) => {
      const health = awsPipelineHealth(config);
      return [await health.read(threeDaysAgo, today), await health.read(dayOf(now - 2 * DAY_MS), today)];
    });
    expect(range?.refused).toEqual({ total: 6, by_provider: { sori: 3, symphony: 1 } });
    expect(later?.refused).toEqual({ total: 5, by_provider: { sori: 2, symphony: 1 } });
  });

  it('gives null for the figures of a source that refuses, and the others still: without GetMetricData no refusals and no age, without GetQueueAttributes no dead letters', async () => {
    const cloudWatchOnly = deployed.statements.filter((s) =>
      [s.Action].flat().some((a) => a.startsWith('cloudwatch:')),
    );
    const sqsOnly = deployed.statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('sqs:')));
    expect(cloudWatchOnly).toHaveLength(1);
    expect(sqsOnly).toHaveLength(1);
    const from = deployed.proxy.calls.length;
    const noMetrics = await asFunction(await userWith(sqsOnly), deployed, (config) =>
      awsPipelineHealth(config).read(today, today),
    );
    expect(noMetrics).toEqual({
      refused: { total: null, by_provider: {} },
      dead_letters: 3,
      oldest_message_age_s: null,
    });
    const noQueues = await asFunction(await userWith(cloudWatchOnly), deployed, (config) =>
      awsPipelineHealth(config).read(today, today),
    );
    expect(noQueues).toEqual({
      refused: { total: 5, by_provider: { sori: 2, symphony: 1 } },
      dead_letters: null,
      oldest_message_age_s: null,
    });
    // Refused by moto itself, as IAM would refuse them: the refusals' and the age's reads, then the DLQ's and
    // the events queue's counts (no age is asked of CloudWatch for a queue whose messages are unknown).
    const refused = deployed.proxy.calls.slice(from).filter((call) => call.status >= 400);
    expect(refused.map((call) => `${call.service} ${call.action} ${call.status}`).sort()).toEqual([
      'monitoring GetMetricData 403',
      'monitoring GetMetricData 403',
      'sqs GetQueueAttributes 403',
      'sqs GetQueueAttributes 403',
    ]);
  });

  it('reuses CloudWatch’s answer for a minute (each metric asked is billed) and asks again after it', async () => {
    const key = await userWith(deployed.statements);
    let clock = now;
    const read = () =>
      asFunction(key, deployed, async (config) => {
        const health = new AwsPipelineHealth({
          cloudWatch: new CloudWatchMetrics({ region: config.region }),
          sqs: new SQSClient({ region: config.region }),
          namespace: config.namespace,
          service: config.service,
          providers: config.providers,
          dlqUrl: config.dlqUrl,
          now: () => clock,
        });
        const first = await health.read(today, today);
        await putDatapoints([
          {
            namespace: METRICS_NAMESPACE,
            name: 'SignatureFailures',
            dimensions: { service: RECEIVE_SERVICE, provider: 'symphony' },
            value: 1,
            timestamp: now,
          },
          {
            namespace: METRICS_NAMESPACE,
            name: 'SignatureFailures',
            dimensions: { service: RECEIVE_SERVICE },
            value: 1,
            timestamp: now,
          },
        ]);
        const calls = deployed.proxy.calls.length;
        clock += 59_000;
        const reused = await health.read(today, today);
        const asked = deployed.proxy.calls
          .slice(calls)
          .filter((call) => call.action === 'GetMetricData').length;
        clock += 2_000;
        const renewed = await health.read(today, today);
        return { first, reused, asked, renewed };
      });
    const { first, reused, asked, renewed } = await read();
    expect(reused.refused).toEqual(first.refused);
    expect(asked).toBe(0);
    expect(renewed.refused.total).toBe((first.refused.total ?? 0) + 1);
    expect(renewed.refused.by_provider.symphony).toBe((first.refused.by_provider.symphony ?? 0) + 1);
  });

  it('says an empty events queue’s oldest message is 0 s old without asking CloudWatch, and null when the queue holds a message CloudWatch gives no age for', async () => {
    const { sqs } = moto();
    const queue = async () => {
      const { QueueUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('events') }));
      return { moto: QueueUrl, proxied: new URL(new URL(QueueUrl).pathname, deployed.proxy.endpoint).href };
    };
    const [empty, unmeasured] = [await queue(), await queue()];
    await sqs.send(new SendMessageCommand({ QueueUrl: unmeasured.moto, MessageBody: '{"waiting":true}' }));
    // The role's grant names the construct's queues: these two get the same grant, for this test only.
    const arn = (url: string) => `arn:aws:sqs:${MOTO_REGION}:123456789012:${url.split('/').pop()}`;
    const grants = deployed.statements.map((statement) =>
      [statement.Action].flat().includes('sqs:GetQueueAttributes')
        ? { ...statement, Resource: [arn(empty.moto), arn(unmeasured.moto)] }
        : statement,
    );
    const other = await userWith(grants);
    const ageWith = async (queueUrl: string) => {
      const from = deployed.proxy.calls.length;
      const figures = await asFunction(
        other,
        { ...deployed, environment: { ...deployed.environment, QUEUE_URL: queueUrl, DLQ_URL: '' } },
        (config) => awsPipelineHealth(config).read(today, today),
      );
      const askedAge = deployed.proxy.calls
        .slice(from)
        .some((call) => call.action === 'GetMetricData' && JSON.stringify(call.input).includes('AWS/SQS'));
      return { age: figures.oldest_message_age_s, askedAge };
    };
    expect(await ageWith(empty.proxied)).toEqual({ age: 0, askedAge: false });
    expect(await ageWith(unmeasured.proxied)).toEqual({ age: null, askedAge: true });
  });
});
