/**
 * IAM through moto's query API (no IAM client is among the project's packages), each call signed by the AWS
 * SDK's own signer, or unsigned for the calls moto takes before its authentication starts.
 */
import { request } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from '../../support/node-sha256';

/** moto's default account, which owns every resource its users create. */
export const MOTO_ACCOUNT = '123456789012';
export const MOTO_REGION = 'us-east-1';

export interface AwsKey {
  accessKeyId: string;
  secretAccessKey: string;
}

/** One HTTP POST, answered in full. */
function post(url: URL, headers: Record<string, string>, body: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const sent = request(url, { method: 'POST', headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      response.on('error', reject);
    });
    sent.on('error', reject);
    sent.end(body);
  });
}

/**
 * A form body encoded as botocore encodes one (Python's `quote_plus`): moto verifies a form call's signature over
 * the form it parsed, encoded again that way, so a `*` left bare (as `URLSearchParams` leaves it) would not match.
 */
const formEncode = (params: Record<string, string>) =>
  Object.entries(params)
    .map(([name, value]) => `${quotePlus(name)}=${quotePlus(value)}`)
    .join('&');
const quotePlus = (value: string) =>
  encodeURIComponent(value)
    .replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');

/**
 * Signs the calls moto takes before its authentication starts: it checks nothing of them, but routes each call
 * to a service by the scope of its signature (an unsigned IAM call would reach S3).
 */
const SETUP_KEY: AwsKey = { accessKeyId: 'AKIASETUP00000000000', secretAccessKey: 'setup' };

/**
 * One call of IAM's query API, signed with `key` by the SDK's signer; with none, signed with a key no user has,
 * which moto takes only for its first calls.
 */
export async function iamCall(
  endpoint: string,
  key: AwsKey | undefined,
  action: string,
  params: Record<string, string> = {},
) {
  const url = new URL(endpoint);
  const body = formEncode({ Action: action, Version: '2010-05-08', ...params });
  const signer = new SignatureV4({
    service: 'iam',
    region: MOTO_REGION,
    credentials: key ?? SETUP_KEY,
    sha256: NodeSha256,
    applyChecksum: false,
  });
  const { headers } = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: '/',
    query: {},
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', host: url.host },
    body,
  });
  return post(url, { ...headers, 'content-length': String(Buffer.byteLength(body)) }, body);
}

/**
 * {@link iamCall}, for a call that must succeed.
 * @returns the answer's XML.
 * @throws when IAM refused it.
 */
export async function iam(
  endpoint: string,
  key: AwsKey | undefined,
  action: string,
  params: Record<string, string> = {},
): Promise<string> {
  const answer = await iamCall(endpoint, key, action, params);
  if (answer.status !== 200) throw new Error(`IAM ${action} answered ${answer.status}: ${answer.body}`);
  return answer.body;
}

/** The text of the first `<tag>` of an XML answer. */
export function readTag(xml: string, tag: string): string {
  const value = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1];
  if (value === undefined) throw new Error(`no <${tag}> in ${xml.slice(0, 500)}`);
  return value;
}

/** An IAM policy document. */
export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}
export interface PolicyStatement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
}
