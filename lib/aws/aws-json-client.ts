import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
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
 * The transport over Node's HTTP(S) client with keep-alive connections. Settles once: with the whole answer,
 * or with the first of a network error, a connection cut mid-answer, or the timeout (which ends the request).
 */
export const nodeTransport: Transport = (url, headers, body, timeoutMs) =>
  new Promise((resolve, reject) => {
    let settled = false;
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
    request.on('error', (error) => settle(() => reject(error)));
    request.end(body);
  });

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
  /** Per try. */
  timeoutMs?: number;
  credentials?: () => AwsCredentials;
  transport?: Transport;
  now?: () => Date;
}

const THROTTLING = /Throttl|TooManyRequests|RequestLimitExceeded|SlowDown|RequestThrottled/;

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
    this.url = new URL('/', options.endpoint);
    this.maxAttempts = options.maxAttempts ?? 3;
    this.timeoutMs = options.timeoutMs ?? 2_000;
    this.credentials = options.credentials ?? environmentCredentials;
    this.transport = options.transport ?? nodeTransport;
  }

  /**
   * Calls `operation` with `input`.
   * @throws {AwsServiceError} when the service refuses it (or keeps failing), {@link AwsTimeoutError} or a
   * network error when it could not be reached.
   */
  async call<T>(operation: string, input: unknown): Promise<T> {
    const body = JSON.stringify(input);
    const contentType = `application/x-amz-json-${this.options.jsonVersion}`;
    const target = `${this.options.targetPrefix}.${operation}`;
    for (let attempt = 1; ; attempt++) {
      let failure: unknown;
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
        const response = await this.transport(this.url, headers, body, this.timeoutMs);
        if (response.status >= 200 && response.status < 300) return JSON.parse(response.body || '{}') as T;
        failure = serviceError(response);
      } catch (error) {
        failure = error;
      }
      const retryable = failure instanceof AwsServiceError ? failure.retryable : !isProgrammingError(failure);
      if (!retryable || attempt >= this.maxAttempts) throw failure;
      // A short, jittered pause, as the SDK's standard retry strategy makes.
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 80));
    }
  }
}

/** Errors of our own making (a bad argument, no credentials): trying again would fail the same way. */
function isProgrammingError(error: unknown): boolean {
  return !(error instanceof AwsTimeoutError) && !(error as { code?: unknown } | undefined)?.code;
}

/** The service's error, from the JSON protocols' `__type` (or the `x-amzn-errortype` header's form). */
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
  return new AwsServiceError(code, response.status, message || 'no message', retryable);
}
