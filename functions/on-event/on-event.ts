import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import type { EventRecord } from '../../lib/events/event-record';
import type { Logger } from '../../lib/log';
import { fromEventItem } from '../../lib/table/records-table';

/** The user's function: called once for each newly stored event. */
export type OnEvent = (event: EventRecord) => unknown;

/**
 * The reaction's flow: runs `onEvent` once for each newly stored event of the batch, in order. The stream's event
 * filter has already kept only first inserts of the chosen types. A record whose function throws is reported,
 * and the batch is retried from it (then split in halves), so each is handled at least once; use the record's
 * `id` to make the function idempotent.
 */
export function createOnEventHandler(onEvent: OnEvent, logger: Logger) {
  return async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    for (const record of event.Records) {
      const image = record.dynamodb?.NewImage as Record<string, AttributeValue> | undefined;
      if (!image) continue;
      try {
        await onEvent(fromEventItem(image));
      } catch (error) {
        logger.error('onEvent failed', { id: image.id?.S, error });
        return { batchItemFailures: [{ itemIdentifier: record.dynamodb?.SequenceNumber ?? '' }] };
      }
    }
    return { batchItemFailures: [] };
  };
}
