/**
 * A pass-through in front of moto for the bundles' calls. Each request goes on byte for byte, `Host` header
 * included, so moto verifies the signature the bundle computed and judges the call by the caller's policies;
 * each answer comes back as moto gave it. What the proxy adds:
 * - a record of every call (service, action, caller's key, status, error code), to say which calls moto took;
 * - the resource half of IAM's decision for the services moto authorizes without a resource (DynamoDB, Secrets
 *   Manager, CloudFormation, Cognito user pools, see `UNSCOPED_IN_MOTO`), from the caller's statements as the
 *   template gives them: a call on a resource none allows is answered here with IAM's `AccessDeniedException`,
 *   as AWS would answer it;
 * - a pause on demand (`before`): a call is held until a promise settles (a policy changed meanwhile, say), then
 *   goes on to moto unchanged.
 */
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PolicyStatement } from './iam';
import { resourceDenial, resourcesOfCall } from './policy';

export interface SeenCall {
  /** The signing name in the request's credential scope (`sqs`, `dynamodb`, `s3`, …). */
  service: string;
  /** The operation (`PutItem`, `SendMessage`, `DescribeStacks`, …), or for S3 the method and path. */
  action: string;
  accessKeyId: string;
  /** The input of a JSON-protocol call, or the form fields of a query-protocol call. */
  input: Record<string, unknown>;
  status: number;
  /** The error code of a refusal (`AccessDenied`, `SignatureDoesNotMatch`, …). */
  code?: string | undefined;
  /** Who answered: moto, or the proxy (the resource half of IAM's decision). */
  by: 'moto' | 'resource-check';
}

export interface MotoProxy {
  endpoint: string;
  calls: SeenCall[];
  /** The statements each user (by access key) has in the template, for the resource half of IAM's decision. */
  grant(accessKeyId: string, statements: PolicyStatement[]): void;
  /** While set, a call it returns a promise for goes on to moto once that promise has settled. */
  before: ((call: Readonly<SeenCall>) => Promise<unknown> | undefined) | undefined;
  close(): Promise<void>;
}

const errorCode = (body: string): string | undefined => {
  try {
    const type = (JSON.parse(body) as { __type?: string }).__type;
    if (type) return type.split('#').pop()?.split(':')[0];
  } catch {}
  return /<Code>([^<]+)<\/Code>/.exec(body)?.[1];
};

export async function startMotoProxy(motoEndpoint: string): Promise<MotoProxy> {
  const target = new URL(motoEndpoint);
  const calls: SeenCall[] = [];
  const grants = new Map<string, PolicyStatement[]>();
  const proxy: MotoProxy = {
    endpoint: '',
    calls,
    grant: (accessKeyId, statements) => grants.set(accessKeyId, statements),
    before: undefined,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const authorization = String(req.headers.authorization ?? '');
      const scope = /Credential=([^/]+)\/\d{8}\/[^/]+\/([^/]+)\//.exec(authorization);
      const target_ = String(req.headers['x-amz-target'] ?? '');
      const service = scope?.[2] ?? '';
      let input: Record<string, unknown> = {};
      if (target_) {
        try {
          input = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
        } catch {}
      }
      // A call of a query protocol (CloudFormation) names its action and input in a form body.
      const form = String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
      if (!target_ && form) input = Object.fromEntries(new URLSearchParams(body.toString('utf8')));
      const call: SeenCall = {
        service,
        action: target_
          ? (target_.split('.').pop() ?? '')
          : form && typeof input.Action === 'string'
            ? input.Action
            : `${req.method} ${req.url}`,
        accessKeyId: scope?.[1] ?? '',
        input,
        status: 0,
        by: 'moto',
      };
      calls.push(call);
      const answer = (status: number, type: string, message: string, by: SeenCall['by']) => {
        Object.assign(call, { status, code: type, by });
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify({ __type: `com.amazon.coral.service#${type}`, Message: message }));
      };
      await proxy.before?.(call)?.catch(() => {});
      const statements = grants.get(call.accessKeyId);
      const resources = statements && resourcesOfCall(service, call.action, input);
      const denial = statements && resources && resourceDenial(statements, service, call.action, resources);
      if (denial) {
        return answer(
          400,
          'AccessDeniedException',
          `${call.accessKeyId} is not authorized: ${denial}`,
          'resource-check',
        );
      }
      const forward = request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (upstream) => {
          const parts: Buffer[] = [];
          upstream.on('data', (chunk: Buffer) => parts.push(chunk));
          upstream.on('end', () => {
            const answered = Buffer.concat(parts);
            call.status = upstream.statusCode ?? 0;
            if (call.status >= 300) call.code = errorCode(answered.toString('utf8'));
            res.writeHead(call.status, upstream.headers);
            res.end(answered);
          });
        },
      );
      forward.on('error', () => req.socket.destroy());
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
