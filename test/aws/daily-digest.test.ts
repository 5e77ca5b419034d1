/**
 * The digest function's bundle against moto: the Alerts construct synthesized with its digest option (esbuild
 * bundling on, as a deploy uploads it), run in a fresh Node process with the environment its template gives it,
 * under an IAM user in moto carrying exactly the statements the template grants the function's role. A day of
 * SORI deliveries is stored in a records table in moto through the consumer's path, a message waits in the DLQ,
 * and an SQS queue subscribed to the topic receives what the function publishes (moto picks the message's
 * `default` body for it, as SNS does for an SQS subscriber of a `MessageStructure: json` message).
 *
 * moto authorizes SNS's `Publish` against no resource (it asks its policy engine about `*`): a statement naming
 * the topic never matches there, so moto's copy of the role's SNS statements names `*`, and the test checks in
 * moto's place that the template's statement names the topic and nothing else.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Alerts } from '../../infra/constructs/alerts';
import { RecordsTable } from '../../infra/constructs/records-table';
import { CampaignCounters } from '../../lib/ingest/campaign-counters';
import { EventWriter } from '../../lib/ingest/event-writer';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { DEFAULT_LAYOUT } from '../../lib/table/records-table';
import { ensureRecordsTable } from '../../local/create-records-table';
import { bundledFunction, invokeBundle, templateEnvironment } from '../support/bundles';
import { soriPayload } from '../support/deliveries';
import { uniqueName } from '../support/local-aws';
import { storeAndFold } from '../support/store-and-fold';
import { MOTO_ACCOUNT, MOTO_REGION, type PolicyDocument } from './support/iam';
import { moto } from './support/moto';
import { motoPolicy, type Physical, resolvedStatements, templateStatements } from './support/policy';
import { drain } from './support/queues';

const DAY = '2026-03-01';

/** One SORI delivery received on {@link DAY}, as the receive function queues it. */
const delivery = (event: 'impression' | 'click', activity: string, device: string, campaign: string) =>
  buildQueueMessage(
    sori,
    Buffer.from(
      JSON.stringify({
        ...soriPayload(event),
        activity_id: activity,
        device_id: device,
        created_at: `${DAY}T10:00:00.000Z`,
        campaign: { id: campaign, name: `Campaign ${campaign}` },
      }),
    ),
    `${DAY}T10:00:01.000Z`,
  );

let file: string;
let variables: Record<string, unknown>;
let statements: ReturnType<typeof templateStatements>;
let ids: { table: string; topic: string; dlq: string; logs: string };

beforeAll(async () => {
  const outdir = await mkdtemp(join(tmpdir(), 'digest-synth-'));
  const app = new App({ outdir });
  const stack = new Stack(app, 'DigestBundle', { env: { account: MOTO_ACCOUNT, region: MOTO_REGION } });
  const topic = new sns.Topic(stack, 'AlarmTopic', { enforceSSL: true });
  const records = new RecordsTable(stack, 'Records');
  const dlq = new sqs.Queue(stack, 'Dlq');
  const alerts = new Alerts(stack, 'Alerts', {
    topic,
    providers: [{ name: sori.name, events: sori.events }],
    digest: {
      table: records.table,
      shards: DEFAULT_LAYOUT.shards,
      recordRetentionDays: 0,
      logRetentionDays: 7,
      deadLetterQueue: dlq,
    },
  });
  app.synth();
  const resources = Template.fromStack(stack).toJSON().Resources;
  const id = (construct: { node: { defaultChild?: unknown } }) =>
    stack.resolve(stack.getLogicalId(construct.node.defaultChild as never)) as string;
  const digestFunction = alerts.digestFunction;
  if (!digestFunction) throw new Error('the digest option made no function');
  ids = { table: id(records.table), topic: id(topic), dlq: id(dlq), logs: id(digestFunction.logGroup) };
  const bundle = await bundledFunction(outdir, resources, id(digestFunction.function));
  file = bundle.file;
  variables = (bundle.properties.Environment?.Variables ?? {}) as Record<string, unknown>;
  statements = templateStatements(resources, id(digestFunction.role));
}, 180_000);

/** A records table holding {@link DAY}, a topic with a queue subscribed, and a DLQ holding one message, in moto. */
async function motoResources() {
  const { endpoint, admin, dynamodb, sqs: sqsClient } = moto();
  const tableName = uniqueName('records');
  await ensureRecordsTable(dynamodb, tableName);
  // cmp_a: two impressions of two devices and a click; cmp_b: one impression; then the first impression again.
  const writer = new EventWriter(dynamodb, tableName, DEFAULT_LAYOUT);
  const counters = new CampaignCounters(dynamodb, tableName, DEFAULT_LAYOUT);
  await storeAndFold(writer, counters, [
    delivery('impression', 'act_1', 'dev_0', 'cmp_a'),
    delivery('impression', 'act_2', 'dev_1', 'cmp_a'),
    delivery('click', 'act_3', 'dev_0', 'cmp_a'),
    delivery('impression', 'act_4', 'dev_2', 'cmp_b'),
  ]);
  await storeAndFold(writer, counters, [delivery('impression', 'act_1', 'dev_0', 'cmp_a')]);

  const snsClient = new SNSClient({ region: MOTO_REGION, endpoint, credentials: admin });
  const topicArn = (await snsClient.send(new CreateTopicCommand({ Name: uniqueName('alarms') })))
    .TopicArn as string;
  const inbox = (await sqsClient.send(new CreateQueueCommand({ QueueName: uniqueName('alarm-inbox') })))
    .QueueUrl as string;
  const arnOf = async (queueUrl: string) =>
    (
      await sqsClient.send(
        new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
      )
    ).Attributes?.QueueArn as string;
  await snsClient.send(
    new SubscribeCommand({
      TopicArn: topicArn,
      Protocol: 'sqs',
      Endpoint: await arnOf(inbox),
      Attributes: { RawMessageDelivery: 'true' },
    }),
  );
  const dlqUrl = (await sqsClient.send(new CreateQueueCommand({ QueueName: uniqueName('dlq') })))
    .QueueUrl as string;
  await sqsClient.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: '{"kind":"event"}' }));

  const logGroup = uniqueName('digest-logs');
  const physical: Record<string, Physical> = {
    [ids.table]: {
      ref: tableName,
      attributes: { Arn: `arn:aws:dynamodb:${MOTO_REGION}:${MOTO_ACCOUNT}:table/${tableName}` },
    },
    [ids.topic]: { ref: topicArn, attributes: { TopicArn: topicArn } },
    [ids.dlq]: { ref: dlqUrl, attributes: { Arn: await arnOf(dlqUrl) } },
    [ids.logs]: {
      ref: logGroup,
      attributes: { Arn: `arn:aws:logs:${MOTO_REGION}:${MOTO_ACCOUNT}:log-group:${logGroup}:*` },
    },
  };
  return { endpoint, tableName, topicArn, inbox, dlqUrl, physical };
}

/**
 * The role's statements as moto judges them (see {@link motoPolicy}), SNS's actions on `*`, after checking that
 * each SNS statement of the template names the topic, and only it.
 */
function digestPolicy(resources: Awaited<ReturnType<typeof motoResources>>, keep = (_: string) => true) {
  const resolved = resolvedStatements(statements, resources.physical)
    .map((statement) => ({ ...statement, Action: [statement.Action].flat().filter(keep) }))
    .filter((statement) => statement.Action.length > 0);
  for (const statement of resolved.filter((s) => s.Action.some((action) => action.startsWith('sns:'))))
    expect(statement.Resource).toEqual([resources.topicArn]);
  const policy = motoPolicy(resolved);
  return {
    ...policy,
    Statement: policy.Statement.map((statement) =>
      [statement.Action].flat().some((action) => action.startsWith('sns:'))
        ? { ...statement, Resource: '*' }
        : statement,
    ),
  };
}

/** Runs the bundle as Lambda would, signed with `policy`'s user's key, for `day`. */
async function runDigest(resources: Awaited<ReturnType<typeof motoResources>>, policy: PolicyDocument) {
  const key = await moto().createUser(uniqueName('digest-fn'), policy);
  return invokeBundle(
    file,
    {
      ...templateEnvironment(variables, {
        TABLE_NAME: resources.tableName,
        TOPIC_ARN: resources.topicArn,
        DLQ_URL: resources.dlqUrl,
      }),
      AWS_REGION: MOTO_REGION,
      AWS_LAMBDA_FUNCTION_NAME: 'daily-digest',
      AWS_ACCESS_KEY_ID: key.accessKeyId,
      AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
      AWS_ENDPOINT_URL: resources.endpoint,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    { day: DAY },
  );
}

describe('the daily digest bundle against moto', () => {
  it("publishes the day's campaigns and delivery health to the topic, signed by a user holding only its role's grants", async () => {
    const resources = await motoResources();
    const result = await runDigest(resources, digestPolicy(resources));
    expect(result).toMatchObject({ day: DAY, campaigns: 2, messageId: expect.any(String) });

    const [message, ...others] = await drain(resources.inbox);
    expect(others).toEqual([]);
    const text = message?.Body ?? '';
    expect(text).toContain(`campaign-inbox daily digest for ${DAY} (UTC)`);
    expect(text).toContain(
      `Campaigns on ${DAY} (UTC): 2 campaigns · 3 impressions · 1 click · CTR 33.33% · 3 unique devices`,
    );
    expect(text).toContain(
      ' 1. Campaign cmp_a (sori/cmp_a): 2 impressions, 1 click, CTR 50.00%, 2 unique devices',
    );
    expect(text).toContain('Received 5 · stored 4 · duplicates 1 · quarantined 0');
    // The DLQ's one message, read with GetQueueAttributes; no refusal metric in moto, so none refused.
    expect(text).toContain('refused 0 · dead letters 1 (now)');
  }, 120_000);

  it('fails, publishing nothing, when the role may not publish to the topic', async () => {
    const resources = await motoResources();
    const withoutPublish = digestPolicy(resources, (action) => action !== 'sns:Publish');
    await expect(runDigest(resources, withoutPublish)).rejects.toThrow(
      /AuthorizationError|not authorized|403/,
    );
    expect(await drain(resources.inbox)).toEqual([]);
  }, 120_000);
});
