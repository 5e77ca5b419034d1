import middy, { type MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { Deadline } from '../../lib/aws/deadline';
import { INLINE_RAW_BYTES, type RawStore } from '../../lib/blobs/raw-store';
import { PayloadTooLargeError, QueueUnavailableError, UnknownProviderError } from '../../lib/errors';
import type { QueueMessage } from '../../lib/events/event-record';
import type { Logger } from '../../lib/log';
import { METRIC, type MetricsSink } from '../../lib/metrics';
import { findProvider } from '../../lib/providers';
import { DEFAULT_APP, isAppName } from '../../lib/providers/apps';
import type { AuthConfig, Provider } from '../../lib/providers/provider';
import { toAsciiJson } from '../../lib/queue/event-queue';
import { authenticate, type Credentials } from '../../lib/receive/authenticate';
import { buildQueueMessage, MAX_QUEUE_MESSAGE_BYTES } from '../../lib/receive/build-queue-message';
import { type DeadlineOptions, invocationDeadline } from '../../lib/receive/invocation-deadline';
import { secretMatches } from '../../lib/signature/secret-matches';
import type { SigningSecrets } from '../../lib/signature/signing-secrets';
import { renderHttpErrors } from './render-http-errors';
import { routeApp, routeParameters, routeProvider } from './route-provider';

export interface ReceiveWebhookDeps {
  /** Sends the message by the deadline; resolves only once the queue said it took it. */
  queue: { send(message: QueueMessage, deadline?: Deadline): Promise<void> };
  secrets: SigningSecrets;
  maxBodyBytes: number;
  logger: Logger;
  metrics?: MetricsSink;
  /** Let HMAC providers also take `POST /webhooks/{provider}/{token}`, authenticated by the secret URL token. */
  allowUnsigned?: boolean;
  /** Authentication per provider, where configuration overrides the provider's own. */
  auth?: Readonly<Record<string, AuthConfig>>;
  /** Providers served; all known ones when absent. */
  enabled?: readonly string[];
  /** Where raw bodies over {@link INLINE_RAW_BYTES} go; without one they must fit in the queue message. */
  rawStore?: RawStore;
  /** The invocation's time where no Lambda context tells it (the local server), and the margin kept back. */
  timeoutMs?: DeadlineOptions['timeoutMs'];
  deadlineMarginMs?: DeadlineOptions['marginMs'];
  now?: () => Date;
}

type Result = APIGatewayProxyStructuredResultV2;

const json = (statusCode: number, body: unknown, headers: Record<string, string> = {}): Result => ({
  statusCode,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

/**
 * Reads the body's bytes as SORI sent them. API Gateway hands non-text bodies over base64-encoded; the size is
 * checked before decoding so an oversized body costs nothing.
 * @throws {PayloadTooLargeError}
 */
function readRawBody(event: APIGatewayProxyEventV2, limit: number): Buffer {
  const body = event.body ?? '';
  if (!event.isBase64Encoded) {
    const size = Buffer.byteLength(body, 'utf8');
    if (size > limit) throw new PayloadTooLargeError(size, limit);
    return Buffer.from(body, 'utf8');
  }
  if (body.length > Math.ceil(limit / 3) * 4 + 4)
    throw new PayloadTooLargeError(Math.floor((body.length * 3) / 4), limit);
  const raw = Buffer.from(body, 'base64');
  if (raw.length > limit) throw new PayloadTooLargeError(raw.length, limit);
  return raw;
}

/**
 * Moves a large raw body out of the message into the raw store, leaving a reference.
 * @throws {PayloadTooLargeError} when there is no raw store and the message would be over 256 KiB.
 * @throws {QueueUnavailableError} when the raw store does not take it (the sender retries).
 */
async function offloadRaw(
  message: QueueMessage,
  provider: string,
  raw: Buffer,
  store: RawStore | undefined,
  deadline: Deadline,
) {
  if (!store) {
    // Measured as the queue carries it: escaping can take a text body to six bytes a character.
    const bytes = toAsciiJson(message).length;
    if (bytes > MAX_QUEUE_MESSAGE_BYTES) throw new PayloadTooLargeError(bytes, MAX_QUEUE_MESSAGE_BYTES);
    return message;
  }
  try {
    return { ...message, raw: '', raw_ref: await store.put(provider, raw, deadline) };
  } catch (error) {
    throw new QueueUnavailableError('the raw store did not take the body', { cause: error });
  }
}

/** Header lookup by lower-cased name (API Gateway v2 lower-cases them; the local server does the same). */
function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const headers = event.headers ?? {};
  return headers[name] ?? Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1];
}

/** What authenticates a request: the app it is for, the URL token it carries (if it is one), their credentials. */
interface Caller {
  app: string;
  token: string | undefined;
  credentials: Credentials;
}

/**
 * The credentials of a name no app can have: none, and the request is refused as a wrong signature is. Whether
 * the provider has keys for its apps is kept from `provider`'s own, so that the refusal is logged as one for an
 * app the secret does not name is: a wrong signature's when it has some, a missing secret's when it has none.
 */
function noCredentials(provider: Credentials): Credentials {
  const keyed = provider.secrets.length > 0 || provider.otherAppsKeyed === true;
  return { secrets: [], urlToken: undefined, basic: undefined, ...(keyed ? { otherAppsKeyed: true } : {}) };
}

/**
 * Which app a request is for: the one an app's own route names, else, for a provider that signs with an HMAC,
 * the last segment of `/webhooks/<provider>/<segment>` (the `{token}` route), unless that segment is the
 * provider's URL token (with `allowUnsigned` on); else the default app. A name the secret does not hold gets no
 * credentials and is refused exactly as a wrong signature is, after the same work: an answer never tells whether
 * an app exists.
 */
async function callerOf(
  event: APIGatewayProxyEventV2,
  provider: Provider,
  auth: AuthConfig,
  deps: ReceiveWebhookDeps,
  deadline: Deadline,
): Promise<Caller> {
  const credentials = async (app: string) =>
    app === DEFAULT_APP || isAppName(app)
      ? deps.secrets.credentials(provider.name, deadline, app)
      : noCredentials(await deps.secrets.credentials(provider.name, deadline));
  const named = routeApp(event);
  const segment = routeParameters(event)?.token;
  const app = named ?? (auth.scheme.kind === 'hmac' ? segment : undefined);
  if (app === undefined) {
    return { app: DEFAULT_APP, token: segment, credentials: await credentials(DEFAULT_APP) };
  }
  if (named === undefined && deps.allowUnsigned) {
    const own = await credentials(DEFAULT_APP);
    if (secretMatches(app, own.urlToken)) return { app: DEFAULT_APP, token: segment, credentials: own };
  }
  // `default` is no app's name: the default app's URL is the provider's own.
  return {
    app,
    token: undefined,
    credentials: app === DEFAULT_APP ? noCredentials(await credentials(DEFAULT_APP)) : await credentials(app),
  };
}

/**
 * Builds the receive flow: resolve provider and app → check size → verify the signature over the raw bytes
 * with the app's keys (or the URL token, when that route is on) → parse
 * and normalize (or quarantine) → one `SendMessage` → 202. It never touches DynamoDB.
 *
 * One deadline per invocation, from the time the Lambda context says is left less a margin: the secret's
 * refresh, the S3 put of a large body and the `SendMessage` tries all end by it, and none starts after it. When
 * the time runs out the answer is the 503 a queue failure gets, never a 202 after the function's timeout; and a
 * 202 means SQS answered with the message's `MessageId`.
 */
export function createReceiveWebhook(deps: ReceiveWebhookDeps) {
  const now = deps.now ?? (() => new Date());
  const metrics = deps.metrics ?? { count: () => {} };
  const timing = { timeoutMs: deps.timeoutMs, marginMs: deps.deadlineMarginMs };
  return async function receiveWebhook(
    event: APIGatewayProxyEventV2,
    context?: Partial<Pick<Context, 'getRemainingTimeInMillis'>>,
  ): Promise<Result> {
    const deadline = invocationDeadline(context, timing);
    // Behind a function URL every path reaches the function: a path no webhook route takes gets the 404 the
    // HTTP API gives it, whatever the method, before the method is looked at.
    if (routeParameters(event) === undefined)
      throw new UnknownProviderError('no webhook route takes this path');
    const method = event.requestContext?.http?.method ?? 'POST';
    if (method !== 'POST') return json(405, { message: 'Method Not Allowed' }, { allow: 'POST' });

    const name = routeProvider(event);
    const provider = findProvider(name);
    if (!provider || (deps.enabled && !deps.enabled.includes(provider.name)))
      throw new UnknownProviderError(`unknown provider ${JSON.stringify(name.slice(0, 64))}`);

    const raw = readRawBody(event, Math.min(provider.maxBodyBytes ?? deps.maxBodyBytes, deps.maxBodyBytes));
    const auth = deps.auth?.[provider.name] ?? provider.auth;
    const receivedAt = now();
    const caller = await callerOf(event, provider, auth, deps, deadline);
    authenticate(
      auth,
      {
        raw,
        header: (name) => header(event, name),
        token: caller.token,
        sourceIp: event.requestContext?.http?.sourceIp,
        now: receivedAt.getTime(),
      },
      caller.credentials,
      deps.allowUnsigned,
    );

    const trace = traceIdOf(process.env._X_AMZN_TRACE_ID);
    const delivery = {
      ...(provider.deliveryIdHeader ? { id: header(event, provider.deliveryIdHeader) } : {}),
      app: caller.app,
      ...(trace ? { traceId: trace } : {}),
    };
    let message = buildQueueMessage(provider, raw, receivedAt.toISOString(), delivery);
    if (raw.length > INLINE_RAW_BYTES)
      message = await offloadRaw(message, provider.name, raw, deps.rawStore, deadline);
    await deps.queue.send(message, deadline);

    const { id } = message.record;
    if (message.kind === 'quarantine') {
      metrics.count(METRIC.quarantined);
      deps.logger.warn('quarantined', { provider: provider.name, id, reason: message.record.reason });
      return json(202, { status: 'quarantined', id, reason: message.record.reason });
    }
    // Per event only for the names the provider declares: a configured provider may take any name it is sent,
    // and each one would be one more custom metric.
    const declared = provider.events.includes(message.record.event);
    metrics.count(METRIC.accepted, 1, declared ? message.record.event : undefined);
    // Accepted deliveries are counted, not logged one by one: the logs carry what needs a look.
    deps.logger.debug('accepted', { provider: provider.name, id, event: message.record.event });
    return json(202, { status: 'accepted', id });
  };
}

/**
 * The receive flow wrapped with its middleware, the whole chain built here: `outer` first (in the deployed
 * function the metrics flush), the error renderer last. middy runs `onError` newest
 * first, so the renderer counts a refusal before the metrics flush of the same invocation publishes it.
 */
export function createReceiveHandler(
  deps: ReceiveWebhookDeps,
  ...outer: MiddlewareObj<APIGatewayProxyEventV2, Result, Error, Context>[]
) {
  // No early-timeout timer of middy's: the flow's own deadline ends every call it makes in time (each also has
  // its own limit: SQS 2 × 1.2 s, a secret read 1 s, a large body's S3 put 2.5 s), so a slow service is a 503
  // the sender retries, and the answer is never the lost one of a function stopped at its timeout.
  const handler = middy<APIGatewayProxyEventV2, Result, Error, Context>(createReceiveWebhook(deps), {
    timeoutEarlyInMillis: 0,
  });
  for (const middleware of outer) handler.use(middleware);
  return handler.use(renderHttpErrors(deps.logger, deps.metrics));
}

/**
 * The trace id in Lambda's X-Ray trace header (`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=…;Sampled=1`),
 * which Lambda sets for each invocation of a traced function; `undefined` without one, and for a trace X-Ray
 * did not record (`Sampled=0`, or no sampling decision): a record would point at a trace no one can open.
 */
export function traceIdOf(header: string | undefined): string | undefined {
  const fields = header ?? '';
  if (!/(?:^|;)Sampled=1(?:;|$)/.test(fields)) return undefined;
  const root = /(?:^|;)Root=(1-[0-9a-f]{8}-[0-9a-f]{24})(?:;|$)/.exec(fields);
  return root?.[1];
}
