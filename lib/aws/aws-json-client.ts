import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { type Deadline, DeadlineExceededError, timeLeft } from './deadline';
import { type AwsCredentials, environmentCredentials, signJsonRequest } from './signature-v4';

/** What an AWS service answered, as far as a client of its JSON protocol needs it. */
export interface TransportResponse {
  status: number;
  body: string;
}

/** Sends one signed request; must give up after `timeoutMs`. */
export type Transport = (
  url: URL,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
) => Promise<TransportResponse>;

/**
 * The service refused the call. Named by the service's code (e.g. `QueueDoesNotExist`), as the SDK names its
 * errors, so logs read the same.
 */
export class AwsServiceError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = code;
  }
}

/** No answer within the time allowed. */
export class AwsTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.name = 'AwsTimeoutError';
  }
}

// One connection kept open per endpoint between invocations, as the SDK's handler does.
const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

/**
 * One request over Node's HTTP(S) client with keep-alive connections. Settles once: with the whole answer, or
 * with the first of a network error, a connection cut mid-answer, or the timeout (which ends the request). An
 * error is marked `stale` when a kept-alive connection turned out to be closed before any answer came.
 */
function sendOnce(url: URL, headers: Record<string, string>, body: string, timeoutMs: number) {
  return new Promise<TransportResponse>((resolve, reject) => {
    let settled = false;
    let answered = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
    };
    const secure = url.protocol === 'https:';
    const request = (secure ? httpsRequest : httpRequest)(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        agent: secure ? agents.https : agents.http,
      },
      (response) => {
        answered = true;
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          settle(() =>
            resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          ),
        );
        response.on('error', (error) => settle(() => reject(error)));
        response.on('close', () =>
          settle(() =>
            reject(Object.assign(new Error('connection closed mid-answer'), { code: 'ECONNRESET' })),
          ),
        );
      },
    );
    const timer = setTimeout(() => request.destroy(new AwsTimeoutError(timeoutMs)), timeoutMs);
    request.on('error', (error) =>
      settle(() =>
        reject(Object.assign(error, { stale: request.reusedSocket && !answered && isReset(error) })),
      ),
    );
    request.end(body);
  });
}

const isReset = (error: unknown) =>
  ['ECONNRESET', 'EPIPE'].includes(String((error as { code?: unknown }).code));

/**
 * The transport over Node's HTTP(S) client. A kept-alive connection may have been closed by the service while
 * the function was frozen between invocations: a request that finds it so is sent again at once on a new
 * connection, without counting as a try (as Node's documentation advises), but within the same `timeoutMs`:
 * the try's time is all the two sends get, so a resend never outlasts the deadline the try was cut to.
 */
export const nodeTransport: Transport = async (url, headers, body, timeoutMs) => {
  const giveUpAt = Date.now() + timeoutMs;
  try {
    return await sendOnce(url, headers, body, timeoutMs);
  } catch (error) {
    if (!(error as { stale?: boolean }).stale) throw error;
    const left = giveUpAt - Date.now();
    if (left <= 0) throw new AwsTimeoutError(timeoutMs);
    return sendOnce(url, headers, body, left);
  }
};

/** Where a service is reached, the way the AWS SDK finds it. */
export function serviceEndpoint(
  service: 'sqs' | 'secretsmanager',
  region: string,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const override =
    (service === 'sqs' ? env.AWS_ENDPOINT_URL_SQS : env.AWS_ENDPOINT_URL_SECRETS_MANAGER) ??
    env.AWS_ENDPOINT_URL;
  if (override) return override;
  const suffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://${service}.${region}.${suffix}`;
}

/**
 * How an {@link AwsJsonClient} reaches one service: its signing name, region, endpoint and protocol version,
 * and how long and how often it tries; credentials, transport and clock are replaceable for tests.
 */
export interface AwsJsonClientOptions {
  /** The signing name, e.g. `sqs`. */
  service: string;
  region: string;
  endpoint: string;
  /** The `X-Amz-Target` prefix, e.g. `AmazonSQS`. */
  targetPrefix: string;
  jsonVersion: '1.0' | '1.1';
  /** Tries per call, the first included; only a failure that may pass (throttling, 5xx, no answer) is retried. */
  maxAttempts?: number;
  /** Per try, the resend on a new connection included; cut shorter when the call's deadline comes first. */
  timeoutMs?: number;
  credentials?: () => AwsCredentials;
  transport?: Transport;
  now?: () => Date;
}

const THROTTLING = /Throttl|TooManyRequests|RequestLimitExceeded|SlowDown|RequestThrottled/;

/** How one call is made. */
export interface CallOptions<T> {
  /** No try starts after it, and each try ends by it (see {@link Deadline}). */
  deadline?: Deadline | undefined;
  /**
   * Whether a 2xx answer is the one the operation gives when it succeeded (e.g. `SendMessage`'s carries a
   * `MessageId`). One that is not, like a body that is not JSON, is a failure that may pass, retried as such.
   */
  accept?: (answer: T) => boolean;
}

/** A 2xx answer that does not say the operation succeeded: an empty, cut or unreadable body. */
export class IncompleteAnswerError extends AwsServiceError {
  constructor(status: number, what: string) {
    super('IncompleteAnswer', status, `a ${status} answer ${what}`, true);
  }
}

/**
 * A client of an AWS service's JSON protocol (SQS, Secrets Manager): signs each call with Signature Version 4
 * and the role's credentials from the environment, sends it over a kept-alive connection, retries what may
 * pass. It is what the receive function needs of AWS, at a tenth of the SDK's code to load at a cold start.
 * It does not do what the receive function does not need: other credential sources, FIPS or dual-stack
 * endpoints, event streams, checksums.
 */
export class AwsJsonClient {
  private readonly url: URL;
  private readonly maxAttempts: number;
  private readonly timeoutMs: number;
  private readonly credentials: () => AwsCredentials;
  private readonly transport: Transport;

  constructor(private readonly options: AwsJsonClientOptions) {
    this.url = new URL(options.endpoint);
    if (this.url.pathname !== '/' || this.url.search) {
      throw new Error(`an AWS endpoint is an origin, without a path: ${options.endpoint}`);
    }
    this.maxAttempts = options.maxAttempts ?? 3;
    this.timeoutMs = options.timeoutMs ?? 2_000;
    this.credentials = options.credentials ?? environmentCredentials;
    this.transport = options.transport ?? nodeTransport;
  }

  /**
   * Calls `operation` with `input`, trying again what may pass while tries and time are left.
   * @throws {AwsServiceError} when the service refuses it (or keeps failing), {@link AwsTimeoutError} or a
   * network error when it could not be reached, {@link DeadlineExceededError} when the deadline had passed
   * before the first try.
   */
  async call<T>(operation: string, input: unknown, options: CallOptions<T> = {}): Promise<T> {
    const body = JSON.stringify(input);
    const contentType = `application/x-amz-json-${this.options.jsonVersion}`;
    const target = `${this.options.targetPrefix}.${operation}`;
    let failure: unknown;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      // A short, jittered pause before another try, as the SDK's standard retry strategy makes.
      if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 80));
      const left = timeLeft(options.deadline);
      if (left <= 0) throw failure ?? new DeadlineExceededError();
      try {
        const headers = signJsonRequest(
          { url: this.url, headers: { 'content-type': contentType, 'x-amz-target': target }, body },
          {
            service: this.options.service,
            region: this.options.region,
            credentials: this.credentials(),
            now: this.options.now?.(),
          },
        );
        const response = await this.transport(this.url, headers, body, Math.min(this.timeoutMs, left));
        if (response.status < 200 || response.status >= 300) failure = serviceError(response);
        else {
          const answer = successAnswer<T>(response, options.accept);
          if (!(answer instanceof IncompleteAnswerError)) return answer;
          failure = answer;
        }
      } catch (error) {
        failure = error;
      }
      const retryable = failure instanceof AwsServiceError ? failure.retryable : isTransient(failure);
      if (!retryable) throw failure;
    }
    throw failure;
  }
}

/** A 2xx answer's JSON when it is what the operation answers on success, else why not. */
function successAnswer<T>(
  response: TransportResponse,
  accept?: (answer: T) => boolean,
): T | IncompleteAnswerError {
  let answer: T;
  try {
    answer = JSON.parse(response.body || '{}') as T;
  } catch {
    return new IncompleteAnswerError(response.status, 'whose body is not JSON');
  }
  if (typeof answer !== 'object' || answer === null)
    return new IncompleteAnswerError(response.status, 'whose body is not a JSON object');
  if (accept && !accept(answer))
    return new IncompleteAnswerError(response.status, 'without the expected result');
  return answer;
}

/** Network failures another try may not meet again: no answer in time, a refused, reset or unresolved connection. */
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
function isTransient(error: unknown): boolean {
  return error instanceof AwsTimeoutError || TRANSIENT_CODES.has(String((error as { code?: unknown })?.code));
}

/**
 * How much of a service's message an error keeps. A signature mismatch's message goes on to quote the
 * canonical request, security token included: that part never reaches an error, hence a log.
 */
export const MAX_ERROR_MESSAGE = 300;
function safeMessage(message: string): string {
  const cut = message.split(/\n|The Canonical String/)[0] ?? '';
  return cut
    .replace(/x-amz-security-token:\S*/gi, 'x-amz-security-token:…')
    .slice(0, MAX_ERROR_MESSAGE)
    .trim();
}

/** The service's error, from the JSON protocols' `__type`. */
function serviceError(response: TransportResponse): AwsServiceError {
  let type = '';
  let message = '';
  try {
    const parsed = JSON.parse(response.body) as { __type?: string; message?: string; Message?: string };
    type = parsed.__type ?? '';
    message = parsed.message ?? parsed.Message ?? '';
  } catch {
    message = response.body.slice(0, 200);
  }
  const code = type.split('#').pop()?.split(':')[0] || `HTTP ${response.status}`;
  const retryable = response.status >= 500 || response.status === 429 || THROTTLING.test(code);
  return new AwsServiceError(code, response.status, safeMessage(message) || 'no message', retryable);
}
