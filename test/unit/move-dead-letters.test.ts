import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { moveDeadLetters } from '../../lib/queue/redrive';

// A stand-in for SQS's message move task API (AWS JSON 1.0 over HTTP): no local SQS-API server implements
// StartMessageMoveTask or ListMessageMoveTasks, so this checks what the redrive asks of AWS and how it reads
// the answers.
let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
});

async function standIn(
  statuses: { Status: string; moved: number; toMove?: number; FailureReason?: string }[],
) {
  const calls: { target: string; input: Record<string, unknown> }[] = [];
  let poll = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const target = String(request.headers['x-amz-target']);
      calls.push({ target, input: JSON.parse(Buffer.concat(chunks).toString() || '{}') });
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
      if (target.endsWith('StartMessageMoveTask'))
        return response.end(JSON.stringify({ TaskHandle: 'task-1' }));
      const status = statuses[Math.min(poll++, statuses.length - 1)];
      response.end(
        JSON.stringify({
          Results: [
            {
              Status: status?.Status,
              ApproximateNumberOfMessagesMoved: status?.moved,
              ApproximateNumberOfMessagesToMove: status?.toMove,
              FailureReason: status?.FailureReason,
            },
          ],
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  close = () => new Promise((resolve) => server.close(() => resolve()));
  const client = new SQSClient({
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    credentials: { accessKeyId: 'stand-in', secretAccessKey: 'stand-in' },
  });
  return { client, calls };
}

const ARNS = {
  deadLetterQueueArn: 'arn:aws:sqs:us-east-1:000000000000:inbox-dlq',
  queueArn: 'arn:aws:sqs:us-east-1:000000000000:inbox-events',
};

describe('redrive in AWS (the message move task)', () => {
  it('starts a move from the DLQ to the events queue and reports progress until it completes', async () => {
    const { client, calls } = await standIn([
      { Status: 'RUNNING', moved: 10, toMove: 25 },
      { Status: 'COMPLETED', moved: 25, toMove: 25 },
    ]);
    const progress: string[] = [];
    const result = await moveDeadLetters(client, ARNS, {
      pollMs: 1,
      onProgress: (moved, toMove) => progress.push(`${moved}/${toMove}`),
    });
    expect(result).toEqual({ status: 'COMPLETED', moved: 25, failureReason: undefined });
    expect(progress).toEqual(['10/25', '25/25']);
    expect(calls[0]).toEqual({
      target: 'AmazonSQS.StartMessageMoveTask',
      input: { SourceArn: ARNS.deadLetterQueueArn, DestinationArn: ARNS.queueArn },
    });
    expect(calls.slice(1).map((call) => call.target)).toEqual([
      'AmazonSQS.ListMessageMoveTasks',
      'AmazonSQS.ListMessageMoveTasks',
    ]);
  });

  it('reports a failed task with its reason', async () => {
    const { client } = await standIn([{ Status: 'FAILED', moved: 3, FailureReason: 'AccessDenied' }]);
    expect(await moveDeadLetters(client, ARNS, { pollMs: 1 })).toEqual({
      status: 'FAILED',
      moved: 3,
      failureReason: 'AccessDenied',
    });
  });
});
