/**
 * A stand-in for SQS's HTTP endpoint, for what the local SQS server cannot show or be made to do: it records the
 * request headers (no local server checks signatures) and answers each request with the next scripted reply,
 * the last one repeating: an answer (JSON, or a raw body such as an empty one, at once or after `delayMs`), no
 * answer at all (`hang`), half an answer and a dropped connection (`cut`), or a connection closed before any
 * answer (`drop`, at once or after `dropAfterMs`).
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentials } from '../../lib/aws/signature-v4';
import { NodeSha256 } from './node-sha256';

export interface SeenRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  host: string;
}

/**
 * The `Authorization` the AWS SDK's own signer (`@smithy/signature-v4`) computes for a request as it arrived,
 * over the headers it says it signed, at the date it says: equal to the one it carries when, and only when, it
 * is signed right for these credentials, region and service.
 */
export async function sdkAuthorization(
  request: SeenRequest,
  scope: { service: string; region: string; credentials: AwsCredentials },
): Promise<string> {
  const signed = /SignedHeaders=([^,]+)/.exec(String(request.headers.authorization))?.[1]?.split(';') ?? [];
  const headers = Object.fromEntries(
    signed
      .filter((name) => !['x-amz-date', 'x-amz-security-token'].includes(name))
      .map((name) => [name, String(request.headers[name])]),
  );
  const date = String(request.headers['x-amz-date']);
  const signingDate = new Date(
    `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`,
  );
  const signer = new SignatureV4({ ...scope, sha256: NodeSha256, applyChecksum: false });
  const [hostname, port] = request.host.split(':');
  const out = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: hostname ?? '',
      port: port ? Number(port) : undefined,
      path: request.path,
      query: {},
      headers,
      body: request.body,
    },
    { signingDate },
  );
  return String(out.headers.authorization);
}

export type SqsReply =
  | { status: number; body: unknown; delayMs?: number }
  | { status: number; raw: string; delayMs?: number }
  | { dropAfterMs: number }
  | 'hang'
  | 'cut'
  | 'drop';

export const SQS_OK: SqsReply = { status: 200, body: { MessageId: 'm-1' } };

export async function startSqsStandIn(replies: SqsReply[] = [SQS_OK]) {
  const seen: IncomingHttpHeaders[] = [];
  /** Each request whole, for checking its signature. */
  const requests: SeenRequest[] = [];
  /** The client's port of each request's connection: the same port twice is a connection kept alive. */
  const ports: (number | undefined)[] = [];
  const hanging: ServerResponse[] = [];
  const server = createServer((request, response) => {
    seen.push(request.headers);
    ports.push(request.socket.remotePort);
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () =>
      requests.push({
        path: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        host: String(request.headers.host),
      }),
    );
    const reply = replies[Math.min(seen.length - 1, replies.length - 1)] as SqsReply;
    if (reply === 'hang') {
      hanging.push(response);
      return;
    }
    if (reply === 'drop') {
      // The connection closes without a word, as a kept-alive one the service has let go.
      request.socket.destroy();
      return;
    }
    if (reply === 'cut') {
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0', 'content-length': '100' });
      response.write('{"MessageId":');
      setTimeout(() => response.socket?.destroy(), 20);
      return;
    }
    if ('dropAfterMs' in reply) {
      // Held, then let go without a word: a kept-alive connection the service closes while the request waits.
      hanging.push(response);
      setTimeout(() => request.socket.destroy(), reply.dropAfterMs);
      return;
    }
    const answer = () => {
      if (response.destroyed) return;
      response.writeHead(reply.status, { 'content-type': 'application/x-amz-json-1.0' });
      response.end('raw' in reply ? reply.raw : JSON.stringify(reply.body));
    };
    request.on('end', () => {
      if (reply.delayMs) setTimeout(answer, reply.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    seen,
    requests,
    ports,
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const response of hanging) response.destroy();
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      await closed;
    },
  };
}
