import {
  DeleteMessageBatchCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
  StartMessageMoveTaskCommand,
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

/** How a move task ended, and how many messages it moved. */
export interface MoveResult {
  status: string;
  moved: number;
  failureReason?: string | undefined;
}

/**
 * Moves every message of a DLQ back to its source queue with SQS's own message move task (in AWS; no local
 * SQS-API server has it), polling the task until it ends.
 * @param onProgress called at each poll with the messages moved so far and the number to move, when known
 * @returns the task's final status (`COMPLETED`, `FAILED` or `CANCELLED`) and the messages it moved.
 * @throws the SDK's error when the task cannot be started or read.
 */
export async function moveDeadLetters(
  sqs: SQSClient,
  arns: { deadLetterQueueArn: string; queueArn: string },
  options: { pollMs?: number; onProgress?: (moved: number, toMove: number | undefined) => void } = {},
): Promise<MoveResult> {
  await sqs.send(
    new StartMessageMoveTaskCommand({ SourceArn: arns.deadLetterQueueArn, DestinationArn: arns.queueArn }),
  );
  for (;;) {
    const { Results = [] } = await sqs.send(
      new ListMessageMoveTasksCommand({ SourceArn: arns.deadLetterQueueArn, MaxResults: 1 }),
    );
    const task = Results[0];
    const moved = task?.ApproximateNumberOfMessagesMoved ?? 0;
    options.onProgress?.(moved, task?.ApproximateNumberOfMessagesToMove);
    if (task?.Status && task.Status !== 'RUNNING' && task.Status !== 'CANCELLING') {
      return { status: task.Status, moved, failureReason: task.FailureReason };
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 2_000));
  }
}
