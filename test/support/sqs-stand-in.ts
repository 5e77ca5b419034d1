/**
 * A stand-in for SQS's HTTP endpoint, for what the local SQS server cannot show or be made to do: it records the
 * request headers (no local server checks signatures) and answers each request with the next scripted reply,
 * the last one repeating: an answer, no answer at all (`hang`), or half an answer and a dropped connection
 * (`cut`).
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type SqsReply = { status: number; body: unknown } | 'hang' | 'cut';

export const SQS_OK: SqsReply = { status: 200, body: { MessageId: 'm-1' } };

export async function startSqsStandIn(replies: SqsReply[] = [SQS_OK]) {
  const seen: IncomingHttpHeaders[] = [];
  const hanging: ServerResponse[] = [];
  const server = createServer((request, response) => {
    seen.push(request.headers);
    request.resume();
    const reply = replies[Math.min(seen.length - 1, replies.length - 1)] as SqsReply;
    if (reply === 'hang') {
      hanging.push(response);
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
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const response of hanging) response.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
