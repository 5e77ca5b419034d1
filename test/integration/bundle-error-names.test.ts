import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { CampaignInboxStack } from '../../infra/campaign-inbox-stack';
import { DEFAULT_CONFIG } from '../../infra/config';
import { rotateSecret } from '../../lib/signature/rotate-secret';
import { bundledFunction } from '../support/bundles';
import { hexSignature, soriBody, webhookEvent } from '../support/deliveries';
import { generatedSecretDocument, startSecretsManagerStandIn } from '../support/deployed-receive';

const run = promisify(execFile);
type Resource = { Type: string; Properties: Record<string, unknown> };

/** The stack as `cdk synth` builds it, esbuild bundling on (no reaction: its bundle is not needed here). */
async function synth() {
  const outdir = await mkdtemp(join(tmpdir(), 'campaign-inbox-names-'));
  const app = new App({ outdir, builtinCloudFormationValidation: false });
  const stack = new CampaignInboxStack(app, 'NamesTest', { config: DEFAULT_CONFIG });
  const artifact = app.synth().getStackArtifact(stack.artifactId);
  return { outdir, resources: (artifact.template as { Resources: Record<string, Resource> }).Resources };
}

/** Runs a bundle's handler once in a fresh Node process, as Lambda would; returns what it wrote to stderr. */
async function stderrOf(file: string, env: Record<string, string>, event: unknown): Promise<string> {
  const runner = `
    const { handler } = await import(${JSON.stringify(file)});
    const context = { functionName: 'names-test', awsRequestId: 'names-test', getRemainingTimeInMillis: () => 10000 };
    await handler(JSON.parse(process.env.BUNDLE_EVENT), context);`;
  const { stderr } = await run(process.execPath, ['--input-type=module', '-e', runner], {
    env: { PATH: process.env.PATH ?? '', ...env, BUNDLE_EVENT: JSON.stringify(event) },
    maxBuffer: 16 * 1024 * 1024,
  });
  return stderr;
}

describe('the bundles `cdk synth` produces', () => {
  it('keep the names of error classes: a forged delivery is logged by the bundled receive function as a SignatureError', {
    timeout: 180_000,
  }, async () => {
    const { outdir, resources } = await synth();
    const receive = await bundledFunction(outdir, resources, 'InboxReceiveFunction');
    const secrets = await startSecretsManagerStandIn(
      rotateSecret(generatedSecretDocument(), 'sori', 'sk_names'),
    );
    try {
      const variables = Object.fromEntries(
        Object.entries(receive.properties.Environment?.Variables ?? {}).filter(
          ([, value]) => typeof value === 'string',
        ),
      ) as Record<string, string>;
      const body = soriBody('click');
      const stderr = await stderrOf(
        receive.file,
        {
          ...variables,
          QUEUE_URL: 'http://127.0.0.1:9/000000000000/events',
          SIGNING_SECRET_ARN: secrets.arn,
          AWS_REGION: 'us-east-1',
          AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
          AWS_ACCESS_KEY_ID: 'names',
          AWS_SECRET_ACCESS_KEY: 'names',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        },
        webhookEvent({ body, headers: { 'x-sori-signature': hexSignature(body, 'not-the-secret') } }),
      );
      const rejected = stderr
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { message?: string; status?: number; error?: { name?: string } })
        .find((entry) => entry.message === 'rejected');
      expect(rejected).toMatchObject({
        status: 401,
        error: { name: 'SignatureError', message: 'signature mismatch' },
      });
    } finally {
      await secrets.close();
    }
    // The process and repair functions keep them too: the name their errors are logged under is in each bundle.
    for (const prefix of ['InboxProcessFunction', 'InboxRepairFunction']) {
      const bundle = await readFile((await bundledFunction(outdir, resources, prefix)).file, 'utf8');
      expect(bundle, prefix).toMatch(/["']ConfigError["']/);
    }
  });
});
