import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import * as v from 'valibot';
import type { Logger } from '../../lib/log';
import { METRIC, type MetricsSink } from '../../lib/metrics';
import type { QueueMessage } from '../../lib/records/event-record';
import { QueueMessageSchema } from '../../lib/records/event-record';
import type { StoreOutcome } from '../../lib/records/records-repository';

export interface ProcessWebhookDeps {
  records: { store(message: QueueMessage): Promise<StoreOutcome> };
  logger: Logger;
  metrics?: MetricsSink;
}

/** What one batch did, for logs and tests. */
export interface BatchSummary {
  stored: number;
  duplicates: number;
  quarantined: number;
  failed: number;
}

/**
 * Builds the process flow: each SQS message → one conditional put. A duplicate counts as success; a message
 * that fails (unreadable, or DynamoDB refused it) is reported in `batchItemFailures` so SQS redelivers only
 * that one, and after `maxReceiveCount` moves it to the DLQ.
 */
export function createProcessWebhook(deps: ProcessWebhookDeps) {
  return async function processWebhook(event: SQSEvent): Promise<SQSBatchResponse> {
    const summary: BatchSummary = { stored: 0, duplicates: 0, quarantined: 0, failed: 0 };
    const outcomes = await Promise.allSettled(event.Records.map((record) => storeRecord(record)));
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    outcomes.forEach((outcome, i) => {
      const record = event.Records[i] as SQSRecord;
      if (outcome.status === 'rejected') {
        summary.failed++;
        batchItemFailures.push({ itemIdentifier: record.messageId });
        deps.logger.error('store failed', { messageId: record.messageId, error: outcome.reason });
        return;
      }
      const { kind, result } = outcome.value;
      if (result === 'duplicate') summary.duplicates++;
      else if (kind === 'quarantine') summary.quarantined++;
      else summary.stored++;
    });
    const metrics = deps.metrics;
    if (metrics) {
      metrics.count(METRIC.stored, summary.stored + summary.quarantined);
      metrics.count(METRIC.duplicates, summary.duplicates);
      metrics.count(METRIC.processingFailures, summary.failed);
    }
    deps.logger.info('batch processed', { size: event.Records.length, ...summary });
    return { batchItemFailures };
  };

  async function storeRecord(record: SQSRecord) {
    const message = v.parse(QueueMessageSchema, JSON.parse(record.body));
    const result = await deps.records.store(message);
    return { kind: message.kind, result };
  }
}

/** The process flow wrapped with middy (cross-cutting middleware attaches here). */
export function createProcessHandler(deps: ProcessWebhookDeps) {
  return middy<SQSEvent, SQSBatchResponse, Error, Context>(createProcessWebhook(deps));
}
