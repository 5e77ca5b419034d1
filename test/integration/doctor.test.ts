import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PurgeQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignStats } from '../../lib/queries/campaign-stats';
import { signBody } from '../../lib/signature/verify-signature';
import { scanPages } from '../../lib/table/table-io';
import { ensureRecordsTable } from '../../local/create-records-table';
import { readDevSecret } from '../../local/dev-secret';
import { localClientConfig } from '../../local/stack-info';
import { runEvents, runTool } from '../support/events-cli';
import { eventually } from '../support/local-aws';
import { type StackProcess, startStackProcess } from '../support/stack-process';

// The doctor run against a real local stack: its own process (npm start's), with its webhook server, its
// DynamoDB-API and SQS servers, and its poller storing and counting what the webhook accepts. With --stack, the
// same stack stands behind a deployed stack's outputs: CloudFormation and Secrets Manager have no server among
// the run's local ones, so a stand-in answers DescribeStacks, ListStackResources and GetSecretValue with what a
// deploy would give (see startDeployedStandIn); the table, the queues and the webhook are the local stack's.

const DOCTOR_CAMPAIGN = 'campaign-inbox-doctor';
let stack: StackProcess;
let dataDir: string;
let dynamodb: DynamoDBClient;
let sqs: SQSClient;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-doctor-'));
  stack = await startStackProcess(dataDir);
  dynamodb = new DynamoDBClient(localClientConfig(stack.info.dynamodbEndpoint));
  sqs = new SQSClient(localClientConfig(stack.info.sqsEndpoint));
}, 60_000);

afterAll(async () => {
  dynamodb?.destroy();
  sqs?.destroy();
  await stack?.kill('SIGTERM');
  await rm(dataDir, { recursive: true, force: true });
});

const doctor = (...args: string[]) => runTool('doctor', args, { DATA_DIR: dataDir });

/** Every item of the local table that mentions the doctor campaign, device or activity anywhere. */
async function doctorItems(): Promise<Record<string, AttributeValue>[]> {
  const found: Record<string, AttributeValue>[] = [];
  for await (const page of scanPages(dynamodb, { TableName: stack.info.tableName }))
    for (const item of page) {
      // The batches' journal names the campaign until its entries expire (they count nothing once folded).
      if (item.pk?.S === 'STATS#BATCH') continue;
      // So do the folds' lists of the items they wrote, for a day (a reader finds a listed item gone: nothing).
      if (item.pk?.S === 'STATS#FOLD') continue;
      if (JSON.stringify(item).includes(DOCTOR_CAMPAIGN)) found.push(item);
    }
  return found;
}

/** A SORI impression of `campaign`, signed with the local stack's own secret, posted to its webhook. */
async function postImpression(campaign: string, activity: string, device: string): Promise<number> {
  const now = new Date().toISOString();
  const body = JSON.stringify({
    event: 'campaign.impression',
    account_id: 'acc_doctor_test',
    created_at: now,
    activity_id: activity,
    device_id: device,
    platform: 'Android',
    metadata: null,
    campaign: { id: campaign, name: 'Fall Promotion', tags: [], image: null },
    material: { id: 'mat_5678', name: 'Audio Spot 15s', tags: [], image: null },
    timestamp: now,
  });
  const secret = (await readDevSecret(dataDir)) as string;
  const response = await fetch(stack.info.webhookUrls.sori as string, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-sori-signature': signBody(body, secret).toString('hex'),
    },
    body,
  });
  return response.status;
}

const impressionsOf = async (campaign: string) =>
  (await new CampaignStats(dynamodb, stack.info.tableName).campaignStats('sori', campaign)).reduce(
    (sum, row) => sum + row.impressions,
    0,
  );

/** The views a user reads: `events stats` and `events query` for the doctor campaign, as JSON lines. */
async function doctorViews() {
  const [stats, query] = await Promise.all([
    runEvents(['stats', '--campaign', DOCTOR_CAMPAIGN, '--json'], { DATA_DIR: dataDir }),
    runEvents(['query', '--campaign', DOCTOR_CAMPAIGN, '--json'], { DATA_DIR: dataDir }),
  ]);
  expect(stats.code).toBe(0);
  expect(query.code).toBe(0);
  return { stats: stats.stdout.trim(), query: query.stdout.trim() };
}

describe('doctor against the local stack', () => {
  it('passes every check on a healthy stack, one ok line each (alarms skipped: the local stack has none), exits 0, and leaves no test record, device marker or count behind while another campaign keeps its count', {
    timeout: 180_000,
  }, async () => {
    expect(await postImpression('cmp_neighbour', 'act_neighbour', 'device_neighbour')).toBe(202);
    await eventually(
      async () => ((await impressionsOf('cmp_neighbour')) === 1 ? true : undefined),
      60_000,
      'the other campaign to be counted',
    );

    const run = await doctor();

    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^ok {3}local stack on .* is running$/),
      'ok   SORI secret of the local stack read',
      expect.stringMatching(/^ok {3}webhook answered 202 in \d+ ms$/),
      expect.stringMatching(
        /^ok {3}record stored and counted after [\d.]+ s \(campaign campaign-inbox-doctor on \d{4}-\d{2}-\d{2}: 1 impression\)$/,
      ),
      'ok   dead-letter queue is empty',
      'skip alarms: the local stack has none (only a deployed stack has CloudWatch alarms)',
      // The event, its device marker and the campaign-day's counter item.
      'ok   test record, device marker and counter removed (4 items; no view counts campaign campaign-inbox-doctor)',
    ]);
    expect(await doctorItems()).toEqual([]);
    expect(await doctorViews()).toEqual({ stats: '', query: '' });
    expect(await impressionsOf('cmp_neighbour')).toBe(1);
  });

  it('with a secret the webhook does not accept: FAIL webhook answered 401 with what to check, no record waited for, nothing stored, exit 1', {
    timeout: 180_000,
  }, async () => {
    const run = await doctor('--secret', 'not-the-stack-secret');

    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      'FAIL webhook answered 401, not 202 ({"message":"Unauthorized"}): the secret given with --secret is not one the stack verifies with\n',
    );
    expect(run.stdout).toContain('skip record: no test delivery was accepted\n');
    expect(run.stdout).toContain('ok   dead-letter queue is empty\n');
    expect(await doctorItems()).toEqual([]);
  });

  it('with a message in the dead-letter queue: FAIL naming how many and the dlq list and redrive commands, the other checks still ok, the test record still removed, exit 1', {
    timeout: 180_000,
  }, async () => {
    await sqs.send(new SendMessageCommand({ QueueUrl: stack.info.dlqUrl, MessageBody: '{"dead":"letter"}' }));
    try {
      const run = await doctor();

      expect(run.code).toBe(1);
      expect(run.stdout).toContain(
        'FAIL dead-letter queue holds 1 message: see why with npm run -s events -- dlq list, then after a fix npm run -s events -- redrive\n',
      );
      expect(run.stdout).toMatch(/^ok {3}webhook answered 202 in \d+ ms$/m);
      expect(run.stdout).toMatch(/^ok {3}record stored and counted after /m);
      expect(run.stdout).toContain('ok   test record, device marker and counter removed (4 items;');
      expect(run.stdout).not.toMatch(/^FAIL (?!dead-letter)/m);
      expect(await doctorItems()).toEqual([]);
      expect(await doctorViews()).toEqual({ stats: '', query: '' });
    } finally {
      await sqs.send(new PurgeQueueCommand({ QueueUrl: stack.info.dlqUrl }));
    }
  });

  it('removes what an earlier run left under the doctor campaign (a test delivery stored after its run gave up)', {
    timeout: 180_000,
  }, async () => {
    expect(await postImpression(DOCTOR_CAMPAIGN, 'doctor-left-behind', 'campaign-inbox-doctor-left')).toBe(
      202,
    );
    await eventually(
      async () => ((await impressionsOf(DOCTOR_CAMPAIGN)) === 1 ? true : undefined),
      60_000,
      'the left-behind test delivery to be counted',
    );

    const run = await doctor();

    expect(run.code).toBe(0);
    // Both runs' events and device markers, and the one counter item of the day.
    expect(run.stdout).toContain('ok   test record, device marker and counter removed (7 items;');
    expect(run.stdout).toMatch(
      /record stored and counted after [\d.]+ s \(campaign campaign-inbox-doctor on [\d-]+: 2 impressions\)/,
    );
    expect(await doctorItems()).toEqual([]);
    expect(await doctorViews()).toEqual({ stats: '', query: '' });
  });

  it('with --url, --endpoint and --table (no local stack on DATA_DIR): the same checks on the named webhook and table, the dead-letter queue skipped as there is none to check, exit 0, the test record removed', {
    timeout: 180_000,
  }, async () => {
    const run = await runTool(
      'doctor',
      [
        '--url',
        stack.info.webhookUrls.sori as string,
        '--endpoint',
        stack.info.dynamodbEndpoint,
        '--table',
        stack.info.tableName,
        '--secret',
        (await readDevSecret(dataDir)) as string,
      ],
      { DATA_DIR: '/nonexistent-campaign-inbox' },
    );

    expect(run.code).toBe(0);
    expect(run.stdout.trim().split('\n')).toEqual([
      `ok   table ${stack.info.tableName}`,
      expect.stringMatching(/^ok {3}webhook answered 202 in \d+ ms$/),
      expect.stringMatching(/^ok {3}record stored and counted after /),
      'skip dead-letter queue: none to check here (pass --stack, or run against the local stack)',
      'skip alarms: the local stack has none (only a deployed stack has CloudWatch alarms)',
      'ok   test record, device marker and counter removed (4 items; no view counts campaign campaign-inbox-doctor)',
    ]);
    expect(await doctorItems()).toEqual([]);
  });

  it('when the record never shows up where it looks (a table the webhook does not write to): FAIL record not queryable after the wait, with the process logs and dlq list as next steps, exit 1; the next run on the right table removes the delivery stored meanwhile', {
    timeout: 180_000,
  }, async () => {
    await ensureRecordsTable(dynamodb, 'doctor-elsewhere');
    const secret = (await readDevSecret(dataDir)) as string;
    const elsewhere = await runTool(
      'doctor',
      [
        '--url',
        stack.info.webhookUrls.sori as string,
        '--endpoint',
        stack.info.dynamodbEndpoint,
        '--table',
        'doctor-elsewhere',
        '--secret',
        secret,
        '--wait',
        '2',
      ],
      { DATA_DIR: '/nonexistent-campaign-inbox' },
    );

    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stdout).toMatch(/^ok {3}webhook answered 202 in \d+ ms$/m);
    expect(elsewhere.stdout).toContain(
      "FAIL record not queryable after 2 s: check the process function's logs and the DLQ (npm run -s events -- dlq list)\n",
    );
    // The webhook's own table got the delivery; the next run there removes it.
    await eventually(
      async () => ((await impressionsOf(DOCTOR_CAMPAIGN)) === 1 ? true : undefined),
      60_000,
      'the delivery to be counted in the stack table',
    );
    const next = await doctor();
    expect(next.code).toBe(0);
    expect(await doctorItems()).toEqual([]);
  });

  it('refuses an unknown flag, a bad --wait and --stack with --url as usage errors: one line on stderr, exit 2, nothing posted', {
    timeout: 120_000,
  }, async () => {
    const [unknown, wait, mixed] = await Promise.all([
      doctor('--bogus'),
      doctor('--wait', 'soon'),
      doctor('--stack', 'x', '--url', 'http://127.0.0.1:1/webhooks/sori'),
    ]);
    for (const run of [unknown, wait, mixed]) {
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(wait.stderr).toContain('--wait must be a number of seconds');
    expect(mixed.stderr).toContain('--stack takes the URL and table from the stack');
  });
});

const STACK = 'doctor-stack';
const REGION = 'eu-west-3';
const SECRET_ARN = `arn:aws:secretsmanager:${REGION}:000000000000:secret:SigningSecret-abc123`;
const CFN = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';

/**
 * Answers as CloudFormation (query protocol, XML) and Secrets Manager (JSON protocol) do for one deployed
 * stack: `outputs`, the alarm resources named in `alarms`, and `secret` as the signing secret's value.
 */
async function startDeployedStandIn(options: {
  outputs: Record<string, string>;
  alarms: string[];
  secret: string;
}) {
  const asked: string[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      const target = request.headers['x-amz-target'];
      if (target === 'secretsmanager.GetSecretValue') {
        asked.push(`GetSecretValue ${(JSON.parse(body) as { SecretId: string }).SecretId}`);
        response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(
          JSON.stringify({ ARN: SECRET_ARN, Name: 'SigningSecret', SecretString: options.secret }),
        );
        return;
      }
      const action = new URLSearchParams(body).get('Action') ?? '';
      asked.push(action);
      response.writeHead(200, { 'content-type': 'text/xml' });
      if (action === 'DescribeStacks') {
        const members = Object.entries(options.outputs)
          .map(
            ([key, value]) =>
              `<member><OutputKey>${key}</OutputKey><OutputValue>${value}</OutputValue></member>`,
          )
          .join('');
        response.end(
          `<DescribeStacksResponse xmlns="${CFN}"><DescribeStacksResult><Stacks><member><StackName>${STACK}</StackName><StackId>arn:aws:cloudformation:${REGION}:000000000000:stack/${STACK}/1</StackId><CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus><Outputs>${members}</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeStacksResponse>`,
        );
        return;
      }
      const resources = [
        ['Queue4A7E3555', 'AWS::SQS::Queue'],
        ...options.alarms.map((alarm) => [alarm, 'AWS::CloudWatch::Alarm']),
      ]
        .map(
          ([id, type]) =>
            `<member><LogicalResourceId>${id}</LogicalResourceId><PhysicalResourceId>${STACK}-${id}</PhysicalResourceId><ResourceType>${type}</ResourceType><LastUpdatedTimestamp>2026-01-01T00:00:00Z</LastUpdatedTimestamp><ResourceStatus>CREATE_COMPLETE</ResourceStatus></member>`,
        )
        .join('');
      response.end(
        `<ListStackResourcesResponse xmlns="${CFN}"><ListStackResourcesResult><StackResourceSummaries>${resources}</StackResourceSummaries></ListStackResourcesResult><ResponseMetadata><RequestId>2</RequestId></ResponseMetadata></ListStackResourcesResponse>`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    asked,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** The outputs a deploy of the stack gives, pointing at the local stack's webhook, table and queues. */
const deployedOutputs = () => ({
  WebhookUrl: stack.info.webhookUrls.sori as string,
  EventsTableName: stack.info.tableName,
  SigningSecretArn: SECRET_ARN,
  QueueUrl: stack.info.queueUrl,
  DeadLetterQueueUrl: stack.info.dlqUrl,
  Shards: String(stack.info.layout.shards),
  RecordRetentionDays: String(stack.info.layout.retentionDays ?? 0),
});

/** `doctor --stack doctor-stack --region eu-west-3` with the stand-in and the local stack's servers as AWS. */
const doctorOnStack = (standIn: string) =>
  runTool('doctor', ['--stack', STACK, '--region', REGION], {
    DATA_DIR: '/nonexistent-campaign-inbox',
    AWS_ENDPOINT_URL_CLOUDFORMATION: standIn,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: standIn,
    AWS_ENDPOINT_URL_DYNAMODB: stack.info.dynamodbEndpoint,
    AWS_ENDPOINT_URL_SQS: stack.info.sqsEndpoint,
  });

describe('doctor --stack (a deployed stack: its outputs, its secret and its alarms)', () => {
  it("signs with the stack's own SORI secret read from its signing secret, finds its alarms among its resources, passes every check, exits 0 and removes the test record", {
    timeout: 180_000,
  }, async () => {
    const secret = (await readDevSecret(dataDir)) as string;
    const standIn = await startDeployedStandIn({
      outputs: deployedOutputs(),
      alarms: ['DeadLettersAlarm1A2B3C4D', 'ProcessErrorsAlarm5E6F7A8B'],
      // As set-secret leaves it: the deploy-time URL token and SORI's current and previous keys.
      secret: JSON.stringify({
        url_token: 'generated-at-deploy-time-0123456789',
        sori: { current: secret, previous: 'old' },
      }),
    });
    try {
      const run = await doctorOnStack(standIn.endpoint);

      expect(run.code).toBe(0);
      expect(run.stdout.trim().split('\n')).toEqual([
        `ok   stack ${STACK} in ${REGION}: outputs read`,
        "ok   SORI secret read from the stack's signing secret",
        expect.stringMatching(/^ok {3}webhook answered 202 in \d+ ms$/),
        expect.stringMatching(
          /^ok {3}record stored and counted after [\d.]+ s \(campaign campaign-inbox-doctor on [\d-]+: 1 impression\)$/,
        ),
        'ok   dead-letter queue is empty',
        `ok   2 alarms exist in stack ${STACK}`,
        'ok   test record, device marker and counter removed (4 items; no view counts campaign campaign-inbox-doctor)',
      ]);
      expect(standIn.asked).toContain(`GetSecretValue ${SECRET_ARN}`);
      expect(standIn.asked).toContain('ListStackResources');
      expect(await doctorItems()).toEqual([]);
    } finally {
      await standIn.stop();
    }
  });

  it('a stack with no SORI secret_key, a dead letter and no alarms: a FAIL line for each with the command that fixes or explains it (naming the stack and region), nothing posted, exit 1', {
    timeout: 180_000,
  }, async () => {
    const standIn = await startDeployedStandIn({
      outputs: deployedOutputs(),
      alarms: [],
      secret: JSON.stringify({ url_token: 'generated-at-deploy-time-0123456789' }),
    });
    await sqs.send(new SendMessageCommand({ QueueUrl: stack.info.dlqUrl, MessageBody: '{"dead":"letter"}' }));
    try {
      const run = await doctorOnStack(standIn.endpoint);

      expect(run.code).toBe(1);
      expect(run.stdout.trim().split('\n')).toEqual([
        `ok   stack ${STACK} in ${REGION}: outputs read`,
        `FAIL the stack's signing secret holds no SORI secret_key: set it with printf '%s' "$SORI_SECRET_KEY" | npm run -s set-secret -- --stack ${STACK} --region ${REGION}`,
        'skip record: no test delivery was accepted',
        `FAIL dead-letter queue holds 1 message: see why with npm run -s events -- dlq list --stack ${STACK} --region ${REGION}, then after a fix npm run -s events -- redrive --stack ${STACK} --region ${REGION}`,
        `FAIL stack ${STACK} has no CloudWatch alarms: deploy this version of the stack (npx cdk deploy) so they are created`,
        'ok   test record, device marker and counter removed (0 items; no view counts campaign campaign-inbox-doctor)',
      ]);
      expect(await doctorItems()).toEqual([]);
    } finally {
      await sqs.send(new PurgeQueueCommand({ QueueUrl: stack.info.dlqUrl }));
      await standIn.stop();
    }
  });

  it('a stack whose SORI secret_key is not the one its webhook verifies with: FAIL webhook answered 401 with the set-secret command for the stack, exit 1', {
    timeout: 120_000,
  }, async () => {
    const standIn = await startDeployedStandIn({
      outputs: deployedOutputs(),
      alarms: ['DeadLettersAlarm1A2B3C4D'],
      secret: JSON.stringify({ sori: { current: 'a-key-the-webhook-does-not-have' } }),
    });
    try {
      const run = await doctorOnStack(standIn.endpoint);

      expect(run.code).toBe(1);
      expect(run.stdout).toContain(
        `FAIL webhook answered 401, not 202 ({"message":"Unauthorized"}): the stack's SORI secret did not verify the signature; set it again with npm run -s set-secret -- --stack ${STACK} --region ${REGION} (the receive function reads a changed secret within 5 minutes)\n`,
      );
      expect(run.stdout).toContain('skip record: no test delivery was accepted\n');
      expect(await doctorItems()).toEqual([]);
    } finally {
      await standIn.stop();
    }
  });

  it('a stack without the outputs doctor reads: one FAIL line naming the missing output and how to look the stack up, exit 1', {
    timeout: 120_000,
  }, async () => {
    const { DeadLetterQueueUrl: _, ...outputs } = deployedOutputs();
    const standIn = await startDeployedStandIn({ outputs, alarms: [], secret: '{}' });
    try {
      const run = await doctorOnStack(standIn.endpoint);

      expect(run.code).toBe(1);
      expect(run.stdout).toBe(
        `FAIL stack ${STACK} has no output DeadLetterQueueUrl: is it a campaign-inbox stack? Check its name and region: aws cloudformation describe-stacks --stack-name ${STACK} --region ${REGION}\n`,
      );
    } finally {
      await standIn.stop();
    }
  });
});

describe('campaign-inbox doctor, the command of the CLI', () => {
  it('is listed in the CLI help and routed to the doctor tool, whose help names it as campaign-inbox doctor', {
    timeout: 120_000,
  }, async () => {
    const [help, doctorHelp] = await Promise.all([
      runTool('cli', ['--help']),
      runTool('cli', ['doctor', '--help']),
    ]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(
      /^ {2}doctor +check a stack end to end with a test delivery, then remove it$/m,
    );
    expect(doctorHelp.code).toBe(0);
    expect(doctorHelp.stdout).toMatch(/^Usage: campaign-inbox doctor \[--stack <name>\] \[options\]/);
    expect(doctorHelp.stdout).toContain('--stack <name>');
    expect(doctorHelp.stdout).toContain('--wait <seconds>');
  });
});
