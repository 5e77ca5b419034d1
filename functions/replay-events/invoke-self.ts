import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { type AwsCredentials, environmentCredentials } from '../../lib/aws/signature-v4';

/** SHA-256 and HMAC-SHA256 as the signer takes them, from Node's crypto. */
class NodeSha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret ? createHmac('sha256', bytes(secret)) : createHash('sha256');
  }
  update(data: string | ArrayBuffer | ArrayBufferView) {
    this.hash.update(bytes(data));
  }
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
}
const bytes = (data: string | ArrayBuffer | ArrayBufferView) =>
  typeof data === 'string'
    ? Buffer.from(data)
    : ArrayBuffer.isView(data)
      ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data);

/** Where Lambda's API is reached, the way the SDK finds it (`AWS_ENDPOINT_URL_LAMBDA`, `AWS_ENDPOINT_URL`). */
export function lambdaEndpoint(region: string, env: NodeJS.ProcessEnv = process.env): string {
  const override = env.AWS_ENDPOINT_URL_LAMBDA || env.AWS_ENDPOINT_URL;
  if (override) return override.replace(/\/$/, '');
  const suffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://lambda.${region}.${suffix}`;
}

export interface InvokeOptions {
  region: string;
  functionName: string;
  credentials?: () => AwsCredentials;
  env?: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

/**
 * Invokes a function asynchronously (`Invoke` with `X-Amz-Invocation-Type: Event`), signed with Signature Version
 * 4: Lambda queues the payload and answers 202 at once. No SDK client is bundled for this one call.
 * @throws {Error} when Lambda does not answer 202.
 */
export async function invokeAsync(payload: unknown, options: InvokeOptions): Promise<void> {
  const env = options.env ?? process.env;
  const url = new URL(
    `${lambdaEndpoint(options.region, env)}/2015-03-31/functions/${encodeURIComponent(options.functionName)}/invocations`,
  );
  const body = JSON.stringify(payload);
  const signer = new SignatureV4({
    service: 'lambda',
    region: options.region,
    credentials: (options.credentials ?? (() => environmentCredentials(env)))(),
    sha256: NodeSha256,
  });
  const signed = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: url.pathname,
    headers: {
      host: url.host,
      'content-type': 'application/json',
      'x-amz-invocation-type': 'Event',
    },
    body,
  });
  const response = await (options.fetch ?? fetch)(url, {
    method: 'POST',
    headers: signed.headers,
    body,
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
  });
  const text = await response.text().catch(() => '');
  if (response.status !== 202)
    throw new Error(`Lambda did not take the next leg (${response.status}): ${text.slice(0, 300)}`);
}
