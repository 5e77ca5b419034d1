import middy, { type MiddlewareObj } from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import * as v from 'valibot';
import { WebhookError } from '../../lib/errors';
import { type QueueMessage, QueueMessageSchema } from '../../lib/events/event-record';
import { createIngest, type Ingest, type IngestOptions } from '../../lib/ingest/ingest';
import type { Logger } from '../../lib/log';
import { METRIC, type MetricsSink } from '../../lib/metrics';

/**
 * What the process flow needs: the ingest port it stores batches through ({@link createIngest}), or the writer
 * and counters to build one without listeners.
 */
export type ProcessWebhookDeps = ConsumerDeps &
  ({ ingest: Ingest } | Pick<IngestOptions, 'writer' | 'counters'>);

interface ConsumerDeps {
  logger: Logger;
  metrics?: MetricsSink;
  /** Where a message the consumer can never read goes at once; without it, it waits for `maxReceiveCount`. */
  deadLetters?: { send(body: string, reason: string): Promise<void> };
}

/** What one batch did, for logs and metrics. */
export interface BatchSummary {
  stored: number;
  duplicates: number;
  quarantined: number;
  failed: number;
}

/** A queue message this consumer cannot read; retried, then left in the DLQ for a look. */
export class UnreadableMessageError extends WebhookError {}

/**
 * @throws {UnreadableMessageError} naming no content: parser messages quote the values they saw.
 */
function parseMessage(body: string): QueueMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new UnreadableMessageError('the message body is not JSON');
  }
  const result = v.safeParse(QueueMessageSchema, json);
  if (!result.success) throw new UnreadableMessageError('the message is not a campaign-inbox queue message');
  return result.output;
}

/**
 * Builds the process flow: the SQS batch → one conditional put per record plus exact campaign counters. A
 * duplicate counts as success; a message that fails (unreadable, or DynamoDB refused a write) is reported in
 * `batchItemFailures` so SQS redelivers only that one, and after `maxReceiveCount` moves it to the DLQ.
 */
export function createProcessWebhook(deps: ProcessWebhookDeps) {
  const ingest = 'ingest' in deps ? deps.ingest : createIngest(deps);
  return async function processWebhook(event: SQSEvent, context?: Context): Promise<SQSBatchResponse> {
    const summary: BatchSummary = { stored: 0, duplicates: 0, quarantined: 0, failed: 0 };
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    const fail = (messageId: string, error: unknown) => {
      summary.failed++;
      batchItemFailures.push({ itemIdentifier: messageId });
      deps.logger.error('store failed', { messageId, error });
    };
    // An unreadable message fails the same way every time: straight to the DLQ with the reason, when there is
    // one to send to; if that fails too, SQS retries it and moves it after maxReceiveCount receives.
    const deadLetter = async (messageId: string, body: string, error: unknown) => {
      if (!deps.deadLetters) return fail(messageId, error);
      try {
        await deps.deadLetters.send(body, error instanceof Error ? error.message : String(error));
        summary.failed++;
        deps.logger.error('unreadable message sent to the dead-letter queue', { messageId, error });
      } catch (sendError) {
        fail(messageId, sendError);
      }
    };

    const readable: { messageId: string; message: QueueMessage }[] = [];
    for (const record of event.Records) {
      try {
        readable.push({ messageId: record.messageId, message: parseMessage(record.body) });
      } catch (error) {
        await deadLetter(record.messageId, record.body, error);
      }
    }
    const outcomes = await ingest.store(
      readable.map((entry) => entry.message),
      { deadline: batchDeadline(ingest.staleAfterMs, context) },
    );
    outcomes.forEach((result, i) => {
      const entry = readable[i];
      if (!entry) return;
      if (!result.ok) fail(entry.messageId, result.error);
      else if (result.outcome === 'duplicate') summary.duplicates++;
      else if (entry.message.kind === 'quarantine') summary.quarantined++;
      else summary.stored++;
    });

    if (deps.metrics) {
      deps.metrics.count(METRIC.stored, summary.stored + summary.quarantined);
      deps.metrics.count(METRIC.duplicates, summary.duplicates);
      deps.metrics.count(METRIC.processingFailures, summary.failed);
    }
    // Failures are logged one by one above; the rest is in the metrics, so a healthy batch logs nothing at INFO.
    deps.logger.debug('batch processed', { size: event.Records.length, ...summary });
    return { batchItemFailures };
  };
}

/** Time kept after the batch's table calls, to report its failures before the function times out. */
const REPORT_MARGIN_MS = 3_000;

/**
 * When a batch's table calls must be over: before the function times out (a call cut by the timeout would end
 * in doubt with nobody to report it), and before half the claims' staleness in any case.
 */
export function batchDeadline(
  staleAfterMs: number,
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
): number {
  const now = Date.now();
  const limit = now + staleAfterMs / 2;
  const remaining = context?.getRemainingTimeInMillis?.();
  return remaining === undefined ? limit : Math.min(limit, now + Math.max(0, remaining - REPORT_MARGIN_MS));
}

/** The process flow wrapped with middy and `middlewares`, in the order given (the metrics flush first). */
export function createProcessHandler(
  deps: ProcessWebhookDeps,
  ...middlewares: MiddlewareObj<SQSEvent, SQSBatchResponse, Error, Context>[]
) {
  const handler = middy<SQSEvent, SQSBatchResponse, Error, Context>(createProcessWebhook(deps));
  for (const middleware of middlewares) handler.use(middleware);
  return handler;
}
