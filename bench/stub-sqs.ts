import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';

/**
 * An SQS client whose transport answers SendMessage in process, as SQS would (with the MD5 the SDK checks), so
 * a benchmark measures the handler's own work and not the network. Both the measured flow and its baseline
 * use it, each with its own client settings.
 */
export function stubbedSqsClient(options: SQSClientConfig = {}): { client: SQSClient; sent: () => number } {
  let sent = 0;
  const client = new SQSClient({
    ...options,
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    endpoint: 'http://sqs.invalid',
    requestHandler: {
      handle: async (request: { body?: unknown }) => {
        const raw =
          request.body instanceof Uint8Array
            ? Buffer.from(request.body).toString()
            : String(request.body ?? '{}');
        const input = JSON.parse(raw) as { MessageBody?: string };
        sent++;
        const body = JSON.stringify({
          MessageId: randomUUID(),
          MD5OfMessageBody: createHash('md5')
            .update(input.MessageBody ?? '')
            .digest('hex'),
        });
        return {
          response: {
            statusCode: 200,
            reason: 'OK',
            headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'bench' },
            body: Readable.from([Buffer.from(body)]),
          },
        };
      },
    } as never,
  });
  return { client, sent: () => sent };
}
