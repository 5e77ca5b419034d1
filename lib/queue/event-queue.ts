import type { Deadline } from '../aws/deadline';
import { QueueUnavailableError } from '../errors';
import type { QueueMessage } from '../events/event-record';

/** What SQS answers a `SendMessage` it took with: the message's id, which no other answer carries. */
export interface SendMessageAnswer {
  MessageId?: string | undefined;
}

/**
 * SQS's `SendMessage`: the SDK's client in the local stack and the tools (`sdkSendMessage`), the receive
 * function's own signed client when deployed (`lib/receive/services.ts`). Given a deadline, no try starts after it
 * and every try ends by it.
 */
export type SendMessage = (
  input: { QueueUrl: string; MessageBody: string },
  deadline?: Deadline,
) => Promise<SendMessageAnswer>;

/** Sends normalized deliveries to the events queue. */
export class EventQueue {
  constructor(
    private readonly sendMessage: SendMessage,
    readonly queueUrl: string,
  ) {}

  /**
   * Sends one message, by `deadline` when one is given. Resolves only once SQS answered with its `MessageId`.
   * @throws {QueueUnavailableError} when SQS did not take it, or did not say it did (no `MessageId` in its
   *   answer), so the sender is told to retry.
   */
  async send(message: QueueMessage, deadline?: Deadline): Promise<void> {
    let answer: SendMessageAnswer | undefined;
    try {
      answer = await this.sendMessage(
        { QueueUrl: this.queueUrl, MessageBody: toAsciiJson(message) },
        deadline,
      );
    } catch (error) {
      throw new QueueUnavailableError('the events queue did not accept the message', { cause: error });
    }
    // SQS gives every message it takes an id: an answer without one says nothing was taken.
    const id = answer?.MessageId;
    if (typeof id !== 'string' || id === '')
      throw new QueueUnavailableError('the events queue answered without a MessageId');
  }
}

/**
 * JSON with every non-ASCII character escaped (`\uXXXX`). SQS accepts only some Unicode ranges in a message
 * body (emulators fewer still, refusing emoji); an all-ASCII body is valid everywhere and parses back to the
 * same value.
 */
export function toAsciiJson(value: unknown): string {
  const json = JSON.stringify(value);
  // Most bodies are ASCII already: finding that out is cheaper than a replace that changes nothing. A character
  // past U+007F takes two or more bytes in UTF-8, so equal lengths mean none (the engine counts natively).
  if (Buffer.byteLength(json, 'utf8') === json.length && !json.includes('\u007f')) return json;
  return json.replace(NON_ASCII_ALL, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const NON_ASCII_ALL = /[\u007f-\uffff]/g;
