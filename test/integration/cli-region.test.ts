// The tools' `--stack` path: the stack's outputs from CloudFormation (a stand-in: none runs locally), then its
// table, read from the run's real DynamoDB-API server.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { startCloudFormationStandIn } from '../support/cloudformation-stand-in';
import { soriPayload } from '../support/deliveries';
import { createTestQueues, createTestTable, localClients } from '../support/local-aws';
import { storeAndFold } from '../support/store-and-fold';
import {
  bareEnv,
  consumerFolder,
  finished,
  runToolIn,
  spawnTool,
  type ToolRun,
} from '../support/tool-process';

const { dynamodb, sqs } = localClients();
const STACK = 'InboxStack';

let standIn: Awaited<ReturnType<typeof startCloudFormationStandIn>>;
let cloudFormation: string;
let campaign: string;
let app: string;
let home: string;

beforeAll(async () => {
  const { tableName, writer, counters } = await createTestTable(dynamodb);
  const queues = await createTestQueues(sqs);
  campaign = `cmp_region_${Date.now()}`;
  const payload = soriPayload('impression');
  const body = JSON.stringify({
    ...payload,
    created_at: new Date().toISOString(),
    campaign: { ...(payload.campaign as object), id: campaign },
  });
  await storeAndFold(writer, counters, [
    buildQueueMessage(sori, Buffer.from(body), new Date().toISOString()),
  ]);
  standIn = await startCloudFormationStandIn(STACK, {
    EventsTableName: tableName,
    Shards: '1',
    RecordRetentionDays: '0',
    QueueUrl: queues.queueUrl,
    DeadLetterQueueUrl: queues.dlqUrl,
    WebhookUrl: 'https://example.invalid/webhooks/{provider}',
    SigningSecretArn: 'arn:aws:secretsmanager:eu-west-3:000000000000:secret:signing',
  });
  cloudFormation = standIn.endpoint;
  app = await consumerFolder();
  home = await mkdtemp(join(tmpdir(), 'campaign-inbox-aws-home-'));
});

afterAll(async () => {
  await standIn.stop();
});

/**
 * An environment with AWS credentials and the services' endpoints pointed at the stand-in and the run's local
 * servers (the SDK's `AWS_ENDPOINT_URL_<SERVICE>` settings), and the region settings the test gives.
 */
const withEndpoints = (env: Record<string, string | undefined>) =>
  bareEnv({
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_CLOUDFORMATION: cloudFormation,
    AWS_ENDPOINT_URL_DYNAMODB: inject('dynamodbEndpoint'),
    AWS_ENDPOINT_URL_SQS: inject('sqsEndpoint'),
    DATA_DIR: join(app, 'no-data'),
    ...env,
  });

/** A shared config file whose default profile has `defaultRegion` and profile `other` has `otherRegion`. */
async function configFile(defaultRegion: string, otherRegion: string): Promise<string> {
  const path = join(home, `config-${defaultRegion}-${otherRegion}`);
  await writeFile(path, `[default]\nregion = ${defaultRegion}\n\n[profile other]\nregion = ${otherRegion}\n`);
  return path;
}

/** Runs `tool` and @returns what it printed and the regions of the requests the stand-in saw meanwhile. */
async function regionsOf(tool: string, args: string[], env: Record<string, string | undefined>) {
  const before = standIn.asked.length;
  const result = await runToolIn(tool, args, { cwd: app, env: withEndpoints(env) });
  return { result, asked: standIn.asked.slice(before) };
}

const eventsOf = (result: ToolRun) =>
  result.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('the tools with --stack, outside a clone', () => {
  it("take the region from --region, else AWS_REGION, else AWS_DEFAULT_REGION, else the region of the shared config file's profile (AWS_PROFILE, else default), read the stack's outputs there and query its table", {
    timeout: 180_000,
  }, async () => {
    const config = await configFile('eu-west-3', 'ap-northeast-2');
    // A profile's keys are in the shared credentials file, as `aws configure --profile` writes them.
    const credentials = join(home, 'credentials');
    await writeFile(credentials, '[other]\naws_access_key_id = local\naws_secret_access_key = local\n');
    const cases: [env: Record<string, string | undefined>, flags: string[], region: string][] = [
      [
        { AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'eu-west-2', AWS_CONFIG_FILE: config },
        ['--region', 'ap-south-1'],
        'ap-south-1',
      ],
      [
        { AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'eu-west-2', AWS_CONFIG_FILE: config },
        [],
        'eu-west-1',
      ],
      [{ AWS_DEFAULT_REGION: 'eu-west-2', AWS_CONFIG_FILE: config }, [], 'eu-west-2'],
      [{ AWS_CONFIG_FILE: config }, [], 'eu-west-3'],
      [
        {
          AWS_CONFIG_FILE: config,
          AWS_PROFILE: 'other',
          AWS_SHARED_CREDENTIALS_FILE: credentials,
          AWS_ACCESS_KEY_ID: undefined,
          AWS_SECRET_ACCESS_KEY: undefined,
        },
        [],
        'ap-northeast-2',
      ],
    ];
    for (const [env, flags, region] of cases) {
      const what = `${JSON.stringify(env)} ${flags.join(' ')}`;
      const { result, asked } = await regionsOf(
        'events',
        ['query', '--json', '--stack', STACK, ...flags],
        env,
      );
      expect(result.code, `${what}: ${result.stderr}`).toBe(0);
      expect(
        eventsOf(result).map((event) => event.campaign_id),
        what,
      ).toEqual([campaign]);
      expect(asked, what).toEqual([{ action: 'DescribeStacks', region }]);
    }
  });

  it('take --region in every command that reads a stack: stats, export, reprocess, the DLQ and the dashboard', {
    timeout: 180_000,
  }, async () => {
    const region = ['--region', 'sa-east-1'];
    const where = ['--stack', STACK, ...region];
    for (const args of [
      ['stats', '--campaign', campaign, '--json'],
      ['export', '--format', 'jsonl'],
      ['reprocess', '--dry-run', '--json'],
      ['dlq', 'list', '--json'],
    ]) {
      const { result, asked } = await regionsOf('events', [...args, ...where], {});
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
      expect(asked.length, args.join(' ')).toBeGreaterThan(0);
      for (const request of asked) expect(request.region, args.join(' ')).toBe('sa-east-1');
    }
    const before = standIn.asked.length;
    const dashboard = spawnTool('dashboard', ['--port', '0', ...where], {
      cwd: app,
      env: withEndpoints({}),
    });
    const done = finished(dashboard);
    let seen = '';
    await new Promise<void>((resolve, reject) => {
      dashboard.stderr?.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        if (/dashboard: http:\/\/127\.0\.0\.1:\d+\//.test(seen)) resolve();
      });
      dashboard.once('exit', () => reject(new Error(`the dashboard exited: ${seen}`)));
    });
    dashboard.kill('SIGTERM');
    expect((await done).code).toBe(0);
    expect(standIn.asked.slice(before)).toEqual([{ action: 'DescribeStacks', region: 'sa-east-1' }]);
  });

  it('with no region anywhere, say in one line to pass --region or set AWS_REGION, exit code 2, before asking AWS anything', {
    timeout: 180_000,
  }, async () => {
    const config = join(home, 'config-without-region');
    await writeFile(config, '[default]\noutput = json\n');
    const before = standIn.asked.length;
    const runs: [string, string[]][] = [
      ['events', ['query', '--stack', STACK]],
      ['events', ['stats', '--stack', STACK]],
      ['events', ['export', '--format', 'jsonl', '--stack', STACK]],
      ['events', ['reprocess', '--stack', STACK]],
      ['events', ['dlq', 'list', '--stack', STACK]],
      ['events', ['redrive', '--stack', STACK]],
      ['dashboard', ['--stack', STACK]],
      ['set-secret', ['--show-token-url', '--stack', STACK]],
      // A DynamoDB endpoint that is not on this machine is AWS's, in some region.
      ['events', ['query', '--endpoint', 'https://dynamodb.example.invalid', '--table', 't']],
    ];
    const results = await Promise.all(
      runs.map(([tool, args]) =>
        runToolIn(tool, args, { cwd: app, env: withEndpoints({ AWS_CONFIG_FILE: config }) }),
      ),
    );
    for (const [i, result] of results.entries()) {
      const what = runs[i]?.flat().join(' ');
      expect(result.code, `${what}: ${result.stderr}`).toBe(2);
      expect(result.stdout, what).toBe('');
      expect(result.stderr.trim().split('\n'), what).toHaveLength(1);
      expect(result.stderr, what).toMatch(/no AWS region: pass --region <name> or set AWS_REGION/);
      expect(result.stderr, what).not.toContain('Region is missing');
    }
    expect(standIn.asked.slice(before)).toEqual([]);
  });
});
