import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PurgeQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignStats } from '../../lib/queries/campaign-stats';
import { signBody } from '../../lib/signature/verify-signature';
import { scanPages } from '../../lib/table/table-io';
import { readDevSecret } from '../../local/dev-secret';
import { localClientConfig } from '../../local/stack-info';
import { runTool } from '../support/events-cli';
import { eventually } from '../support/local-aws';
import { type StackProcess, startStackProcess } from '../support/stack-process';

// The doctor run against a real local stack: its own process (npm start's), with its webhook server, its
// DynamoDB-API and SQS servers, and its poller storing and counting what the webhook accepts.

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
    for (const item of page) if (JSON.stringify(item).includes(DOCTOR_CAMPAIGN)) found.push(item);
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
    runTool('events', ['stats', '--campaign', DOCTOR_CAMPAIGN, '--json'], { DATA_DIR: dataDir }),
    runTool('events', ['query', '--campaign', DOCTOR_CAMPAIGN, '--json'], { DATA_DIR: dataDir }),
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
      'ok   test record, device marker and counter removed (3 items; no view counts campaign campaign-inbox-doctor)',
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
      'FAIL webhook answered 401, not 202 ({"message":"Unauthorized"}): the secret signed with is not the one the local stack verifies with (SORI_SECRET_KEY or its dev secret)\n',
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
      expect(run.stdout).toContain('ok   test record, device marker and counter removed (3 items;');
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
    expect(run.stdout).toContain('ok   test record, device marker and counter removed (5 items;');
    expect(run.stdout).toMatch(
      /record stored and counted after [\d.]+ s \(campaign campaign-inbox-doctor on [\d-]+: 2 impressions\)/,
    );
    expect(await doctorItems()).toEqual([]);
    expect(await doctorViews()).toEqual({ stats: '', query: '' });
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
