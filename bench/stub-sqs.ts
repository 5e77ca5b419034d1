import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import type { Transport } from '../lib/aws/aws-json-client';

/** What SQS answers a `SendMessage` with (its MD5 included, which the SDK checks unless told not to). */
function sendMessageAnswer(requestBody: string): string {
  const input = JSON.parse(requestBody) as { MessageBody?: string };
  return JSON.stringify({
    MessageId: randomUUID(),
    MD5OfMessageBody: createHash('md5')
      .update(input.MessageBody ?? '')
      .digest('hex'),
  });
}

/** A transport for our own SQS client that answers `SendMessage` in process, as {@link stubbedSqsClient} does. */
export function stubbedSqsTransport(): { transport: Transport; sent: () => number } {
  let sent = 0;
  const transport: Transport = async (_url, _headers, body) => {
    sent++;
    return { status: 200, body: sendMessageAnswer(body) };
  };
  return { transport, sent: () => sent };
}

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
        sent++;
        const body = sendMessageAnswer(raw);
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
