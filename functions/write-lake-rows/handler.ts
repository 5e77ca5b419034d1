import { ConfigError } from '../../lib/errors';
import {
  type DeliveryOutcome,
  deliverRows,
  firehosePutRecordBatch,
  type StreamRecord,
} from '../../lib/lake/deliver-rows';
import { registerCustomProviders } from '../../lib/providers/declarative';

// Module scope, once per container: a missing stream name fails the cold start loudly rather than every batch.
const deliveryStreamName = process.env.DELIVERY_STREAM_NAME;
if (!deliveryStreamName) throw new ConfigError('DELIVERY_STREAM_NAME is not set');
// Which event types a configured provider counts is part of each row (`counter`).
registerCustomProviders(process.env.CUSTOM_PROVIDERS);
const put = firehosePutRecordBatch(process.env.AWS_REGION ?? 'us-east-1');

/**
 * The lake's stream transform: each new event item of a batch of the records table's stream becomes one lake
 * row sent to the Firehose stream, which writes it into the Iceberg table. A row Firehose keeps refusing makes
 * the stream retry the batch from its record (`ReportBatchItemFailures`).
 */
export async function handler(event: {
  Records: StreamRecord[];
}): Promise<Pick<DeliveryOutcome, 'batchItemFailures'>> {
  const outcome = await deliverRows(event.Records, put, deliveryStreamName as string);
  if (outcome.batchItemFailures.length > 0) {
    console.error(
      JSON.stringify({
        level: 'ERROR',
        message: 'lake rows refused by Firehose',
        delivered: outcome.delivered,
      }),
    );
  }
  return { batchItemFailures: outcome.batchItemFailures };
}
