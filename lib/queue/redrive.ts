import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';

/** What a redrive moved. */
export interface RedriveResult {
  moved: number;
  failed: number;
}

/**
 * Moves messages from the DLQ back to the events queue, ten at a time: each is deleted from the DLQ only after
 * the queue accepted it, so a failure midway loses nothing (at worst a message is in both, and the
 * conditional put makes the second copy a duplicate).
 * @returns how many messages moved, and how many the queue refused (they stay in the DLQ).
 */
export async function redriveMessages(
  sqs: SQSClient,
  from: string,
  to: string,
  options: { max?: number } = {},
): Promise<RedriveResult> {
  const max = options.max ?? Number.POSITIVE_INFINITY;
  const result: RedriveResult = { moved: 0, failed: 0 };
  while (result.moved + result.failed < max) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: from,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 60,
      }),
    );
    if (Messages.length === 0) break;
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: to,
        Entries: Messages.map((message, i) => ({ Id: String(i), MessageBody: message.Body ?? '' })),
      }),
    );
    const accepted = new Set((sent.Successful ?? []).map((entry) => entry.Id));
    const done = Messages.map((message, i) => ({
      Id: String(i),
      ReceiptHandle: message.ReceiptHandle ?? '',
    })).filter((entry) => accepted.has(entry.Id));
    if (done.length > 0) await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: from, Entries: done }));
    result.moved += done.length;
    result.failed += Messages.length - done.length;
    if (done.length === 0) break;
  }
  return result;
}
