import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { promisify } from 'node:util';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { App } from 'aws-cdk-lib';
import { describe, expect, inject, it } from 'vitest';
import { CampaignInboxStack } from '../../infra/campaign-inbox-stack';
import { DEFAULT_CONFIG } from '../../infra/config';
import { rotateSecret } from '../../lib/signature/rotate-secret';
import { ensureRecordsTable } from '../../local/create-records-table';
import { hexSignature, soriBody } from '../support/deliveries';
import { generatedSecretDocument, startSecretsManagerStandIn } from '../support/deployed-receive';
import { createTestQueues, eventually, localClients, takeMessages, uniqueName } from '../support/local-aws';

const run = promisify(execFile);
const { dynamodb, sqs } = localClients();

type Resource = { Type: string; Properties: Record<string, unknown> };

/**
 * Runs a bundle's `handler(event, context)` in a fresh Node process, as Lambda's Node runtime does: it imports
 * the file, calls the export with the event and a context, and prints what the handler returned.
 */
async function invokeBundle(file: string, env: Record<string, string>, event: unknown): Promise<unknown> {
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

describe('the bundles `cdk synth` produces', () => {
  it('carry a signed SORI delivery from the bundled receive function, through the queue, into the table by the bundled process function, and on to the bundled reaction', async () => {
    // The stack as `cdk synth` builds it, esbuild bundling on.
    const outdir = await mkdtemp(join(tmpdir(), 'campaign-inbox-assembly-'));
    const app = new App({ outdir, builtinCloudFormationValidation: false });
    const stack = new CampaignInboxStack(app, 'BundleTest', {
      config: DEFAULT_CONFIG,
      // A reaction, so its bundle (the user's module inside) is built and run too.
      onEvent: {
        module: resolvePath('test/fixtures/reactions/record-ids.ts'),
        events: ['campaign.click'],
        providers: [],
      },
    });
    const artifact = app.synth().getStackArtifact(stack.artifactId);
    const resources = (artifact.template as { Resources: Record<string, Resource> }).Resources;
    const functionNamed = (prefix: string) => {
      const entry = Object.entries(resources).find(
        ([id, resource]) => resource.Type === 'AWS::Lambda::Function' && id.startsWith(prefix),
      );
      if (!entry) throw new Error(`no function ${prefix} in the template`);
      const properties = entry[1].Properties as {
        Code: { S3Key: string };
        Handler: string;
        Environment: { Variables: Record<string, unknown> };
      };
      const asset = join(outdir, `asset.${properties.Code.S3Key.replace(/\.zip$/, '')}`);
      return { properties, asset };
    };
    const receive = functionNamed('InboxReceiveFunction');
    const processFn = functionNamed('InboxProcessFunction');
    const reaction = functionNamed('OnEventFunction');
    for (const fn of [receive, processFn, reaction]) {
      expect(fn.properties.Handler).toBe('index.handler');
      expect(await readdir(fn.asset)).toContain('index.mjs');
    }

    // Where the template's references point here: the local servers, and a Secrets Manager stand-in (no local
    // server exists for it).
    const queues = await createTestQueues(sqs);
    const tableName = uniqueName('bundled-records');
    await ensureRecordsTable(dynamodb, tableName);
    const document = rotateSecret(generatedSecretDocument(), 'sori', 'sk_bundle_test');
    const secrets = await startSecretsManagerStandIn(document);
    const resolve = (variables: Record<string, unknown>) =>
      Object.fromEntries(
        Object.entries(variables).map(([name, value]) => {
          if (typeof value === 'string') return [name, value];
          const ref = JSON.stringify(value);
          if (name === 'QUEUE_URL') return [name, queues.queueUrl];
          if (name === 'DLQ_URL') return [name, queues.dlqUrl];
          if (name === 'SIGNING_SECRET_ARN') return [name, secrets.arn];
          if (name === 'TABLE_NAME') return [name, tableName];
          if (name === 'RAW_BUCKET') return [name, 'raw-bodies-unused'];
          throw new Error(`no local value for ${name} = ${ref}`);
        }),
      );
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
        join(receive.asset, 'index.mjs'),
        { ...resolve(receive.properties.Environment.Variables), ...aws },
        {
          version: '2.0',
          routeKey: 'ANY /webhooks/{provider}',
          rawPath: '/webhooks/sori',
          headers: {
            'content-type': 'application/json',
            'x-sori-signature': hexSignature(body, 'sk_bundle_test'),
          },
          pathParameters: { provider: 'sori' },
          requestContext: { http: { method: 'POST', path: '/webhooks/sori', sourceIp: '203.0.113.9' } },
          body,
          isBase64Encoded: false,
        },
      )) as { statusCode: number; body: string };
      expect(answer.statusCode).toBe(202);
      const { id } = JSON.parse(answer.body) as { id: string };

      const messages = await eventually(async () => {
        const taken = await takeMessages(sqs, queues.queueUrl);
        return taken.length > 0 ? taken : undefined;
      });
      const outcome = (await invokeBundle(
        join(processFn.asset, 'index.mjs'),
        { ...resolve(processFn.properties.Environment.Variables), ...aws },
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
      const events = Items.filter((item) => item.kind?.S === 'event');
      expect(events.map((item) => item.id?.S)).toEqual([id]);

      // The stream hands the reaction the new item; the bundled user module gets the stored event.
      const reactions = join(outdir, 'reactions.jsonl');
      const reacted = (await invokeBundle(
        join(reaction.asset, 'index.mjs'),
        { ...aws, REACTIONS_FILE: reactions },
        { Records: [{ eventName: 'INSERT', dynamodb: { NewImage: events[0], SequenceNumber: '1' } }] },
      )) as { batchItemFailures: unknown[] };
      expect(reacted.batchItemFailures).toEqual([]);
      expect(JSON.parse(await readFile(reactions, 'utf8'))).toEqual({ id, event: 'campaign.click' });
    } finally {
      await secrets.close();
    }
  });
});
