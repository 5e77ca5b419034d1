import { Readable } from 'node:stream';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { environmentCredentials, signJsonRequest } from '../../lib/aws/signature-v4';

interface Captured {
  hostname: string;
  port?: number;
  protocol: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** A transport for the SDK that keeps the signed request and answers like the service. */
function capturing(answer: unknown) {
  const seen: Captured[] = [];
  const requestHandler = {
    handle: async (request: Captured & { body: unknown }) => {
      const body =
        typeof request.body === 'string' ? request.body : Buffer.from(request.body as Uint8Array).toString();
      seen.push({ ...request, body });
      return {
        response: {
          statusCode: 200,
          headers: { 'content-type': 'application/x-amz-json-1.0' },
          body: Readable.from([Buffer.from(JSON.stringify(answer))]),
        },
      };
    },
  };
  return { seen, requestHandler: requestHandler as never };
}

/** Our signature over the request the SDK sent, with the headers it signed and its date. */
function oursFor(request: Captured, service: string, credentials: ReturnType<typeof environmentCredentials>) {
  const signed = /SignedHeaders=([^,]+)/.exec(request.headers.authorization ?? '')?.[1]?.split(';') ?? [];
  const given = Object.fromEntries(
    signed
      .filter((name) => !['host', 'x-amz-date', 'x-amz-security-token'].includes(name))
      .map((name) => [name, request.headers[name] ?? '']),
  );
  const date = request.headers['x-amz-date'] ?? '';
  const now = new Date(
    `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`,
  );
  const port = request.port ? `:${request.port}` : '';
  return signJsonRequest(
    {
      url: new URL(`${request.protocol}//${request.hostname}${port}${request.path}`),
      headers: given,
      body: request.body,
    },
    { service, region: 'eu-west-1', credentials, now },
  );
}

const ROLE = {
  accessKeyId: 'ASIAEXAMPLE000000001',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE//token+with/odd=chars',
};

describe('signJsonRequest', () => {
  it.each([
    ['with a session token (a role)', ROLE],
    ['with long-term keys', { accessKeyId: ROLE.accessKeyId, secretAccessKey: ROLE.secretAccessKey }],
  ])('signs an SQS SendMessage exactly as the AWS SDK does, %s', async (_name, credentials) => {
    const { seen, requestHandler } = capturing({ MessageId: 'm-1' });
    const client = new SQSClient({
      region: 'eu-west-1',
      credentials,
      requestHandler,
      maxAttempts: 1,
      md5: false,
    });
    await client.send(
      new SendMessageCommand({
        QueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/events',
        MessageBody: JSON.stringify({ text: 'quotes " and \\ and  two spaces', n: 1 }),
      }),
    );
    const request = seen[0] as Captured;
    expect(oursFor(request, 'sqs', credentials).authorization).toBe(request.headers.authorization);
  });

  it('signs a Secrets Manager GetSecretValue exactly as the AWS SDK does, to a local endpoint with a port', async () => {
    const { seen, requestHandler } = capturing({ SecretString: '{}' });
    const client = new SecretsManagerClient({
      region: 'eu-west-1',
      credentials: ROLE,
      requestHandler,
      endpoint: 'http://127.0.0.1:4566',
      maxAttempts: 1,
    });
    await client.send(new GetSecretValueCommand({ SecretId: 'arn:aws:secretsmanager:eu-west-1:1:secret:s' }));
    const request = seen[0] as Captured;
    const ours = oursFor(request, 'secretsmanager', ROLE);
    expect(ours.host).toBe('127.0.0.1:4566');
    expect(ours.authorization).toBe(request.headers.authorization);
  });

  it('refuses to sign a request with a path or a query, which it would not canonicalize', () => {
    const scope = { service: 'sqs', region: 'eu-west-1', credentials: ROLE };
    expect(() =>
      signJsonRequest({ url: new URL('https://sqs.test/a'), headers: {}, body: '' }, scope),
    ).toThrow(/root/);
    expect(() =>
      signJsonRequest({ url: new URL('https://sqs.test/?x=1'), headers: {}, body: '' }, scope),
    ).toThrow(/root/);
  });
});

describe('environmentCredentials', () => {
  it("reads the role's credentials Lambda puts in the environment, the session token included", () => {
    expect(
      environmentCredentials({ AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b', AWS_SESSION_TOKEN: 'c' }),
    ).toEqual({ accessKeyId: 'a', secretAccessKey: 'b', sessionToken: 'c' });
    expect(environmentCredentials({ AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' })).toEqual({
      accessKeyId: 'a',
      secretAccessKey: 'b',
    });
  });

  it('says clearly when there are none', () => {
    expect(() => environmentCredentials({})).toThrow(/AWS_ACCESS_KEY_ID/);
  });
});
