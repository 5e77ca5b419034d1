import { createHmac, hash } from 'node:crypto';

/** AWS credentials: in Lambda, the function role's, which Lambda puts in the environment. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * The credentials in the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`): where
 * Lambda gives a function its role's credentials, read at each call as the SDK's environment step reads them.
 * @throws {Error} when there are none.
 */
export function environmentCredentials(env: NodeJS.ProcessEnv = process.env): AwsCredentials {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new Error('no AWS credentials in the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)');
  }
  return env.AWS_SESSION_TOKEN
    ? { accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN }
    : { accessKeyId, secretAccessKey };
}

/** A request of the AWS JSON protocols: a POST to the endpoint's root, with no query string. */
export interface JsonProtocolRequest {
  url: URL;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

/**
 * What a signature is for and made with: the service and region its credential scope names, the credentials
 * and the time.
 */
export interface SigningScope {
  /** The signing name, e.g. `sqs`, `secretsmanager`. */
  service: string;
  region: string;
  credentials: AwsCredentials;
  now?: Date;
}

const sha256Hex = (data: string) => hash('sha256', data, 'hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

/** The day's signing key, kept while the day, the region, the service and the secret stay the same. */
let lastKey: { id: string; key: Buffer } | undefined;
function signingKey(secretAccessKey: string, day: string, region: string, service: string): Buffer {
  const id = `${secretAccessKey}\n${day}\n${region}\n${service}`;
  if (lastKey?.id !== id) {
    const dayKey = hmac(`AWS4${secretAccessKey}`, day);
    lastKey = { id, key: hmac(hmac(hmac(dayKey, region), service), 'aws4_request') };
  }
  return lastKey.key;
}

/**
 * Signs a JSON-protocol request with AWS Signature Version 4 (the `Authorization` header form): every header
 * given is signed, with `host`, `x-amz-date` and, for temporary credentials, `x-amz-security-token` added.
 * Only what this project sends is supported (POST to the root path, no query), and anything else is refused
 * rather than signed wrongly.
 * @returns the headers to send, `authorization` included.
 */
export function signJsonRequest(request: JsonProtocolRequest, scope: SigningScope): Record<string, string> {
  if (request.url.pathname !== '/' || request.url.search !== '') {
    throw new Error(`only requests to the endpoint's root are signed here, not ${request.url.pathname}`);
  }
  const amzDate = (scope.now ?? new Date()).toISOString().replace(/[-:]|\.\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = {
    ...request.headers,
    host: request.url.host,
    'x-amz-date': amzDate,
  };
  if (scope.credentials.sessionToken) headers['x-amz-security-token'] = scope.credentials.sessionToken;
  const names = Object.keys(headers).sort();
  const signedHeaders = names.join(';');
  const canonicalRequest = [
    'POST',
    '/',
    '',
    ...names.map((name) => `${name}:${String(headers[name]).trim().replace(/\s+/g, ' ')}`),
    '',
    signedHeaders,
    sha256Hex(request.body),
  ].join('\n');
  const credentialScope = `${day}/${scope.region}/${scope.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, credentialScope, sha256Hex(canonicalRequest)].join('\n');
  const signature = hmac(
    signingKey(scope.credentials.secretAccessKey, day, scope.region, scope.service),
    stringToSign,
  ).toString('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${scope.credentials.accessKeyId}/${credentialScope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return headers;
}
