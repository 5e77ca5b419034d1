import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { DEFAULT_CONFIG } from '../infra/config';
import { providerNames } from '../lib/providers';
import { rotateSecret } from '../lib/signature/rotate-secret';
import {
  credentialsOf,
  parseSigningSecretDocument,
  type SigningSecretDocument,
} from '../lib/signature/signing-secrets';
import { readStackOutputs, requireOutput } from './stack-outputs';

const USAGE = `Usage: npm run set-secret -- [--stack <name>] [--provider sori] [--show-token-url]

Puts a provider's secret_key (SORI Console: app_id/secret_key) into the deployed signing secret. The new
secret is read from standard input (so it stays out of shell history); the one it replaces is kept as the
previous secret, so deliveries signed before the change still verify.

  --stack <name>      the deployed stack (default ${DEFAULT_CONFIG.stackName})
  --provider <name>   whose secret (default sori)
  --show-token-url    print the provider's URL-token webhook URL (a secret) and change nothing
  --new-url-token     give the provider a URL token of its own and print its URL (Symphony, Ad Reform,
                      Optimizely; without one they share the token generated at deploy time)
  --basic             set the provider's HTTP Basic credentials, read as user:password from standard input

Example:  printf '%s' "$SORI_SECRET_KEY" | npm run set-secret -- --stack ${DEFAULT_CONFIG.stackName}
`;

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Paste the secret_key and press Enter (then Ctrl-D): ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      stack: { type: 'string', default: DEFAULT_CONFIG.stackName },
      provider: { type: 'string', default: 'sori' },
      'show-token-url': { type: 'boolean', default: false },
      'new-url-token': { type: 'boolean', default: false },
      basic: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!providerNames().includes(values.provider)) throw new Error(`unknown provider ${values.provider}`);
  const outputs = await readStackOutputs(values.stack);
  const secretId = requireOutput(outputs, 'SigningSecretArn', values.stack);
  const client = new SecretsManagerClient({});
  try {
    const current = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    const document = parseSigningSecretDocument(current.SecretString ?? '{}');
    const tokenUrl = (doc: SigningSecretDocument) => {
      const base = requireOutput(outputs, 'WebhookUrl', values.stack).replace(
        /\/sori$/,
        `/${values.provider}`,
      );
      return `${base}/${credentialsOf(doc, values.provider).urlToken ?? ''}`;
    };
    if (values['show-token-url']) {
      console.log(tokenUrl(document));
      console.error('This URL is a secret: paste it into the provider, show it to no one else.');
      return 0;
    }
    if (values['new-url-token']) {
      const entry = document[values.provider];
      const next = {
        ...document,
        [values.provider]: {
          ...(typeof entry === 'object' ? entry : {}),
          url_token: randomBytes(20).toString('hex'),
        },
      };
      await client.send(
        new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify(next) }),
      );
      console.log(tokenUrl(next));
      console.error(
        `A new URL token for ${values.provider}: paste this URL into its console; the old one stops within 5 minutes.`,
      );
      return 0;
    }
    if (values.basic) {
      const [username, ...rest] = (await readStdin()).split(':');
      const password = rest.join(':');
      if (!username || !password)
        throw new Error('give the Basic credentials on standard input as user:password');
      const entry = document[values.provider];
      const next = {
        ...document,
        [values.provider]: { ...(typeof entry === 'object' ? entry : {}), basic: { username, password } },
      };
      await client.send(
        new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify(next) }),
      );
      console.log(`HTTP Basic credentials for ${values.provider} are set.`);
      return 0;
    }
    const secret = await readStdin();
    const next = rotateSecret(document, values.provider, secret);
    await client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify(next) }));
    console.log(
      `The ${values.provider} secret is set; the previous one still verifies until the next change. Receive functions pick it up within 5 minutes.`,
    );
    return 0;
  } finally {
    client.destroy();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`set-secret: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
