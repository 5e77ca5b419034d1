import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { QueueUnavailableError } from '../errors';
import type { QueueMessage } from '../records/event-record';

/** Sends normalized deliveries to the events queue. */
export class EventQueue {
  constructor(
    private readonly client: SQSClient,
    readonly queueUrl: string,
  ) {}

  /**
   * Sends one message.
   * @throws {QueueUnavailableError} when SQS did not take it, so the sender is told to retry.
   */
  async send(message: QueueMessage): Promise<void> {
    try {
      await this.client.send(
        new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(message) }),
      );
    } catch (error) {
      throw new QueueUnavailableError('the events queue did not accept the message', { cause: error });
    }
  }
}
