import { describe, expect, it } from 'vitest';
import { QueueUnavailableError } from '../../lib/errors';
import type { QueueMessage } from '../../lib/events/event-record';
import { EventQueue, type SendMessage } from '../../lib/queue/event-queue';

const MESSAGE = { v: 1, kind: 'event', record: { id: 'sori_1' }, raw: '{}' } as unknown as QueueMessage;

describe('EventQueue', () => {
  it.each([
    ['nothing', undefined],
    ['no MessageId', {}],
    ['an empty MessageId', { MessageId: '' }],
  ])('does not count a SendMessage answered with %s as sent', async (_, answer) => {
    // Whatever client sends it: SQS gives every message it takes an id.
    const send = (async () => answer) as unknown as SendMessage;
    await expect(new EventQueue(send, 'https://queue').send(MESSAGE)).rejects.toBeInstanceOf(
      QueueUnavailableError,
    );
  });

  it('counts a SendMessage answered with a MessageId as sent, and hands the deadline on to it', async () => {
    const deadlines: (number | undefined)[] = [];
    const send: SendMessage = async (_input, deadline) => {
      deadlines.push(deadline);
      return { MessageId: 'm-1' };
    };
    await expect(new EventQueue(send, 'https://queue').send(MESSAGE, 1_234)).resolves.toBeUndefined();
    expect(deadlines).toEqual([1_234]);
  });
});
