/**
 * A DynamoDB-API proxy in front of the run's local server, for the two things a real server cannot be made to
 * do on demand: refuse what the role's IAM policy does not allow, and apply a write and then lose its answer.
 * Everything else (conditions, items, queries) is the real local server's doing.
 */
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inject } from 'vitest';

/**
 * What the proxy does to one request:
 * - `lose-answer`: forwards it (DynamoDB applies it) and answers 500 InternalServerError;
 * - `reset-after`: forwards it and closes the connection without an answer;
 * - `fail-before`: answers 500 without forwarding (nothing applied);
 * - `throttle`: answers 400 ProvisionedThroughputExceededException without forwarding;
 * - `hold`: forwards it only after `holdMs` (a slow link), and not at all if the caller gave up meanwhile;
 * - `late`: closes the connection at once, without an answer, and forwards the request `holdMs` later (a request
 *   the service had in hand and applies after the caller gave up on it).
 */
export type Fault = 'lose-answer' | 'reset-after' | 'fail-before' | 'throttle' | 'hold' | 'late';

/** One request the proxy saw: the action (`PutItem`, …) and its JSON input. */
export interface ProxiedCall {
  action: string;
  input: Record<string, unknown>;
}

export interface DynamoDbProxyOptions {
  /** Actions the caller may call (`dynamodb:<Action>` names without the prefix); all when absent. */
  allow?: ReadonlySet<string>;
  /** The fault for a call, if any; asked once per request (each SDK retry is a new request). */
  fault?: (call: ProxiedCall) => Fault | undefined;
  /** How long a `hold` fault holds a request (default 3 s). */
  holdMs?: number;
}

const error = (type: string, message: string) =>
  JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message });

/** Starts a proxy to the run's DynamoDB-API server. */
export async function startDynamoDbProxy(options: DynamoDbProxyOptions = {}) {
  const target = new URL(inject('dynamodbEndpoint'));
  const calls: ProxiedCall[] = [];
  const refused: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const action = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      let input: Record<string, unknown> = {};
      try {
        input = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      } catch {}
      const call = { action, input };
      calls.push(call);
      const answer = (status: number, text: string) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(text);
      };
      if (options.allow && !options.allow.has(action)) {
        refused.push(action);
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(
          JSON.stringify({
            __type: 'com.amazon.coral.service#AccessDeniedException',
            Message: `User: arn:aws:sts::000000000000:assumed-role/test is not authorized to perform: dynamodb:${action} on resource: ${String(input.TableName ?? 'the table')}`,
          }),
        );
        return;
      }
      const fault = options.fault?.(call);
      if (fault === 'fail-before') return answer(500, error('InternalServerError', 'Internal server error'));
      if (fault === 'throttle') {
        return answer(400, error('ProvisionedThroughputExceededException', 'Rate of requests exceeds'));
      }
      const forward = request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: target.host },
        },
        (upstream) => {
          const parts: Buffer[] = [];
          upstream.on('data', (chunk: Buffer) => parts.push(chunk));
          upstream.on('end', () => {
            if (fault === 'late') return;
            if (fault === 'lose-answer')
              return answer(500, error('InternalServerError', 'Internal server error'));
            if (fault === 'reset-after') return req.socket.destroy();
            res.writeHead(upstream.statusCode ?? 500, upstream.headers);
            res.end(Buffer.concat(parts));
          });
        },
      );
      forward.on('error', () => req.socket.destroy());
      if (fault === 'late') {
        req.socket.destroy();
        setTimeout(() => forward.end(body), options.holdMs ?? 3_000);
        return;
      }
      if (fault !== 'hold') return forward.end(body);
      const timer = setTimeout(() => forward.end(body), options.holdMs ?? 3_000);
      res.on('close', () => {
        if (res.writableEnded) return;
        clearTimeout(timer);
        forward.destroy();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    /** Every request seen, in order (refused ones included). */
    calls,
    /** Actions refused for want of a permission. */
    refused,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The DynamoDB actions a synthesized template allows a function's role on the records table (statements of the
 * role's inline policies whose actions start with `dynamodb:`), without the prefix.
 */
export function allowedDynamoDbActions(
  resources: Record<string, { Type: string; Properties: Record<string, unknown> }>,
  functionIdPrefix: string,
): Set<string> {
  const fn = Object.entries(resources).find(
    ([id, resource]) => resource.Type === 'AWS::Lambda::Function' && id.startsWith(functionIdPrefix),
  );
  if (!fn) throw new Error(`no function ${functionIdPrefix} in the template`);
  const role = (fn[1].Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  const allowed = new Set<string>();
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    const roles = (resource.Properties.Roles as { Ref: string }[]).map((ref) => ref.Ref);
    if (!roles.includes(role)) continue;
    const document = resource.Properties.PolicyDocument as {
      Statement: { Effect: string; Action: string | string[] }[];
    };
    for (const statement of document.Statement) {
      if (statement.Effect !== 'Allow') continue;
      for (const action of [statement.Action].flat()) {
        if (action.startsWith('dynamodb:')) allowed.add(action.slice('dynamodb:'.length));
      }
    }
  }
  return allowed;
}
