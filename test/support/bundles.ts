/**
 * Runs synthesized Lambda bundles as Lambda's Node runtime would (a fresh process, `handler(event, context)`),
 * with the environment the template gives them pointed at the run's local servers, and a Secrets Manager
 * stand-in (no local server exists for it).
 */
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import { expect, inject } from 'vitest';
import { rotateSecret } from '../../lib/signature/rotate-secret';
import { ensureRecordsTable } from '../../local/create-records-table';
import { hexSignature, soriBody, webhookEvent } from './deliveries';
import { generatedSecretDocument, startSecretsManagerStandIn } from './deployed-receive';
import { createTestQueues, eventually, localClients, takeMessages, uniqueName } from './local-aws';

const run = promisify(execFile);
const { dynamodb, sqs } = localClients();

type Resource = { Type: string; Properties: Record<string, unknown> };
interface FunctionProperties {
  Code: { S3Key: string };
  Handler: string;
  Environment?: { Variables: Record<string, unknown> };
}

/** A function of a synthesized template and the folder of its bundle in the cloud assembly. */
export async function bundledFunction(outdir: string, resources: Record<string, Resource>, idPrefix: string) {
  const entry = Object.entries(resources).find(
    ([id, resource]) => resource.Type === 'AWS::Lambda::Function' && id.startsWith(idPrefix),
  );
  if (!entry) throw new Error(`no function ${idPrefix} in the template`);
  const properties = entry[1].Properties as unknown as FunctionProperties;
  const asset = join(outdir, `asset.${properties.Code.S3Key.replace(/\.zip$/, '')}`);
  expect(properties.Handler).toBe('index.handler');
  expect(await readdir(asset)).toContain('index.mjs');
  return { properties, file: join(asset, 'index.mjs') };
}

/**
 * A function's environment as the template gives it, its references to the stack's resources (`Ref`,
 * `Fn::GetAtt`) replaced by `local`'s values for the same variables.
 * @throws when a reference has no local value.
 */
export function templateEnvironment(variables: Record<string, unknown> = {}, local: Record<string, string>) {
  return Object.fromEntries(
    Object.entries(variables).map(([name, value]) => {
      if (typeof value === 'string') return [name, value];
      if (!local[name]) throw new Error(`no local value for ${name} = ${JSON.stringify(value)}`);
      return [name, local[name]];
    }),
  );
}

/** Runs a bundle's `handler(event, context)` in a fresh Node process and returns what the handler returned. */
export async function invokeBundle(
  file: string,
  env: Record<string, string>,
  event: unknown,
): Promise<unknown> {
  const runner = `
    const { handler } = await import(${JSON.stringify(file)});
    const context = { functionName: 'bundle-test', awsRequestId: 'bundle-test', getRemainingTimeInMillis: () => 10000 };
    const result = await handler(JSON.parse(process.env.BUNDLE_EVENT), context);
    process.stdout.write('\\n@@RESULT@@' + JSON.stringify(result));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', runner], {
    env: { PATH: process.env.PATH ?? '', ...env, BUNDLE_EVENT: JSON.stringify(event) },
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout.slice(stdout.lastIndexOf('@@RESULT@@') + '@@RESULT@@'.length));
}

/**
 * Sends a signed SORI click through the bundled receive function, takes what it queued, hands it to the
 * bundled process function, and reads the table.
 * @returns the id the receive function answered, the event items stored, and the AWS settings used.
 */
export async function deliverThroughBundles(
  outdir: string,
  resources: Record<string, Resource>,
  prefixes: { receive: string; process: string },
) {
  const receive = await bundledFunction(outdir, resources, prefixes.receive);
  const processFn = await bundledFunction(outdir, resources, prefixes.process);
  const queues = await createTestQueues(sqs);
  const tableName = uniqueName('bundled-records');
  await ensureRecordsTable(dynamodb, tableName);
  const secrets = await startSecretsManagerStandIn(
    rotateSecret(generatedSecretDocument(), 'sori', 'sk_bundle'),
  );
  const resolve = (variables: Record<string, unknown> = {}) =>
    templateEnvironment(variables, {
      QUEUE_URL: queues.queueUrl,
      DLQ_URL: queues.dlqUrl,
      SIGNING_SECRET_ARN: secrets.arn,
      TABLE_NAME: tableName,
      RAW_BUCKET: 'raw-bodies-unused',
    });
  const aws = {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bundle',
    AWS_SECRET_ACCESS_KEY: 'bundle',
    AWS_ENDPOINT_URL_SQS: inject('sqsEndpoint'),
    AWS_ENDPOINT_URL_DYNAMODB: inject('dynamodbEndpoint'),
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  try {
    const body = soriBody('click');
    const answer = (await invokeBundle(
      receive.file,
      { ...resolve(receive.properties.Environment?.Variables), ...aws },
      webhookEvent({ body, headers: { 'x-sori-signature': hexSignature(body, 'sk_bundle') } }),
    )) as { statusCode: number; body: string };
    expect(answer.statusCode).toBe(202);
    const { id } = JSON.parse(answer.body) as { id: string };
    const messages = await eventually(async () => {
      const taken = await takeMessages(sqs, queues.queueUrl);
      return taken.length > 0 ? taken : undefined;
    });
    const outcome = (await invokeBundle(
      processFn.file,
      { ...resolve(processFn.properties.Environment?.Variables), ...aws },
      {
        Records: messages.map((message, i) => ({
          messageId: `m${i}`,
          body: message,
          eventSource: 'aws:sqs',
        })),
      },
    )) as { batchItemFailures: unknown[] };
    expect(outcome.batchItemFailures).toEqual([]);
    const { Items = [] } = await dynamodb.send(
      new ScanCommand({ TableName: tableName, ConsistentRead: true }),
    );
    const events: Record<string, AttributeValue>[] = Items.filter((item) => item.kind?.S === 'event');
    return { id, events, aws };
  } finally {
    await secrets.close();
  }
}
