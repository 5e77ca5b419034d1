import type { QueueMessage } from '../../lib/events/event-record';
import type { CampaignCounters } from '../../lib/ingest/campaign-counters';
import type { EventWriter } from '../../lib/ingest/event-writer';
import { type BatchOutcome, storeBatch } from '../../lib/ingest/store-batch';

/**
 * Stores a batch as the consumer does, then runs one repair pass as the schedule would, so the counters
 * include the batch (the consumer journals its counts; the repair folds them into the counter items).
 */
export async function storeAndFold(
  writer: EventWriter,
  counters: CampaignCounters,
  messages: readonly QueueMessage[],
): Promise<BatchOutcome[]> {
  const outcomes = await storeBatch(writer, counters, messages);
  await counters.repair();
  return outcomes;
}
