import type { DynamoDBRecord } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createOnEventHandler } from '../../functions/on-event/on-event';
import type { EventRecord } from '../../lib/events/event-record';
import { createLambdaLogger } from '../../lib/log';

/** A stream record of a newly stored event item, as DynamoDB Streams hands it over. */
const inserted = (id: string, sequence: string): DynamoDBRecord => ({
  eventName: 'INSERT',
  dynamodb: {
    SequenceNumber: sequence,
    NewImage: {
      id: { S: id },
      provider: { S: 'sori' },
      event: { S: 'campaign.click' },
      created_at: { S: '2026-12-06T03:00:00.000Z' },
    },
  },
});

afterEach(() => vi.restoreAllMocks());

describe('the reaction function', () => {
  it('runs the function for each new event in order, stops at the first that throws, reports its sequence number, and logs it in the deployed functions’ one shape', async () => {
    const seen: string[] = [];
    const stderr: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      stderr.push(String(chunk));
      return true;
    });
    const handler = createOnEventHandler(
      (event: EventRecord) => {
        seen.push(event.id);
        if (event.id === 'sori:2') throw new TypeError('no campaign');
      },
      createLambdaLogger('on-event', 'info'),
    );

    const answer = await handler({
      Records: [inserted('sori:1', '100'), inserted('sori:2', '200'), inserted('sori:3', '300')],
    });

    expect(seen).toEqual(['sori:1', 'sori:2']);
    expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: '200' }] });
    expect(stderr).toHaveLength(1);
    const line = JSON.parse(stderr[0] ?? '');
    expect(line).toEqual({
      level: 'ERROR',
      message: 'onEvent failed',
      service: 'on-event',
      timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      id: 'sori:2',
      error: { name: 'TypeError', message: 'no campaign' },
    });
  });

  it('answers no failure when every new event was handled, and skips a record without a new image', async () => {
    const seen: string[] = [];
    const handler = createOnEventHandler(
      (event: EventRecord) => void seen.push(event.id),
      createLambdaLogger('on-event', 'info'),
    );
    const answer = await handler({
      Records: [inserted('sori:1', '1'), { eventName: 'REMOVE', dynamodb: {} }],
    });
    expect(answer).toEqual({ batchItemFailures: [] });
    expect(seen).toEqual(['sori:1']);
  });
});
