import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteQueueCommand } from '@aws-sdk/client-sqs';
import { App, Stack } from 'aws-cdk-lib';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { CampaignInbox } from '../../infra/constructs/campaign-inbox';
import type { QueueMessage } from '../../lib/events/event-record';
import { rotateSecret } from '../../lib/signature/rotate-secret';
import { bundledFunction, invokeBundle, templateEnvironment } from '../support/bundles';
import {
  generatedSecretDocument,
  type SecretsManagerStandIn,
  startSecretsManagerStandIn,
} from '../support/deployed-receive';
import {
  click,
  MAX_BODY_BYTES,
  octets,
  ROWS,
  SECRET,
  seen,
  signed,
  spaced,
} from '../support/front-door-answers';
import { functionUrlEvent } from '../support/function-url';
import { createTestQueues, localClients, takeMessages } from '../support/local-aws';

// The receive function's bundle as `cdk synth` builds it for `frontDoor: 'functionUrl'`, run in a fresh Node
// process per request as Lambda runs it, with function URL events: the answer table holds there too.

type Resource = { Type: string; Properties: Record<string, unknown> };

const { sqs } = localClients();
let secrets: SecretsManagerStandIn | undefined;
afterAll(async () => {
  await secrets?.close();
});

async function synthesizeBundle() {
  const outdir = await mkdtemp(join(tmpdir(), 'campaign-inbox-function-url-'));
  const app = new App({ outdir, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'FunctionUrlBundle');
  new CampaignInbox(stack, 'Inbox', { frontDoor: 'functionUrl' });
  const artifact = app.synth().getStackArtifact(stack.artifactId);
  const resources = (artifact.template as { Resources: Record<string, Resource> }).Resources;
  expect(Object.values(resources).some((resource) => resource.Type === 'AWS::Lambda::Url')).toBe(true);
  return bundledFunction(outdir, resources, 'InboxReceiveFunction');
}

describe('the bundled receive function behind a function URL', () => {
  it('answers the table (202, 401, 404, 405, 413, a quarantine id, then 503 once the queue is gone) to function URL events, and queues the accepted bodies byte for byte', async () => {
    const receive = await synthesizeBundle();
    const { queueUrl } = await createTestQueues(sqs);
    secrets = await startSecretsManagerStandIn(
      rotateSecret(generatedSecretDocument({ frontDoor: 'functionUrl' }), 'sori', SECRET),
    );
    const env = {
      ...templateEnvironment(receive.properties.Environment?.Variables, {
        QUEUE_URL: queueUrl,
        SIGNING_SECRET_ARN: secrets.arn,
        RAW_BUCKET: 'raw-bodies-unused',
      }),
      MAX_BODY_BYTES: String(MAX_BODY_BYTES),
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'bundle',
      AWS_SECRET_ACCESS_KEY: 'bundle',
      AWS_ENDPOINT_URL_SQS: inject('sqsEndpoint'),
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
    };
    const send = async (request: Parameters<typeof functionUrlEvent>[0]) =>
      (await invokeBundle(receive.file, env, functionUrlEvent(request))) as APIGatewayProxyStructuredResultV2;

    const answers: Record<string, ReturnType<typeof seen>> = {};
    let quarantineId: unknown;
    for (const row of ROWS) {
      const response = await send(row.request);
      answers[row.name] = seen(response, row);
      if (row.answer?.status === 'quarantined') quarantineId = JSON.parse(String(response.body)).id;
    }
    expect(answers).toEqual(
      Object.fromEntries(
        ROWS.map((row) => [
          row.name,
          { status: row.status, answer: row.answer ?? {}, headers: row.headers ?? {} },
        ]),
      ),
    );
    const queued = (await takeMessages(sqs, queueUrl)).map((body) => JSON.parse(body) as QueueMessage);
    expect(queued.map((message) => message.raw)).toEqual([click, spaced, octets, '{"broken']);
    expect(queued[3]?.record.id).toBe(quarantineId);

    await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
    const unavailable = await send({ path: '/webhooks/sori', headers: signed(click), body: click });
    expect([unavailable.statusCode, unavailable.headers?.['retry-after']]).toEqual([503, '5']);
  });
});
