// The user's module, put in place by the bundler (an esbuild alias to the `onEventModule` setting's file).
import onEvent from 'campaign-inbox:on-event';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { fromEventItem } from '../../lib/table/records-table';

/**
 * Runs the user's function once for each newly stored event of the batch, in order. The stream's event filter
 * has already kept only first inserts of the chosen types. A record whose function throws is reported, and the
 * batch is retried from it (then split in halves), so each is handled at least once; use the record's `id` to
 * make the function idempotent.
 */
export async function handler(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
  for (const record of event.Records) {
    const image = record.dynamodb?.NewImage as Record<string, AttributeValue> | undefined;
    if (!image) continue;
    try {
      await onEvent(fromEventItem(image));
    } catch (error) {
      console.error(
        JSON.stringify({ level: 'ERROR', message: 'onEvent failed', id: image.id?.S, error: String(error) }),
      );
      return { batchItemFailures: [{ itemIdentifier: record.dynamodb?.SequenceNumber ?? '' }] };
    }
  }
  return { batchItemFailures: [] };
}
