import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { CampaignInboxStack } from '../../infra/campaign-inbox-stack';
import { DEFAULT_CONFIG } from '../../infra/config';
import { rotateSecret } from '../../lib/signature/rotate-secret';
import { bundledFunction, deliverThroughBundles, invokeBundle } from '../support/bundles';
import { hexSignature, soriBody, webhookEvent } from '../support/deliveries';
import { generatedSecretDocument, startSecretsManagerStandIn } from '../support/deployed-receive';
import { type SeenRequest, sdkAuthorization, startSqsStandIn } from '../support/sqs-stand-in';

type Resource = { Type: string; Properties: Record<string, unknown> };

/** The stack as `cdk synth` builds it, esbuild bundling on; built once for the file's tests. */
let synthesized: Promise<{ outdir: string; resources: Record<string, Resource> }> | undefined;
function synth() {
  synthesized ??= (async () => {
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
    return { outdir, resources: (artifact.template as { Resources: Record<string, Resource> }).Resources };
  })();
  return synthesized;
}

describe('the bundles `cdk synth` produces', () => {
  it('carry a signed SORI delivery from the bundled receive function, through the queue, into the table by the bundled process function, and on to the bundled reaction', async () => {
    const { outdir, resources } = await synth();
    const { id, events, aws } = await deliverThroughBundles(outdir, resources, {
      receive: 'InboxReceiveFunction',
      process: 'InboxProcessFunction',
    });
    expect(events.map((item) => item.id?.S)).toEqual([id]);

    // The stream hands the reaction the new item; the bundled user module gets the stored event.
    const reaction = await bundledFunction(outdir, resources, 'OnEventFunction');
    const reactions = join(outdir, 'reactions.jsonl');
    const reacted = (await invokeBundle(
      reaction.file,
      { ...aws, REACTIONS_FILE: reactions },
      { Records: [{ eventName: 'INSERT', dynamodb: { NewImage: events[0], SequenceNumber: '1' } }] },
    )) as { batchItemFailures: unknown[] };
    expect(reacted.batchItemFailures).toEqual([]);
    expect(JSON.parse(await readFile(reactions, 'utf8'))).toMatchObject({ id, event: 'campaign.click' });
  });

  it("sign their AWS requests with the role's credentials Lambda puts in the environment, the only credential step they carry", async () => {
    const { outdir, resources } = await synth();
    const receive = await bundledFunction(outdir, resources, 'InboxReceiveFunction');
    // The default chain's other steps (profiles, SSO, web identity, container and instance credentials) are
    // not in the bundle: in Lambda they were never reached.
    const code = await readFile(receive.file, 'utf8');
    for (const step of [
      'AWS_WEB_IDENTITY_TOKEN_FILE',
      'credential_process',
      'sso_start_url',
      'AWS_CONTAINER_CREDENTIALS_FULL_URI',
    ]) {
      expect(code).not.toContain(step);
    }
    const sqsStandIn = await startSqsStandIn();
    const secrets = await startSecretsManagerStandIn(
      rotateSecret(generatedSecretDocument(), 'sori', 'sk_role_bundle'),
    );
    try {
      const variables = Object.fromEntries(
        Object.entries(receive.properties.Environment?.Variables ?? {}).filter(
          ([, v]) => typeof v === 'string',
        ),
      ) as Record<string, string>;
      const body = soriBody('impression');
      const answer = (await invokeBundle(
        receive.file,
        {
          ...variables,
          QUEUE_URL: `${sqsStandIn.endpoint}/000000000000/events`,
          SIGNING_SECRET_ARN: secrets.arn,
          AWS_REGION: 'us-east-1',
          AWS_ENDPOINT_URL_SQS: sqsStandIn.endpoint,
          AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
          AWS_ACCESS_KEY_ID: 'ASIAROLEBUNDLE000001',
          AWS_SECRET_ACCESS_KEY: 'role-secret-access-key',
          AWS_SESSION_TOKEN: 'role-session-token',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        },
        webhookEvent({ body, headers: { 'x-sori-signature': hexSignature(body, 'sk_role_bundle') } }),
      )) as { statusCode: number };
      expect(answer.statusCode).toBe(202);
      expect(sqsStandIn.seen).toHaveLength(1);
      expect(String(sqsStandIn.seen[0]?.authorization)).toMatch(
        /^AWS4-HMAC-SHA256 Credential=ASIAROLEBUNDLE000001\//,
      );
      expect(sqsStandIn.seen[0]?.['x-amz-security-token']).toBe('role-session-token');
      // And signed right: the SDK's own signer, given those credentials, computes the same signature.
      const request = sqsStandIn.requests[0] as SeenRequest;
      expect(
        await sdkAuthorization(request, {
          service: 'sqs',
          region: 'us-east-1',
          credentials: {
            accessKeyId: 'ASIAROLEBUNDLE000001',
            secretAccessKey: 'role-secret-access-key',
            sessionToken: 'role-session-token',
          },
        }),
      ).toBe(request.headers.authorization);
    } finally {
      await sqsStandIn.close();
      await secrets.close();
    }
  });
});
