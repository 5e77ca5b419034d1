import type { QueueMessage } from '../events/event-record';
import type { Logger } from '../log';
import type { CampaignCounters } from './campaign-counters';
import type { EventWriter, StoreOutcome } from './event-writer';
import {
  type BatchOutcome,
  type BatchWrites,
  type BeforeWrite,
  type StoreOptions,
  type storeBatch,
  storeBatchWrites,
} from './store-batch';

/** A record a batch stored for the first time. */
export interface FirstInsert {
  /** Its message's position in the batch. */
  index: number;
  /** Its message as stored: `message.record` is the record now in the table (an event, or a quarantine note). */
  message: QueueMessage;
}

/** What a batch stored, as {@link IngestOptions.onStored} hears it. */
export interface StoredBatch {
  /**
   * The records the batch stored for the first time, in message order: never a duplicate, each once however
   * often it is delivered. A record stored counts even when its message then failed (it is retried, and the
   * retry finds a duplicate).
   */
  inserted: readonly FirstInsert[];
  /** The batch's messages as they were stored, in order. */
  messages: readonly QueueMessage[];
  /** What storing each message did, in order (see {@link storeBatch}). */
  outcomes: readonly BatchOutcome[];
  /**
   * What each message's record write answered, in order: `stored`, `duplicate`, or `undefined` when it was not
   * attempted or failed (a failure without an answer may still have been applied).
   */
  writes: ReadonlyArray<StoreOutcome | undefined>;
}

/** What an ingest stores with, and who hears of what it stored. */
export interface IngestOptions {
  writer: EventWriter;
  counters: CampaignCounters;
  /**
   * Hears of every batch once it is stored, with the records it stored for the first time. It may not fail
   * the batch: its records are stored, and a retry would only find duplicates. A throw is logged.
   */
  onStored?: (batch: StoredBatch) => void | Promise<void>;
  /**
   * Runs before each record is written, with its message as it is stored; a throw fails that message, nothing
   * of it written. A listener of {@link onStored} that must hear of a first insert even when the process dies
   * between the write and the batch's end notes its intent here, durably.
   */
  beforeWrite?: BeforeWrite;
  /** Where a throw of {@link onStored} is told; without it, nowhere. */
  logger?: Logger;
  /**
   * The time (epoch ms) batches are stamped by, the one their staleness is judged by: the counters' clock by
   * default (see `CampaignCounters.clock`; give both the same).
   */
  clock?: () => number;
}

/** The consumer's one way to store a batch. */
export interface Ingest {
  /**
   * Stores a batch (see {@link storeBatch}), then tells {@link IngestOptions.onStored} what it stored.
   * @returns one outcome per message, in order; never throws.
   */
  store(messages: readonly QueueMessage[], options?: StoreOptions): Promise<BatchOutcome[]>;
  /** Age after which a batch's claims are taken for abandoned: its table calls must end well before. */
  readonly staleAfterMs: number;
}

/**
 * Creates the ingest port: the deployed consumer and the local stack store every batch through it, and the
 * local stack's listeners (its activity feed, the user's reaction) hear of first inserts through `onStored`.
 * @example
 * const ingest = createIngest({ writer, counters, onStored: ({ inserted }) => feed.add(inserted) });
 * const outcomes = await ingest.store(messages);
 */
export function createIngest(options: IngestOptions): Ingest {
  const { writer, counters, onStored, beforeWrite, logger, clock = counters.clock } = options;
  const store = async (messages: readonly QueueMessage[], storeOptions?: StoreOptions) => {
    const written = await storeBatchWrites(writer, counters, messages, storeOptions, beforeWrite, clock);
    if (onStored) await tell(onStored, written, logger);
    return written.outcomes;
  };
  return { store, staleAfterMs: counters.staleAfterMs };
}

/** Tells the listener what a batch stored; a listener's throw never reaches the batch. */
async function tell(
  onStored: NonNullable<IngestOptions['onStored']>,
  { messages, outcomes, writes }: BatchWrites,
  logger: Logger | undefined,
) {
  const inserted = messages.flatMap((message, index) =>
    writes[index] === 'stored' ? [{ index, message }] : [],
  );
  try {
    await onStored({ inserted, messages, outcomes, writes });
  } catch (error) {
    logger?.error('a listener of stored batches failed', { error });
  }
}
