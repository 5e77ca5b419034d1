import {
  ChangeMessageVisibilityBatchCommand,
  type Message,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';

/** The message attribute that says why the consumer sent a message to the DLQ itself. */
export const REASON_ATTRIBUTE = 'reason';

/**
 * The consumer's way to the DLQ for a message it can never read: retrying it would fail the same way, so it
 * goes there at once, with the reason, instead of after `maxReceiveCount` receives.
 */
export class DeadLetterQueue {
  constructor(
    private readonly client: SQSClient,
    readonly queueUrl: string,
  ) {}

  /** @throws the SDK's error when the DLQ did not take it (the message is then retried as usual). */
  async send(body: string, reason: string): Promise<void> {
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: body,
        MessageAttributes: { [REASON_ATTRIBUTE]: { DataType: 'String', StringValue: reason.slice(0, 1024) } },
      }),
    );
  }
}

/** A dead letter as `events dlq list` shows it, without taking it off the queue. */
export interface DeadLetter {
  message_id: string;
  /** When the message was first sent (ISO 8601). */
  sent_at: string | null;
  /** How many times a consumer received it, this look included. */
  receive_count: number;
  /** What the body says, when it is one of this pipeline's queue messages. */
  kind: string | null;
  provider: string | null;
  event: string | null;
  record_id: string | null;
  /** Why the consumer sent it here at once, when it did (a message it can never read). */
  reason: string | null;
  bytes: number;
  body: string;
}

/** How long a look hides the messages it has seen, so the next receive returns others. */
const LOOK_SECONDS = 30;

function describe(message: Message): DeadLetter {
  const body = message.Body ?? '';
  let parsed: { kind?: unknown; record?: { provider?: unknown; event?: unknown; id?: unknown } } = {};
  try {
    parsed = JSON.parse(body);
  } catch {
    // Not JSON: an unreadable message, shown as it is.
  }
  const text = (value: unknown) => (typeof value === 'string' ? value : null);
  const sent = Number(message.Attributes?.SentTimestamp);
  return {
    message_id: message.MessageId ?? '',
    sent_at: Number.isFinite(sent) ? new Date(sent).toISOString() : null,
    receive_count: Number(message.Attributes?.ApproximateReceiveCount ?? 0),
    kind: text(parsed?.kind),
    provider: text(parsed?.record?.provider),
    event: text(parsed?.record?.event),
    record_id: text(parsed?.record?.id),
    reason: message.MessageAttributes?.[REASON_ATTRIBUTE]?.StringValue ?? null,
    bytes: Buffer.byteLength(body),
    body,
  };
}

/**
 * Looks at up to `max` messages of a dead-letter queue without removing them: each is received (hidden for a
 * moment so the next receive finds others) and made visible again at once. Looking counts as a receive in
 * SQS's own `ApproximateReceiveCount`; nothing else changes.
 * @returns the messages seen, oldest sent first.
 */
export async function peekDeadLetters(sqs: SQSClient, queueUrl: string, max = 1000): Promise<DeadLetter[]> {
  const seen = new Map<string, DeadLetter>();
  const handles: { id: string; handle: string }[] = [];
  try {
    for (let empty = 0; seen.size < max && empty < 2; ) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: LOOK_SECONDS,
          WaitTimeSeconds: 0,
          MessageSystemAttributeNames: ['SentTimestamp', 'ApproximateReceiveCount'],
          MessageAttributeNames: [REASON_ATTRIBUTE],
        }),
      );
      // An empty answer can come from a queue that still holds messages (SQS samples its servers): try again once.
      empty = Messages.length === 0 ? empty + 1 : 0;
      for (const message of Messages) {
        if (message.ReceiptHandle)
          handles.push({ id: String(handles.length), handle: message.ReceiptHandle });
        if (message.MessageId && !seen.has(message.MessageId)) seen.set(message.MessageId, describe(message));
      }
    }
  } finally {
    for (let i = 0; i < handles.length; i += 10) {
      await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: handles
            .slice(i, i + 10)
            .map(({ id, handle }) => ({ Id: id, ReceiptHandle: handle, VisibilityTimeout: 0 })),
        }),
      );
    }
  }
  return [...seen.values()].sort((a, b) => (a.sent_at ?? '').localeCompare(b.sent_at ?? ''));
}

/** Deletes every message of a dead-letter queue (SQS's PurgeQueue: once a minute at most). */
export async function purgeDeadLetters(sqs: SQSClient, queueUrl: string): Promise<void> {
  await sqs.send(new PurgeQueueCommand({ QueueUrl: queueUrl }));
}
