/**
 * The lake's stream transform, as `cdk synth` bundles it, fed from moto's DynamoDB Streams as Lambda's event source
 * mapping feeds it (the template's filter applied), sending to a Firehose stream in moto with an IAM user holding
 * exactly what the template grants the transform's role. moto's Firehose has no Iceberg destination: its stream
 * here writes what it is given into an S3 bucket, which is what the transform sent. The records are stored through
 * the consumer's ingest port into moto's DynamoDB, duplicate deliveries included.
 */
import { mkdtemp, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { App, Stack } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { addEventLake } from '../../infra/constructs/event-lake';
import { RecordsTable } from '../../infra/constructs/records-table';
import { AwsJsonClient } from '../../lib/aws/aws-json-client';
import type { QueueMessage } from '../../lib/events/event-record';
import { CampaignCounters } from '../../lib/ingest/campaign-counters';
import { EventWriter } from '../../lib/ingest/event-writer';
import { createIngest } from '../../lib/ingest/ingest';
import { type LakeRow, lakeRowOf } from '../../lib/lake/lake-row';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { DEFAULT_LAYOUT } from '../../lib/table/records-table';
import { ensureRecordsTable } from '../../local/create-records-table';
import { bundledFunction } from '../support/bundles';
import { soriPayload } from '../support/deliveries';
import { uniqueName } from '../support/local-aws';
import { MOTO_ACCOUNT, MOTO_REGION } from './support/iam';
import { invokeBundleWith } from './support/invoke';
import { moto } from './support/moto';
import {
  functionOf,
  motoPolicy,
  type Physical,
  type Resources,
  resolvedStatements,
  resolveValue,
  templateStatements,
} from './support/policy';
import { passesFilters } from './support/stream-filter';
import { streamsClient } from './support/streams';

const ROOT = join(import.meta.dirname, '../..');

/** A stack with the records table and the lake, synthesized as `cdk synth` does, bundling on. */
async function synthesize() {
  const root = await mkdtemp(join(tmpdir(), 'campaign-inbox-lake-'));
  await symlink(join(ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
  const outdir = join(root, 'assembly');
  const app = new App({ outdir, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'LakeConformance');
  addEventLake(stack, new RecordsTable(stack, 'Records').table, true);
  const template = app.synth().getStackArtifact(stack.artifactId).template as { Resources: Resources };
  return { outdir, resources: template.Resources };
}

const ofType = (resources: Resources, type: string) =>
  Object.entries(resources).filter(([, resource]) => resource.Type === type);

/** Splits the concatenated JSON objects moto's Firehose writes (records' data, end to end) into values. */
function concatenatedJson(text: string): unknown[] {
  const values: unknown[] = [];
  let depth = 0;
  let start = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === '\\') i++;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === '{') depth++;
    else if (char === '}' && --depth === 0) {
      values.push(JSON.parse(text.slice(start, i + 1)));
      start = i + 1;
    }
  }
  return values;
}

/** SORI impressions and clicks of one campaign-day, each a different activity. */
function soriEvents(count: number): Extract<QueueMessage, { kind: 'event' }>[] {
  const seed = uniqueName('act');
  return Array.from({ length: count }, (_, i) => {
    const base = soriPayload(i % 3 === 2 ? 'click' : 'impression');
    const message = buildQueueMessage(
      sori,
      Buffer.from(JSON.stringify({ ...base, activity_id: `${seed}_${i}`, device_id: `device_${i % 2}` })),
      '2025-10-14T12:00:00.000Z',
    );
    if (message.kind !== 'event') throw new Error('not an event');
    return message;
  });
}

let resources: Resources;
let outdir: string;

beforeAll(async () => {
  ({ resources, outdir } = await synthesize());
}, 120_000);

describe("the lake's stream transform against moto", () => {
  it("writes each first insert once, as the lake row, through the role's own grants: duplicates and other items never reach Firehose", async () => {
    const aws = moto();
    // The records table as the template makes it, its stream on.
    const tableName = uniqueName('records');
    await ensureRecordsTable(aws.dynamodb, tableName);
    await aws.dynamodb.send(
      new UpdateTableCommand({
        TableName: tableName,
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
      }),
    );
    const { Table } = await aws.dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
    // The delivery stream's counterpart, writing into a bucket.
    const bucket = uniqueName('lake');
    await aws.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const firehose = new AwsJsonClient({
      service: 'firehose',
      region: MOTO_REGION,
      endpoint: aws.endpoint,
      targetPrefix: 'Firehose_20150804',
      jsonVersion: '1.1',
      credentials: () => aws.admin,
      maxAttempts: 1,
      timeoutMs: 10_000,
    });
    const streamName = uniqueName('lake');
    const { DeliveryStreamARN } = await firehose.call<{ DeliveryStreamARN: string }>('CreateDeliveryStream', {
      DeliveryStreamName: streamName,
      DeliveryStreamType: 'DirectPut',
      ExtendedS3DestinationConfiguration: {
        BucketARN: `arn:aws:s3:::${bucket}`,
        RoleARN: `arn:aws:iam::${MOTO_ACCOUNT}:role/firehose`,
      },
    });

    const physical: Record<string, Physical> = {};
    for (const [id] of ofType(resources, 'AWS::DynamoDB::GlobalTable')) {
      physical[id] = {
        ref: tableName,
        attributes: { Arn: Table?.TableArn ?? '', StreamArn: Table?.LatestStreamArn ?? '' },
      };
    }
    for (const [id] of ofType(resources, 'AWS::KinesisFirehose::DeliveryStream')) {
      physical[id] = { ref: streamName, attributes: { Arn: DeliveryStreamARN } };
    }
    for (const [id] of ofType(resources, 'AWS::SQS::Queue')) {
      const { QueueUrl = '' } = await aws.sqs.send(
        new CreateQueueCommand({ QueueName: uniqueName('failures') }),
      );
      const { Attributes } = await aws.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
      );
      physical[id] = { ref: QueueUrl, attributes: { Arn: Attributes?.QueueArn ?? '' } };
    }
    for (const [id] of ofType(resources, 'AWS::Logs::LogGroup')) {
      const name = `/aws/lambda/${uniqueName(id)}`;
      physical[id] = {
        ref: name,
        attributes: { Arn: `arn:aws:logs:${MOTO_REGION}:${MOTO_ACCOUNT}:log-group:${name}:*` },
      };
    }
    const { functionId, roleId } = functionOf(resources, 'LakeTransform');
    const bundle = await bundledFunction(outdir, resources, functionId);
    const statements = resolvedStatements(templateStatements(resources, roleId), physical);
    // moto authorizes a Firehose call against no resource (it asks its policy engine about `*`), as it does the
    // services of UNSCOPED_IN_MOTO: its copy of the grant names `*`, and the grant itself is checked here to name
    // the one delivery stream the transform sends to.
    const firehoseGrants = statements.filter((statement) =>
      [statement.Action].flat().some((action) => String(action).startsWith('firehose:')),
    );
    expect(firehoseGrants).toEqual([
      { Effect: 'Allow', Action: ['firehose:PutRecordBatch'], Resource: [DeliveryStreamARN] },
    ]);
    const policy = motoPolicy(statements);
    policy.Statement = policy.Statement.map((statement) =>
      [statement.Action].flat().every((action) => String(action).startsWith('firehose:'))
        ? { ...statement, Resource: '*' }
        : statement,
    );
    const key = await aws.createUser(uniqueName('lake-transform'), policy);
    const mapping = ofType(resources, 'AWS::Lambda::EventSourceMapping').map(
      ([, resource]) =>
        resource.Properties as {
          EventSourceArn: unknown;
          StartingPosition: 'TRIM_HORIZON' | 'LATEST';
          FilterCriteria: { Filters: { Pattern: string }[] };
        },
    )[0];
    if (!mapping) throw new Error('no event source mapping');
    const streamArn = resolveValue(mapping.EventSourceArn, physical);
    expect(streamArn).toBe(Table?.LatestStreamArn);

    // Stored through the consumer's ingest: a delivery twice in a batch, and the batch delivered again.
    const events = soriEvents(5);
    const ingest = createIngest({
      writer: new EventWriter(aws.dynamodb, tableName, DEFAULT_LAYOUT),
      counters: new CampaignCounters(aws.dynamodb, tableName, DEFAULT_LAYOUT, 60_000),
    });
    const batch = [...events, events[0]] as QueueMessage[];
    for (const delivery of [batch, batch]) {
      expect((await ingest.store(delivery)).every((outcome) => outcome.ok)).toBe(true);
    }

    // Read as the mapping reads it: with the role's key, from where it starts, through its filter.
    const streams = streamsClient(aws.endpoint, key);
    const { records } = await streams.readAll(await streams.iterator(streamArn, mapping.StartingPosition));
    const passed = records.filter((record) => passesFilters(mapping.FilterCriteria.Filters, record));
    expect(records.length).toBeGreaterThan(passed.length);
    expect(passed).toHaveLength(events.length);

    const environment = Object.fromEntries(
      Object.entries(bundle.properties.Environment?.Variables ?? {}).map(([name, value]) => [
        name,
        resolveValue(value, physical),
      ]),
    );
    const result = await invokeBundleWith(
      bundle.file,
      {
        ...environment,
        AWS_REGION: MOTO_REGION,
        AWS_ACCESS_KEY_ID: key.accessKeyId,
        AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
        AWS_ENDPOINT_URL: aws.endpoint,
      },
      { Records: passed },
    );
    expect(result).toEqual({ batchItemFailures: [] });

    const listed = await aws.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    const rows: LakeRow[] = [];
    for (const object of listed.Contents ?? []) {
      const body = await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }));
      rows.push(...(concatenatedJson(await (body.Body?.transformToString() ?? '')) as LakeRow[]));
    }
    const byId = (a: LakeRow, b: LakeRow) => a.id.localeCompare(b.id);
    expect(rows.sort(byId)).toEqual(events.map((event) => lakeRowOf(event.record)).sort(byId));
  });
});
