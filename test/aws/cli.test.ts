/**
 * The command-line tools' `--stack` path against moto: a CloudFormation stack in moto whose outputs are the
 * synthesized template's (resolved to the table and queues the suite made from it), read by `events query`,
 * `stats`, `export` and `dlq list|show|purge` as the deployed tools read them, every call signed by an operator
 * whose IAM user carries only what these tools call. The tools run from source (node with tsx's loader) in a
 * folder of their own, outside any clone, with no AWS setting but the region, the operator's key and
 * `AWS_ENDPOINT_URL` naming the proxy in front of moto.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { PurgeQueueCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../support/local-aws';
import { bareEnv, consumerFolder, finished, runToolIn, type ToolRun } from '../support/tool-process';
import type { AwsKey, PolicyStatement } from './support/iam';
import { MOTO_REGION } from './support/iam';
import { invokeBundleWith } from './support/invoke';
import { moto } from './support/moto';
import { createOperator } from './support/operator';
import { createOutputsStack, type OutputsStack } from './support/outputs-stack';
import { processed, queued, soriEvents, sqsBatch } from './support/pipeline';
import { motoPolicy } from './support/policy';
import type { SeenCall } from './support/proxy';
import { drain } from './support/queues';
import { type Deployment, deployToMoto } from './support/stack';

let stack: Deployment;
let outputs: OutputsStack;
let operator: AwsKey;
let operatorUser: string;
let operatorStatements: PolicyStatement[];
let folder: string;
/** The campaign the process bundle stored: three clicks of two devices, one delivery sent twice. */
let campaign: string;

beforeAll(async () => {
  stack = await deployToMoto();
  outputs = await createOutputsStack(stack);
  operatorUser = uniqueName('operator');
  ({ key: operator, statements: operatorStatements } = await createOperator(
    stack,
    outputs.stackName,
    operatorUser,
  ));
  folder = await consumerFolder();
  const events = soriEvents(['device_a', 'device_b', 'device_a']);
  campaign = events.campaign;
  const messages = await queued(stack, [...events.bodies, events.bodies[0] ?? '']);
  await processed(stack, messages);
});
afterAll(() => stack?.close());

const ROOT = resolve(import.meta.dirname, '../..');
const execute = promisify(execFile);

/** The operator's environment: the region, its key, every AWS endpoint at the proxy in front of moto. */
const operatorEnv = () =>
  bareEnv({
    AWS_REGION: MOTO_REGION,
    AWS_ACCESS_KEY_ID: operator.accessKeyId,
    AWS_SECRET_ACCESS_KEY: operator.secretAccessKey,
    AWS_ENDPOINT_URL: stack.proxy.endpoint,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  });

/** Runs `events <args>` as the operator; what it printed, and every call it made through the proxy. */
async function events(args: string[]): Promise<ToolRun & { calls: SeenCall[] }> {
  const seen = stack.proxy.calls.length;
  const run = await runToolIn('events', args, { cwd: folder, env: operatorEnv() });
  return { ...run, calls: stack.proxy.calls.slice(seen) };
}

/** Every call was the operator's, answered by moto, and taken. */
function allTaken(calls: SeenCall[]) {
  expect(calls.length).toBeGreaterThan(0);
  expect(calls.map((call) => [call.accessKeyId, call.by, call.status < 300 ? 'taken' : call.code])).toEqual(
    calls.map(() => [operator.accessKeyId, 'moto', 'taken']),
  );
}

const lines = (text: string) =>
  text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe("the tools' --stack path against a stack in moto", () => {
  it("the stack's outputs are the template's, naming the table and queues made in moto from it", () => {
    expect(Object.keys(outputs.outputs).sort()).toEqual(Object.keys(stack.outputs).sort());
    expect(outputs.outputs).toMatchObject({
      EventsTableName: stack.names.tableName,
      SigningSecretArn: stack.names.secretArn,
      QueueUrl: stack.names.queueUrl,
      DeadLetterQueueUrl: stack.names.dlqUrl,
      Shards: '1',
      RecordRetentionDays: '365',
      WebhookUrl: expect.stringMatching(
        /^https:\/\/[a-z0-9]+\.execute-api\.us-east-1\.amazonaws\.com\/webhooks\/sori$/,
      ),
    });
  });

  it('events query --stack --json prints the stored events as JSON lines, each delivery once, with the operator reading the outputs and the table', async () => {
    const all = await events(['query', '--stack', outputs.stackName, '--json']);
    expect(all.stderr).toBe('');
    expect(all.code).toBe(0);
    allTaken(all.calls);
    expect(all.calls[0]).toMatchObject({ service: 'cloudformation', action: 'DescribeStacks' });
    const printed = lines(all.stdout);
    expect(printed).toHaveLength(3);
    expect(printed.map((event) => [event.campaign_id, event.event, event.provider])).toEqual(
      printed.map(() => [campaign, 'campaign.click', 'sori']),
    );
    expect(new Set(printed.map((event) => event.id)).size).toBe(3);
    // Newest first, every field as docs/cli.md's example has it.
    expect(printed.map((event) => event.created_at)).toEqual(
      printed
        .map((event) => event.created_at as string)
        .sort()
        .reverse(),
    );
    expect(Object.keys(printed[0] ?? {})).toEqual(
      expect.arrayContaining(['id', 'device_id', 'created_at', 'received_at', 'metadata', 'geolocation']),
    );

    const one = await events(['query', '--stack', outputs.stackName, '--campaign', campaign, '--json']);
    expect(one.code).toBe(0);
    allTaken(one.calls);
    expect(lines(one.stdout)).toEqual(printed);
  });

  it("events stats --stack counts the campaign's clicks and devices exactly from moto's counters", async () => {
    const run = await events(['stats', '--stack', outputs.stackName, '--campaign', campaign, '--json']);
    expect(run.code).toBe(0);
    allTaken(run.calls);
    const rows = lines(run.stdout);
    expect(rows).toEqual([expect.objectContaining({ campaign_id: campaign, clicks: 3, unique_devices: 2 })]);
    const across = await events(['stats', '--stack', outputs.stackName, '--json']);
    expect(across.code).toBe(0);
    allTaken(across.calls);
    expect(lines(across.stdout)).toEqual([expect.objectContaining({ campaign_id: campaign, clicks: 3 })]);
  });

  it('events export --stack writes every event as JSON lines and CSV, a campaign by query and the whole table by scan', async () => {
    const query = lines((await events(['query', '--stack', outputs.stackName, '--json'])).stdout);
    const byCampaign = await events([
      'export',
      '--stack',
      outputs.stackName,
      '--format',
      'jsonl',
      '--campaign',
      campaign,
    ]);
    expect(byCampaign.code).toBe(0);
    allTaken(byCampaign.calls);
    const exported = lines(byCampaign.stdout);
    const byId = (a: Record<string, unknown>, b: Record<string, unknown>) =>
      String(a.id).localeCompare(String(b.id));
    expect([...exported].sort(byId)).toEqual([...query].sort(byId));
    expect(byCampaign.calls.some((call) => call.action === 'Scan')).toBe(false);

    const whole = await events(['export', '--stack', outputs.stackName, '--format', 'csv']);
    expect(whole.code).toBe(0);
    allTaken(whole.calls);
    expect(whole.calls.some((call) => call.action === 'Scan')).toBe(true);
    const rows = whole.stdout.trim().split('\n');
    expect(rows).toHaveLength(4);
    for (const event of query) expect(whole.stdout).toContain(String(event.id));
  });

  it('events dlq list, show and purge --stack look at the DLQ in moto without taking its message, then empty it', async () => {
    // An unreadable message, sent to the DLQ by the process bundle with its role's key.
    const body = `not json \u0001 ${uniqueName('poison')}`;
    expect(
      await invokeBundleWith(stack.functions.process.file, stack.functions.process.env(), sqsBatch([body])),
    ).toEqual({ batchItemFailures: [] });

    const list = await events(['dlq', 'list', '--stack', outputs.stackName, '--json']);
    expect(list.code).toBe(0);
    allTaken(list.calls);
    const [letter, ...more] = lines(list.stdout);
    expect(more).toEqual([]);
    expect(letter).toMatchObject({ body, reason: 'the message body is not JSON', receive_count: 1 });
    expect(list.calls.map((call) => call.action)).toContain('ChangeMessageVisibilityBatch');

    const show = await events([
      'dlq',
      'show',
      String(letter?.message_id),
      '--stack',
      outputs.stackName,
      '--json',
    ]);
    expect(show.code).toBe(0);
    allTaken(show.calls);
    expect(lines(show.stdout)).toEqual([expect.objectContaining({ message_id: letter?.message_id, body })]);

    const purge = await events(['dlq', 'purge', '--stack', outputs.stackName, '--yes']);
    expect(purge.code).toBe(0);
    allTaken(purge.calls);
    expect(purge.stderr).toContain('the dead-letter queue is purged');
    expect(purge.calls.map((call) => call.action)).toContain('PurgeQueue');
    expect(await drain(stack.names.dlqUrl)).toEqual([]);
  });

  it("needs each of the operator's actions: without it, moto refuses the command's call and the command exits 1", async () => {
    const body = `not json ${uniqueName('poison')}`;
    expect(
      await invokeBundleWith(stack.functions.process.file, stack.functions.process.env(), sqsBatch([body])),
    ).toEqual({ batchItemFailures: [] });
    const cases: [action: string, command: string[], refused: string][] = [
      ['cloudformation:DescribeStacks', ['query', '--json'], 'DescribeStacks'],
      ['dynamodb:Query', ['stats', '--campaign', campaign, '--json'], 'Query'],
      ['dynamodb:BatchGetItem', ['query', '--json'], 'BatchGetItem'],
      ['dynamodb:Scan', ['export', '--format', 'jsonl'], 'Scan'],
      ['sqs:ReceiveMessage', ['dlq', 'list', '--json'], 'ReceiveMessage'],
      ['sqs:ChangeMessageVisibility', ['dlq', 'list', '--json'], 'ChangeMessageVisibilityBatch'],
      ['sqs:PurgeQueue', ['dlq', 'purge', '--yes'], 'PurgeQueue'],
    ];
    expect(cases.map(([action]) => action).sort()).toEqual(
      operatorStatements.flatMap((statement) => statement.Action).sort(),
    );
    try {
      for (const [action, command, refused] of cases) {
        const without = operatorStatements.map((statement) => ({
          ...statement,
          Action: [statement.Action].flat().filter((held) => held !== action),
        }));
        await moto().putPolicy(operatorUser, motoPolicy(without));
        stack.proxy.grant(operator.accessKeyId, without);
        const run = await events([...command, '--stack', outputs.stackName]);
        expect(run.code, action).toBe(1);
        expect(
          run.calls.filter((call) => call.status >= 300).map((call) => [call.action, call.code, call.by]),
          action,
        ).toEqual([[refused, 'AccessDenied', 'moto']]);
      }
    } finally {
      await moto().putPolicy(operatorUser, motoPolicy(operatorStatements));
      stack.proxy.grant(operator.accessKeyId, operatorStatements);
      await moto().sqs.send(new PurgeQueueCommand({ QueueUrl: stack.names.dlqUrl }));
    }
  });

  it("refuses the operator a stack its statements do not name (the proxy, for moto's CloudFormation) and an action they lack (moto's IAM)", async () => {
    const other = await events(['query', '--stack', uniqueName('NotTheStack'), '--json']);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('could not read the outputs of stack NotTheStack');
    expect(other.calls.map((call) => [call.action, call.status, call.code, call.by])).toEqual([
      ['DescribeStacks', 400, 'AccessDeniedException', 'resource-check'],
    ]);
    // `redrive --stack` needs `sqs:GetQueueAttributes` (and the move task's actions), which these tools do not.
    const redrive = await events(['redrive', '--stack', outputs.stackName]);
    expect(redrive.code).toBe(1);
    expect(redrive.calls.map((call) => [call.action, call.status, call.code, call.by])).toEqual([
      ['DescribeStacks', 200, undefined, 'moto'],
      ['GetQueueAttributes', 403, 'AccessDenied', 'moto'],
    ]);
  });

  it('the packed tarball installed in a fresh app: its bin, run from node_modules/.bin, prints the stored events of the stack in moto as JSON lines, as the tools from source do', {
    timeout: 300_000,
  }, async () => {
    // As test/package/consumer.test.ts makes the app: npm pack (its prepack builds dist/), then npm install of
    // the tarball alone (the CLI bundles what it needs; npm adds the construct's peers).
    const app = await mkdtemp(join(tmpdir(), 'campaign-inbox-moto-app-'));
    const { stdout: packed } = await execute('npm', ['pack', '--silent', '--pack-destination', app], {
      cwd: ROOT,
      maxBuffer: 64 * 1024 * 1024,
    });
    const tarball = join(app, packed.trim().split('\n').pop() ?? '');
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify({ name: 'my-app', private: true, type: 'module' }),
    );
    await execute('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], {
      cwd: app,
      maxBuffer: 64 * 1024 * 1024,
    });

    const fromSource = await events(['query', '--stack', outputs.stackName, '--json']);
    expect(fromSource.code).toBe(0);
    const seen = stack.proxy.calls.length;
    const bin = await finished(
      spawn(
        join(app, 'node_modules', '.bin', 'campaign-inbox'),
        ['events', 'query', '--stack', outputs.stackName, '--json'],
        {
          cwd: app,
          env: operatorEnv(),
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      ),
    );
    expect(bin.stderr).toBe('');
    expect(bin.code).toBe(0);
    allTaken(stack.proxy.calls.slice(seen));
    const printed = lines(bin.stdout);
    expect(printed).toHaveLength(3);
    expect(printed).toEqual(lines(fromSource.stdout));
    expect(printed.map((event) => event.campaign_id)).toEqual([campaign, campaign, campaign]);
  });
});
