/**
 * `set-secret --app` against moto's Secrets Manager: the tool from source, as its own process, reading the
 * stack's outputs from a CloudFormation stack in moto and writing the signing secret moto keeps, every call
 * signed and checked by moto.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { CreateSecretCommand, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../support/local-aws';
import { bareEnv, finished } from '../support/tool-process';
import { MOTO_REGION } from './support/iam';
import { moto } from './support/moto';

const ROOT = resolve(import.meta.dirname, '../..');
const TSX_LOADER = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const WEBHOOK_URL = 'https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/webhooks/sori';

let stackName: string;
let secretArn: string;

beforeAll(async () => {
  const aws = moto();
  const created = await aws.secrets.send(
    new CreateSecretCommand({
      Name: uniqueName('signing'),
      // The document as the stack generates it and set-secret then fills it: the default app's keys, a token.
      SecretString: JSON.stringify({
        url_token: 'generated0123456789generated0123456789ab',
        sori: { current: 'sk_default', previous: 'sk_default_old' },
        symphony: { url_token: 'symphony_own_token_0123456' },
      }),
    }),
  );
  secretArn = created.ARN ?? '';
  stackName = uniqueName('CampaignInbox').replace(/[^A-Za-z0-9-]/g, '-');
  const cloudformation = new CloudFormationClient({
    region: MOTO_REGION,
    endpoint: aws.endpoint,
    credentials: aws.admin,
  });
  await cloudformation.send(
    new CreateStackCommand({
      StackName: stackName,
      TemplateBody: JSON.stringify({
        Resources: { Placeholder: { Type: 'AWS::CloudFormation::WaitConditionHandle' } },
        Outputs: { SigningSecretArn: { Value: secretArn }, WebhookUrl: { Value: WEBHOOK_URL } },
      }),
    }),
  );
  cloudformation.destroy();
});

/** `set-secret <args>` with `stdin` on its standard input, as moto's administrator. */
async function setSecret(args: string[], stdin: string) {
  const aws = moto();
  const child = spawn(
    process.execPath,
    ['--import', TSX_LOADER, join(ROOT, 'scripts/set-secret.ts'), '--stack', stackName, ...args],
    {
      cwd: ROOT,
      env: bareEnv({
        AWS_REGION: MOTO_REGION,
        AWS_ACCESS_KEY_ID: aws.admin.accessKeyId,
        AWS_SECRET_ACCESS_KEY: aws.admin.secretAccessKey,
        AWS_ENDPOINT_URL: aws.endpoint,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      }),
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  const done = finished(child);
  child.stdin?.end(stdin);
  return done;
}

const document = async () =>
  JSON.parse(
    (await moto().secrets.send(new GetSecretValueCommand({ SecretId: secretArn }))).SecretString ?? '{}',
  );

describe('set-secret --app', () => {
  it("adds an app's key and prints its URL, leaving every other credential as it was; rotating it keeps its previous key and touches no other app", async () => {
    const before = await document();
    const added = await setSecret(['--app', 'agency-a'], 'sk_agency_a\n');
    expect(added.stderr).toContain('The sori secret of app agency-a is set');
    expect([added.code, added.stdout]).toEqual([
      0,
      'https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/webhooks/sori/agency-a\n',
    ]);
    const withA = await document();
    expect(withA).toEqual({
      ...before,
      sori: { ...before.sori, apps: { 'agency-a': { current: 'sk_agency_a', previous: null } } },
    });

    expect((await setSecret(['--app', 'agency-b'], 'sk_agency_b')).code).toBe(0);
    expect((await setSecret(['--app', 'agency-a'], 'sk_agency_a_2')).code).toBe(0);
    const after = await document();
    expect(after).toEqual({
      ...before,
      sori: {
        ...before.sori,
        apps: {
          'agency-a': { current: 'sk_agency_a_2', previous: 'sk_agency_a' },
          'agency-b': { current: 'sk_agency_b', previous: null },
        },
      },
    });
  });

  it('refuses, writing nothing, an app name a URL segment cannot be, an app of a provider that does not sign, and --app with a URL token or Basic credentials', async () => {
    const before = await document();
    for (const [args, message] of [
      [['--app', 'Agency A'], /--app must be 1 to 32 lower-case letters, digits or hyphens/],
      [
        ['--app', 'agency-a', '--provider', 'symphony'],
        /symphony does not sign its deliveries with an HMAC: it has no apps/,
      ],
      [['--app', 'agency-a', '--new-url-token'], /--app applies to a secret_key only/],
      [['--app', 'agency-a', '--basic'], /--app applies to a secret_key only/],
    ] as const) {
      const run = await setSecret([...args], 'sk_never');
      expect([run.code, run.stderr]).toEqual([2, expect.stringMatching(message)]);
    }
    expect(await document()).toEqual(before);
  });
});
