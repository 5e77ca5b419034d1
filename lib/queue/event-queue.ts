import { QueueUnavailableError } from '../errors';
import type { QueueMessage } from '../events/event-record';

/**
 * SQS's `SendMessage`: the SDK's client in the local stack and the tools (`sdkSendMessage`), the receive
 * function's own signed client when deployed (`lib/aws/services.ts`).
 */
export type SendMessage = (input: { QueueUrl: string; MessageBody: string }) => Promise<unknown>;

/** Sends normalized deliveries to the events queue. */
export class EventQueue {
  constructor(
    private readonly sendMessage: SendMessage,
    readonly queueUrl: string,
  ) {}

  /**
   * Sends one message.
   * @throws {QueueUnavailableError} when SQS did not take it, so the sender is told to retry.
   */
  async send(message: QueueMessage): Promise<void> {
    try {
      await this.sendMessage({ QueueUrl: this.queueUrl, MessageBody: toAsciiJson(message) });
    } catch (error) {
      throw new QueueUnavailableError('the events queue did not accept the message', { cause: error });
    }
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
