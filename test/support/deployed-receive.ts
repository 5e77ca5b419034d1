/**
 * The deployed receive function, run in this process as Lambda would run it: `functions/receive-webhook/
 * handler.ts` imported fresh, with the environment the CDK construct gives it (read from the synthesized
 * template, so a renamed variable breaks the harness instead of passing unnoticed), its SQS client on the run's
 * fauxqs server, and its Secrets Manager client on a stand-in.
 *
 * ```ts
 * const receive = await loadDeployedReceive();                 // the secret CloudFormation would create
 * const { response, stdout } = await receive.invoke({ path: '/webhooks/sori', headers, body });
 * receive.secretsManager.document = rotateSecret(receive.secretsManager.document, 'sori', 'sk_new');
 * await receive.close();                                       // in afterEach/finally
 * ```
 *
 * Each invocation gets a Lambda context whose `getRemainingTimeInMillis` counts down from 4 s (the function's
 * timeout), or from `remainingMs` when a test passes it: `invoke(request, { remainingMs: 2_000 })`. What the
 * context said was left when the answer came back is in `remainingMsAtAnswer` (0 or less: the function would
 * have been stopped before answering).
 *
 * `invoke` returns what the function wrote while it ran: Powertools INFO logs and the metrics it flushes
 * (embedded metric format, one JSON line per flush) on stdout, WARN and ERROR logs on stderr. Captured output is
 * not echoed. Concurrent invocations share the streams, so each sees the others' lines too.
 *
 * Bodies over 96 KiB go to the raw bucket through S3's API: a test that sends one points `AWS_ENDPOINT_URL_S3` at
 * a server of that API (the run's fauxqs serves it) and creates {@link DeployedReceive.rawBucket} there first.
 *
 * The project's modules are imported fresh at each load (a cold start); packages under node_modules stay Node's
 * cached instances, which hold no state of the function's own. One deployed receive at a time per test file:
 * the handler reads `process.env` and writes to `process.stdout`, which the harness takes over until
 * {@link DeployedReceive.close}.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import type { CfnSecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { CfnQueue } from 'aws-cdk-lib/aws-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context, Handler } from 'aws-lambda';
import { inject, vi } from 'vitest';
import { CampaignInbox, type CampaignInboxProps } from '../../infra/constructs/campaign-inbox';
import type { SigningSecretDocument } from '../../lib/signature/signing-secrets';
import { createTestQueues, localClients, takeMessages, uniqueName } from './local-aws';

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

/** What the harness reads from the synthesized construct. */
interface Synthesized {
  /** The receive function's environment as the template has it: strings, or intrinsics like `{"Ref":…}`. */
  environment: Record<string, unknown>;
  /** The signing secret's `GenerateSecretString`. */
  generation: {
    SecretStringTemplate: string;
    GenerateStringKey: string;
    PasswordLength?: number;
    ExcludePunctuation?: boolean;
    ExcludeCharacters?: string;
  };
  secretLogicalId: string;
  queueLogicalId: string;
  bucketLogicalIds: string[];
  /** The HTTP API's route keys, e.g. `ANY /webhooks/{provider}`. */
  routeKeys: string[];
}

const synthesized = new Map<string, Synthesized>();

/** Synthesizes the `CampaignInbox` construct (no bundling) and reads what the harness needs; once per props. */
export function synthesizeInbox(props: CampaignInboxProps = {}): Synthesized {
  const key = JSON.stringify(props);
  const cached = synthesized.get(key);
  if (cached) return cached;
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'DeployedReceiveHarness');
  const inbox = new CampaignInbox(stack, 'Inbox', props);
  const resources = Template.fromStack(stack).toJSON().Resources as Resources;
  const logicalId = (child: unknown) => stack.getLogicalId(child as CfnFunction);
  const receive = resources[logicalId(inbox.receiveFunction.function.node.defaultChild)];
  const secret = resources[logicalId(inbox.signingSecret.secret.node.defaultChild as CfnSecret)];
  const environment = (receive?.Properties?.Environment as { Variables?: Record<string, unknown> })
    ?.Variables;
  const generation = secret?.Properties?.GenerateSecretString as Synthesized['generation'] | undefined;
  if (!environment || !generation) throw new Error('the construct has no receive function or signing secret');
  const result: Synthesized = {
    environment,
    generation,
    secretLogicalId: logicalId(inbox.signingSecret.secret.node.defaultChild),
    queueLogicalId: logicalId(inbox.queue.queue.node.defaultChild as CfnQueue),
    bucketLogicalIds: Object.entries(resources)
      .filter(([, resource]) => resource.Type === 'AWS::S3::Bucket')
      .map(([id]) => id),
    routeKeys: Object.values(resources)
      .filter((resource) => resource.Type === 'AWS::ApiGatewayV2::Route')
      .map((resource) => String(resource.Properties?.RouteKey)),
  };
  synthesized.set(key, result);
  return result;
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

/**
 * The secret document CloudFormation creates from the construct's `GenerateSecretString`: its template with a
 * random value at the generated key, drawn from the characters the template allows.
 */
export function generatedSecretDocument(props: CampaignInboxProps = {}): SigningSecretDocument {
  const { generation } = synthesizeInbox(props);
  const allowed = [...(generation.ExcludePunctuation ? ALPHANUMERIC : ALPHANUMERIC + PUNCTUATION)].filter(
    (char) => !(generation.ExcludeCharacters ?? '').includes(char),
  );
  const length = generation.PasswordLength ?? 32;
  const value = [...randomBytes(length)].map((byte) => allowed[byte % allowed.length]).join('');
  return { ...JSON.parse(generation.SecretStringTemplate), [generation.GenerateStringKey]: value };
}

/**
 * A stand-in for Secrets Manager's `GetSecretValue` (AWS JSON 1.1 over HTTP), because no local Secrets
 * Manager server exists. It serves {@link document} for {@link arn}, counts calls, and injects faults.
 */
export interface SecretsManagerStandIn {
  readonly endpoint: string;
  readonly arn: string;
  /** The secret's current value; assign to rotate it. */
  document: SigningSecretDocument;
  /** `GetSecretValue` calls received so far. */
  readonly calls: number;
  /** `GetSecretValue` calls answered (with the value or a fault) so far. */
  readonly answered: number;
  /** While true, every call fails with a 500 `InternalServiceError`, as during an outage. */
  failing: boolean;
  /** Milliseconds each answer is held back, to keep a refresh in flight. */
  delayMs: number;
  close(): Promise<void>;
}

export async function startSecretsManagerStandIn(
  document: SigningSecretDocument,
): Promise<SecretsManagerStandIn> {
  const arn = `arn:aws:secretsmanager:us-east-1:000000000000:secret:SigningSecret-${randomUUID().slice(0, 6)}`;
  const state = { document, calls: 0, answered: 0, failing: false, delayMs: 0 };
  const answer = (response: ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
    response.end(JSON.stringify(body));
    state.answered++;
  };
  const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const target = request.headers['x-amz-target'];
    if (target !== 'secretsmanager.GetSecretValue') {
      return answer(response, 400, { __type: 'UnknownOperationException', message: String(target) });
    }
    state.calls++;
    // Read before waiting: the value is the one current when the request arrived, as in Secrets Manager.
    const failing = state.failing;
    const value = JSON.stringify(state.document);
    if (state.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, state.delayMs));
    if (failing) return answer(response, 500, { __type: 'InternalServiceError', message: 'stand-in outage' });
    const { SecretId } = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { SecretId?: string };
    if (SecretId !== arn) {
      return answer(response, 400, {
        __type: 'ResourceNotFoundException',
        message: "Secrets Manager can't find the specified secret.",
      });
    }
    return answer(response, 200, {
      ARN: arn,
      Name: 'SigningSecret',
      SecretString: value,
      VersionId: randomUUID(),
      VersionStages: ['AWSCURRENT'],
      CreatedDate: Date.now() / 1000,
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    arn,
    get document() {
      return state.document;
    },
    set document(next) {
      state.document = next;
    },
    get calls() {
      return state.calls;
    },
    get answered() {
      return state.answered;
    },
    get failing() {
      return state.failing;
    },
    set failing(value) {
      state.failing = value;
    },
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(value) {
      state.delayMs = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A request as a webhook sender makes it; the harness turns it into the API Gateway event. */
export interface DeployedRequest {
  /** e.g. `/webhooks/sori` or `/webhooks/symphony/<token>`. */
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Send the body base64-encoded, as API Gateway does for non-text content. */
  base64?: boolean;
  /** Default 203.0.113.10. */
  sourceIp?: string;
}

/** What one invocation gave: the answer, and what the function wrote while it ran. */
export interface DeployedInvocation {
  response: APIGatewayProxyStructuredResultV2;
  /** Everything written to stdout meanwhile: Powertools log lines (INFO and DEBUG) and metrics (EMF). */
  stdout: string;
  /** Everything written to stderr meanwhile: Powertools WARN and ERROR log lines. */
  stderr: string;
  /** What the context's `getRemainingTimeInMillis` said when the answer came back (≤ 0: past the timeout). */
  remainingMsAtAnswer: number;
}

/** How Lambda runs one invocation. */
export interface InvokeOptions {
  /** The time the context says is left when the invocation starts; default 4,000 ms (the function's timeout). */
  remainingMs?: number;
}

export interface DeployedReceive {
  invoke(request: DeployedRequest, options?: InvokeOptions): Promise<DeployedInvocation>;
  secretsManager: SecretsManagerStandIn;
  /** The raw bodies bucket's name in the function's environment (a new one per load). */
  rawBucket: string;
  /** The events queue (on the run's fauxqs server) the function sends to. */
  queueUrl: string;
  /** Bodies of the messages now in the queue, removed from it. */
  takeQueued(): Promise<string[]>;
  /** Restores the environment and the standard streams, and stops the stand-in. */
  close(): Promise<void>;
}

let loaded = false;

/**
 * How API Gateway ranks the routes a request matches (most exact first): `$default` last, then a route with a
 * greedy `{name+}` variable, then one with more path variables, and at equal paths a method of its own over
 * `ANY`. A provider's own `POST /webhooks/sori` is thus chosen over `ANY /webhooks/{provider}`.
 */
function routeRank(routeKey: string): number[] {
  if (routeKey === '$default') return [1, 0, 0, 0];
  const [method, template = ''] = routeKey.split(' ');
  const variables = template.match(/\{[^}]+\}/g) ?? [];
  const greedy = variables.filter((variable) => variable.endsWith('+}')).length;
  return [0, greedy, variables.length, method === 'ANY' ? 1 : 0];
}

function byRank(a: string, b: string): number {
  const [left, right] = [routeRank(a), routeRank(b)];
  const at = left.findIndex((value, i) => value !== right[i]);
  return at < 0 ? 0 : (left[at] ?? 0) - (right[at] ?? 0);
}

/**
 * The event API Gateway hands the function for `request`, on the route it chooses among `routeKeys` (see
 * {@link routeRank}); `undefined` when no route matches, which API Gateway answers 404 itself.
 */
export function routeEvent(
  routeKeys: string[],
  request: DeployedRequest,
): APIGatewayProxyEventV2 | undefined {
  const method = request.method ?? 'POST';
  for (const routeKey of [...routeKeys].sort(byRank)) {
    const [routeMethod, template = ''] = routeKey === '$default' ? ['ANY', '/{proxy+}'] : routeKey.split(' ');
    if (routeMethod !== 'ANY' && routeMethod !== method) continue;
    const names: string[] = [];
    const escaped = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
    const pattern = escaped.replace(/\{([^}]+?)(\\\+)?\}/g, (_, name: string, greedy?: string) => {
      names.push(name);
      return greedy ? '(.+)' : '([^/]+)';
    });
    const match = new RegExp(`^${pattern}$`).exec(request.path);
    if (!match) continue;
    const pathParameters = Object.fromEntries(
      names.map((name, i) => [name, decodeURIComponent(match[i + 1] ?? '')]),
    );
    const body = request.body;
    return {
      version: '2.0',
      routeKey,
      rawPath: request.path,
      rawQueryString: '',
      // API Gateway's HTTP API hands headers over with lower-case names.
      headers: Object.fromEntries(
        Object.entries(request.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
      ),
      // API Gateway leaves the field out of the event of a route without path variables.
      ...(names.length > 0 ? { pathParameters } : {}),
      requestContext: {
        accountId: '000000000000',
        apiId: 'harness',
        domainName: 'harness.execute-api.us-east-1.amazonaws.com',
        domainPrefix: 'harness',
        http: {
          method,
          path: request.path,
          protocol: 'HTTP/1.1',
          sourceIp: request.sourceIp ?? '203.0.113.10',
          userAgent: 'harness',
        },
        requestId: randomUUID(),
        routeKey,
        stage: '$default',
        time: new Date().toUTCString(),
        timeEpoch: Date.now(),
      },
      ...(body === undefined
        ? { isBase64Encoded: false }
        : request.base64
          ? { body: Buffer.from(body).toString('base64'), isBase64Encoded: true }
          : { body, isBase64Encoded: false }),
    };
  }
  return undefined;
}

/** A Lambda context whose remaining time counts down from `remainingMs`, as Lambda's does from the timeout. */
function lambdaContext(remainingMs = 4_000): Context & { remaining(): number } {
  const deadline = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'campaign-inbox-receive',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:campaign-inbox-receive',
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/campaign-inbox-receive',
    logStreamName: 'harness',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    remaining: () => deadline - Date.now(),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/**
 * Loads the deployed receive function in this process (see the module comment).
 * @param options.document the signing secret's value; default {@link generatedSecretDocument}.
 * @param options.env variables set on top of the construct's (e.g. `SIGNING_SECRET_TTL_SECONDS`).
 * @param options.props the construct's props (e.g. `auth`, `providers`, `allowUnsigned`).
 */
export async function loadDeployedReceive(
  options: {
    document?: SigningSecretDocument;
    env?: Record<string, string>;
    props?: CampaignInboxProps;
  } = {},
): Promise<DeployedReceive> {
  if (loaded) throw new Error('a deployed receive is already loaded: close() it first');
  const inbox = synthesizeInbox(options.props);
  const secretsManager = await startSecretsManagerStandIn(
    options.document ?? generatedSecretDocument(options.props),
  );
  const { sqs } = localClients();
  const { queueUrl } = await createTestQueues(sqs);
  const rawBucket = uniqueName('campaign-inbox-raw');

  // The construct's variables, with each CloudFormation reference replaced by its local stand-in; a reference
  // the harness does not know fails loudly rather than leaving the function half-configured.
  const resolve = (name: string, value: unknown): string => {
    if (typeof value === 'string') return value;
    const ref = (value as { Ref?: string }).Ref;
    if (ref === inbox.secretLogicalId) return secretsManager.arn;
    if (ref === inbox.queueLogicalId) return queueUrl;
    if (ref && inbox.bucketLogicalIds.includes(ref)) return rawBucket;
    throw new Error(`no local stand-in for ${name} = ${JSON.stringify(value)}`);
  };
  const env: Record<string, string> = {
    ...Object.fromEntries(
      Object.entries(inbox.environment).map(([name, value]) => [name, resolve(name, value)]),
    ),
    AWS_ENDPOINT_URL_SQS: inject('sqsEndpoint'),
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManager.endpoint,
    // Dummy credentials, so real ones are never sent anywhere.
    AWS_ACCESS_KEY_ID: 'harness',
    AWS_SECRET_ACCESS_KEY: 'harness',
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    // What the Lambda runtime sets, and Powertools reads: the first invocation is a cold start.
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_FUNCTION_NAME: 'campaign-inbox-receive',
    ...options.env,
  };
  const unset = [
    'AWS_SESSION_TOKEN',
    'AWS_PROFILE',
    'AWS_ENDPOINT_URL',
    'AWS_ENDPOINT_URL_S3',
    'SORI_SECRET_KEY',
  ];
  const saved = new Map([...Object.keys(env), ...unset].map((name) => [name, process.env[name]]));
  for (const name of unset) delete process.env[name];
  Object.assign(process.env, env);

  // Powertools writes through a Console bound to process.stdout/stderr: their write methods are where it lands.
  const written: { stream: 'stdout' | 'stderr'; text: string }[] = [];
  const originals = { stdout: process.stdout.write, stderr: process.stderr.write };
  for (const stream of ['stdout', 'stderr'] as const) {
    process[stream].write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      written.push({ stream, text: typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8') });
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    }) as typeof process.stdout.write;
  }
  // fauxqs spells its queue URLs with a host that is not a valid URL (`sqs.us-east-1.127.0.0.1:…`), so the SQS
  // client warns on every send before using its endpoint as it should. Only that warning is dropped.
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    const [first] = args;
    if (first instanceof TypeError && (first as { input?: string }).input === queueUrl) return;
    warn(...args);
  };
  loaded = true;
  const restore = async () => {
    process.stdout.write = originals.stdout;
    process.stderr.write = originals.stderr;
    console.warn = warn;
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    loaded = false;
    sqs.destroy();
    await secretsManager.close();
  };

  let handler: Handler<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>;
  try {
    vi.resetModules();
    ({ handler } = await import('../../functions/receive-webhook/handler'));
  } catch (error) {
    await restore();
    throw error;
  }

  return {
    secretsManager,
    queueUrl,
    rawBucket,
    async invoke(request, invokeOptions = {}) {
      const event = routeEvent(inbox.routeKeys, request);
      // What API Gateway answers itself when no route matches; the function is not invoked.
      if (!event) {
        const response = { statusCode: 404, body: '{"message":"Not Found"}' };
        return { response, stdout: '', stderr: '', remainingMsAtAnswer: invokeOptions.remainingMs ?? 4_000 };
      }
      const from = written.length;
      const context = lambdaContext(invokeOptions.remainingMs);
      const response = (await handler(event, context, () => {})) as APIGatewayProxyStructuredResultV2;
      const remainingMsAtAnswer = context.remaining();
      const during = written.slice(from);
      const text = (stream: 'stdout' | 'stderr') =>
        during
          .filter((entry) => entry.stream === stream)
          .map((entry) => entry.text)
          .join('');
      return { response, stdout: text('stdout'), stderr: text('stderr'), remainingMsAtAnswer };
    },
    takeQueued: () => takeMessages(sqs, queueUrl),
    close: restore,
  };
}
