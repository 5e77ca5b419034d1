/**
 * A stand-in for SQS's HTTP endpoint, for what the local SQS server cannot show or be made to do: it records the
 * request headers (no local server checks signatures) and answers each request with the next scripted reply,
 * the last one repeating: an answer, no answer at all (`hang`), half an answer and a dropped connection (`cut`),
 * or a connection closed before any answer (`drop`).
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type SqsReply = { status: number; body: unknown } | 'hang' | 'cut' | 'drop';

export const SQS_OK: SqsReply = { status: 200, body: { MessageId: 'm-1' } };

export async function startSqsStandIn(replies: SqsReply[] = [SQS_OK]) {
  const seen: IncomingHttpHeaders[] = [];
  /** The client's port of each request's connection: the same port twice is a connection kept alive. */
  const ports: (number | undefined)[] = [];
  const hanging: ServerResponse[] = [];
  const server = createServer((request, response) => {
    seen.push(request.headers);
    ports.push(request.socket.remotePort);
    request.resume();
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
    request.on('end', () => {
      response.writeHead(reply.status, { 'content-type': 'application/x-amz-json-1.0' });
      response.end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    seen,
    ports,
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const response of hanging) response.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
