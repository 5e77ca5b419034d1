/**
 * `events replay --to eventbridge` against moto: a day of events stored in a records table in moto through the
 * consumer's path, replayed onto a bus of moto's by a user whose IAM policy allows `dynamodb:Query`,
 * `dynamodb:BatchGetItem` and `events:PutEvents` only, every EventBridge call signed by the project's own JSON client and verified by moto.
 * (moto checks DynamoDB's and EventBridge's actions against `*` whatever the resource, so the policy names no
 * resource: a statement naming the table or the bus would refuse every call there.) A rule on the
 * bus sends what it matches to a queue, where the test reads the events as a target receives them.
 */
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as events_ from 'aws-cdk-lib/aws-events';
import { beforeAll, describe, expect, it } from 'vitest';
import { EventReplay } from '../../infra/constructs/event-replay';
import { RecordsTable } from '../../infra/constructs/records-table';
import { EVENT_SOURCE } from '../../lib/destinations/eventbridge';
import { CampaignCounters } from '../../lib/ingest/campaign-counters';
import { EventWriter } from '../../lib/ingest/event-writer';
import { DEFAULT_LAYOUT } from '../../lib/table/records-table';
import { ensureRecordsTable } from '../../local/create-records-table';
import { bundledFunction, templateEnvironment } from '../support/bundles';
import { runEvents } from '../support/events-cli';
import { uniqueName } from '../support/local-aws';
import { DAY_END, DAY_START, storeReplayDay } from '../support/replay-events';
import { busToQueue } from './support/event-bus';
import { MOTO_ACCOUNT, MOTO_REGION } from './support/iam';
import { moto } from './support/moto';
import { drain } from './support/queues';

let tableName: string;
let inside: Set<string>;
let outside: Set<string>;

beforeAll(async () => {
  const { dynamodb } = moto();
  tableName = uniqueName('records');
  await ensureRecordsTable(dynamodb, tableName);
  ({ inside, outside } = await storeReplayDay(
    new EventWriter(dynamodb, tableName, DEFAULT_LAYOUT),
    new CampaignCounters(dynamodb, tableName, DEFAULT_LAYOUT),
    { campaignA: 25, campaignB: 12, authentications: 6, symphony: 2 },
  ));
});

describe('events replay to an EventBridge bus (moto)', () => {
  it('puts every event of the day on the bus once, as the documented bus event with its record id, signed by a user allowed only to read tables and put events', async () => {
    const { endpoint } = moto();
    const { bus, queueUrl } = await busToQueue();
    const key = await moto().createUser(uniqueName('replayer'), {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['dynamodb:Query', 'dynamodb:BatchGetItem'], Resource: ['*'] },
        { Effect: 'Allow', Action: ['events:PutEvents'], Resource: ['*'] },
      ],
    });
    const run = await runEvents(
      [
        'replay',
        '--since',
        DAY_START,
        '--until',
        DAY_END,
        '--to',
        'eventbridge',
        '--target',
        bus,
        '--endpoint',
        endpoint,
        '--table',
        tableName,
        '--json',
      ],
      {
        AWS_REGION: MOTO_REGION,
        AWS_ACCESS_KEY_ID: key.accessKeyId,
        AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
        AWS_ENDPOINT_URL_EVENTBRIDGE: endpoint,
      },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ to: 'eventbridge', target: bus, sent: inside.size });

    const received = (await drain(queueUrl)).map(
      (message) =>
        JSON.parse(message.Body ?? '{}') as {
          source: string;
          'detail-type': string;
          time: string;
          detail: {
            record_id: string;
            origin: string;
            record: { id: string; event: string; created_at: string };
          };
        },
    );
    const ids = received.map((event) => event.detail.record_id);
    expect(ids.sort()).toEqual([...inside].sort());
    expect(ids.filter((id) => outside.has(id))).toEqual([]);
    for (const event of received) {
      expect(event.source).toBe(EVENT_SOURCE);
      expect(event['detail-type']).toBe(event.detail.record.event);
      expect(event.detail.record.id).toBe(event.detail.record_id);
      expect(event.detail.origin).toBe('replay');
      expect(Date.parse(event.time)).toBe(
        Math.floor(Date.parse(event.detail.record.created_at) / 1000) * 1000,
      );
    }
  });

  it('stops, naming the bus, when the user may not put events on it', async () => {
    const { endpoint } = moto();
    const { bus } = await busToQueue();
    const key = await moto().createUser(uniqueName('reader'), {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['dynamodb:Query', 'dynamodb:BatchGetItem'], Resource: ['*'] }],
    });
    const run = await runEvents(
      ['replay', '--since', DAY_START, '--until', DAY_END, '--to', 'eventbridge', '--target', bus],
      {
        AWS_REGION: MOTO_REGION,
        AWS_ACCESS_KEY_ID: key.accessKeyId,
        AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
        AWS_ENDPOINT_URL_EVENTBRIDGE: endpoint,
        EVENTS_ENDPOINT: endpoint,
        EVENTS_TABLE: tableName,
      },
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`EventBridge bus ${bus} did not take`);
    expect(run.stderr).toContain('HTTP 403');
    // Refused for good: not tried again.
    expect(run.stderr).toContain('after 1 try');
  });
});

const execute = promisify(execFile);

/**
 * Runs a bundle's `handler(event, context)` in a fresh Node process, its context saying 10 minutes are left: the
 * whole day fits in one leg however slowly moto answers (middy ends a handler when its context's time is up).
 */
async function invokeWithTime(file: string, env: Record<string, string>, event: unknown): Promise<unknown> {
  const runner = `
    const { handler } = await import(${JSON.stringify(file)});
    const context = { functionName: 'replay', awsRequestId: 'replay', getRemainingTimeInMillis: () => 600000 };
    const result = await handler(JSON.parse(process.env.BUNDLE_EVENT), context);
    process.stdout.write('\\n@@RESULT@@' + JSON.stringify(result));`;
  const { stdout } = await execute(process.execPath, ['--input-type=module', '-e', runner], {
    env: { PATH: process.env.PATH ?? '', ...env, BUNDLE_EVENT: JSON.stringify(event) },
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout.slice(stdout.lastIndexOf('@@RESULT@@') + '@@RESULT@@'.length));
}

describe('the replay function bundle against moto', () => {
  it('replays a day onto a bus in one leg, as the synthesized bundle runs with the environment its template gives it', async () => {
    const { endpoint } = moto();
    const { bus, queueUrl } = await busToQueue();
    const outdir = await mkdtemp(join(tmpdir(), 'replay-synth-'));
    const app = new App({ outdir });
    const stack = new Stack(app, 'ReplayBundle', { env: { account: MOTO_ACCOUNT, region: MOTO_REGION } });
    const records = new RecordsTable(stack, 'Records');
    const replay = new EventReplay(stack, 'Replay', {
      table: records.table,
      shards: 1,
      destinations: { eventBus: events_.EventBus.fromEventBusName(stack, 'Bus', bus) },
      logRetentionDays: 7,
    });
    app.synth();
    const resources = Template.fromStack(stack).toJSON().Resources;
    const fnId = stack.resolve(
      stack.getLogicalId(replay.function.function.node.defaultChild as never),
    ) as string;
    const { file, properties } = await bundledFunction(outdir, resources, fnId);
    const variables = (properties as unknown as { Environment: { Variables: Record<string, unknown> } })
      .Environment.Variables;
    const key = await moto().createUser(uniqueName('replay-fn'), {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['dynamodb:Query', 'dynamodb:BatchGetItem', 'events:PutEvents'],
          Resource: ['*'],
        },
      ],
    });
    const result = await invokeWithTime(
      file,
      {
        ...templateEnvironment(variables, {
          TABLE_NAME: tableName,
          REPLAY_DESTINATIONS: JSON.stringify({ eventBusName: bus }),
        }),
        AWS_REGION: MOTO_REGION,
        AWS_LAMBDA_FUNCTION_NAME: 'replay',
        AWS_ACCESS_KEY_ID: key.accessKeyId,
        AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
        AWS_ENDPOINT_URL: endpoint,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        REPLAY_RESERVE_MS: '1000',
      },
      { since: DAY_START, until: DAY_END, to: 'eventbridge' },
    );
    expect(result).toEqual({ status: 'complete', sent: inside.size, legs: 1 });
    const ids = (await drain(queueUrl)).map(
      (message) => (JSON.parse(message.Body ?? '{}') as { detail: { record_id: string } }).detail.record_id,
    );
    expect(ids.sort()).toEqual([...inside].sort());
  }, 180_000);
});
