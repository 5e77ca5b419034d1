import { parseArgs } from 'node:util';
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { DEFAULT_CONFIG } from '../infra/config';
import { allProviders, findProvider, providerNames } from '../lib/providers';
import { DEFAULT_APP, isAppName } from '../lib/providers/apps';
import { registerCustomProviders } from '../lib/providers/declarative';
import { rotateSecret, rotateUrlToken, setBasicCredentials } from '../lib/signature/rotate-secret';
import {
  parseSigningSecretDocument,
  type SigningSecretDocument,
  tokenWebhookUrl,
} from '../lib/signature/signing-secrets';
import { requireRegion } from './aws-region';
import { invocation, isEntry, reportFailure, runAsEntry, UsageError } from './entry';
import { readStackOutputs, requireOutput } from './stack-outputs';

const usage =
  () => `Usage: ${invocation('set-secret')} [--stack <name>] [--provider <name>] [--app <name>] [--show-token-url | --new-url-token | --basic]

Puts a provider's secret_key (SORI Console: app_id/secret_key) into the deployed signing secret. The new
secret is read from standard input (so it stays out of shell history); the one it replaces is kept as the
previous secret, so deliveries signed before the change still verify. Every other credential stays.
URLs go to stdout, messages to stderr.

  --stack <name>      the deployed stack (default ${DEFAULT_CONFIG.stackName})
  --region <name>     its AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, else your AWS profile's)
  --provider <name>   whose credentials (default sori; with --show-token-url, default every URL-token provider)
  --app <name>        the secret_key of one of the provider's apps (e.g. an agency's own SORI app), for the URL
                      it prints: <WebhookUrl>/<app>. Every other app's keys stay. Without it: the provider's
                      own URL's (the default app)
  --show-token-url    print the URL-token webhook URLs (secrets) and change nothing: each provider has its own
                      token, derived from the value generated at deploy time unless given one of its own
  --new-url-token     give the provider a new URL token of its own and print its URL (the old one stops)
  --basic             set the provider's HTTP Basic credentials, read as user:password from standard input

Example:  printf '%s' "$SORI_SECRET_KEY" | ${invocation('set-secret')} --stack ${DEFAULT_CONFIG.stackName}
          printf '%s' "$AGENCY_A_SECRET_KEY" | ${invocation('set-secret')} --app agency-a
          ${invocation('set-secret')} --show-token-url
`;

/** The providers whose own scheme is the URL token (Symphony, Ad Reform, Optimizely). */
const urlTokenProviderNames = () =>
  allProviders()
    .filter((provider) => provider.auth.scheme.kind === 'url-token')
    .map((provider) => provider.name);

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Paste the secret_key and press Enter (then Ctrl-D): ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

/** The flags, checked: the provider, the app, and which one change (or showing) is asked for. */
function parseFlags(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      stack: { type: 'string', default: DEFAULT_CONFIG.stackName },
      region: { type: 'string' },
      provider: { type: 'string' },
      app: { type: 'string' },
      'show-token-url': { type: 'boolean', default: false },
      'new-url-token': { type: 'boolean', default: false },
      basic: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return { values, provider: '', app: DEFAULT_APP };
  // The providers the stack is configured with: their secrets sit in the signing secret beside SORI's.
  if (process.env.CUSTOM_PROVIDERS !== undefined) registerCustomProviders(process.env.CUSTOM_PROVIDERS);
  const provider = values.provider ?? 'sori';
  if (!providerNames().includes(provider)) {
    throw new UsageError(`unknown provider ${provider}; known: ${providerNames().join(', ')}`);
  }
  const modes = [values['show-token-url'], values['new-url-token'], values.basic].filter(Boolean).length;
  if (modes > 1) throw new UsageError('choose one of --show-token-url, --new-url-token and --basic');
  const app = values.app ?? DEFAULT_APP;
  if (values.app !== undefined) {
    if (modes > 0)
      throw new UsageError(
        '--app applies to a secret_key only: an app has no URL token or Basic credentials',
      );
    if (app !== DEFAULT_APP && !isAppName(app))
      throw new UsageError(
        `--app must be 1 to 32 lower-case letters, digits or hyphens (one URL path segment), got ${JSON.stringify(app.slice(0, 40))}`,
      );
    if (findProvider(provider)?.auth.scheme.kind !== 'hmac')
      throw new UsageError(`${provider} does not sign its deliveries with an HMAC: it has no apps`);
  }
  return { values, provider, app };
}

type Flags = ReturnType<typeof parseFlags>;

/** What one run changes in the signing secret, and says: the document read, how to write the next. */
interface Change {
  document: SigningSecretDocument;
  put: (document: SigningSecretDocument) => Promise<unknown>;
  webhookUrl: string;
}

/** `--show-token-url`: each provider's URL with its token (secret: shown to the operator only). */
function showTokenUrls({ values }: Flags, { document, webhookUrl }: Change): number {
  const names = values.provider ? [values.provider] : urlTokenProviderNames();
  for (const name of names) {
    const url = tokenWebhookUrl(webhookUrl, document, name);
    if (!url) {
      console.error(`${name}: no URL token (the secret holds no generated value): use --new-url-token`);
      continue;
    }
    console.log(names.length > 1 ? `${`${name}:`.padEnd(12)} ${url}` : url);
  }
  console.error('Each URL is a secret: paste it into its provider only, show it to no one else.');
  return 0;
}

/** The change the flags ask for, written; what to do next on stderr, the URL to paste on stdout. */
async function applyChange({ values, provider, app }: Flags, { document, put, webhookUrl }: Change) {
  if (values['new-url-token']) {
    const next = rotateUrlToken(document, provider);
    await put(next);
    console.log(tokenWebhookUrl(webhookUrl, next, provider));
    console.error(
      `A new URL token for ${provider}: paste this URL into its console; the old one stops within 5 minutes.`,
    );
    return 0;
  }
  if (values.basic) {
    const [username, ...rest] = (await readStdin()).split(':');
    const password = rest.join(':');
    if (!username || !password)
      throw new Error('give the Basic credentials on standard input as user:password');
    await put(setBasicCredentials(document, provider, { username, password }));
    console.error(`HTTP Basic credentials for ${provider} are set.`);
    return 0;
  }
  const secret = await readStdin();
  await put(rotateSecret(document, provider, secret, app));
  if (app !== DEFAULT_APP) {
    // The app's own URL: the provider's, one segment more. It is no secret, unlike a URL token.
    console.log(`${webhookUrl.replace(/\/webhooks\/[^/]+\/?$/, '')}/webhooks/${provider}/${app}`);
    console.error(
      `The ${provider} secret of app ${app} is set; its previous one still verifies until the next change, and no other app's changed. Paste this URL into that app's console; receive functions pick the key up within 5 minutes.`,
    );
    return 0;
  }
  console.error(
    `The ${provider} secret is set; the previous one still verifies until the next change. Receive functions pick it up within 5 minutes.`,
  );
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const flags = parseFlags(argv);
  if (flags.values.help) {
    console.log(usage());
    return 0;
  }
  const region = await requireRegion(flags.values.region);
  const outputs = await readStackOutputs(flags.values.stack, region);
  const secretId = requireOutput(outputs, 'SigningSecretArn', flags.values.stack);
  const webhookUrl = requireOutput(outputs, 'WebhookUrl', flags.values.stack);
  const client = new SecretsManagerClient({ region });
  try {
    const current = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    const change: Change = {
      document: parseSigningSecretDocument(current.SecretString ?? '{}'),
      put: (document) =>
        client.send(
          new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify(document) }),
        ),
      webhookUrl,
    };
    return flags.values['show-token-url'] ? showTokenUrls(flags, change) : await applyChange(flags, change);
  } finally {
    client.destroy();
  }
}

/** The tool: changes (or shows) a provider's credentials. @returns the exit code (0, 1 failed, 2 usage). */
export async function run(argv: string[]): Promise<number> {
  try {
    return await main(argv);
  } catch (error) {
    return reportFailure('set-secret', error);
  }
}

if (isEntry(import.meta.url)) runAsEntry(run);
