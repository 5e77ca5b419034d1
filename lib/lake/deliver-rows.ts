import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { AwsJsonClient, type AwsJsonClientOptions } from '../aws/aws-json-client';
import { type LakeRow, lakeRowOfItem } from './lake-row';

/** One record of a DynamoDB stream batch, as Lambda hands it over (only what the lake reads of it). */
export interface StreamRecord {
  eventName?: string;
  dynamodb?: { NewImage?: Record<string, unknown>; SequenceNumber?: string };
}

/** What Firehose's `PutRecordBatch` answers: one response per record, in order, an error code for a refused one. */
export interface PutRecordBatchAnswer {
  FailedPutCount: number;
  RequestResponses: { RecordId?: string; ErrorCode?: string; ErrorMessage?: string }[];
}

/** Firehose's `PutRecordBatch`: the records' data base64-encoded. */
export type PutRecordBatch = (input: {
  DeliveryStreamName: string;
  Records: { Data: string }[];
}) => Promise<PutRecordBatchAnswer>;

/** Firehose takes at most 500 records in one `PutRecordBatch` call. */
export const MAX_RECORDS_PER_CALL = 500;
/** Firehose takes at most 4 MiB of records in one `PutRecordBatch` call. */
export const MAX_BYTES_PER_CALL = 4 * 1024 * 1024;

/** How a batch's delivery went: the sequence number the stream must resume from, when a row was not taken. */
export interface DeliveryOutcome {
  delivered: number;
  batchItemFailures: { itemIdentifier: string }[];
}

/**
 * The lake rows of a stream batch, in order, each with the sequence number of its stream record: new event items
 * only. The stream's filter already keeps only those; checking again costs nothing and keeps a wider filter
 * (or none) from putting counters, markers or updates into the lake.
 */
export function rowsOfStream(records: readonly StreamRecord[]): { row: LakeRow; sequence: string }[] {
  const rows: { row: LakeRow; sequence: string }[] = [];
  for (const record of records) {
    if (record.eventName !== 'INSERT') continue;
    const image = record.dynamodb?.NewImage as Record<string, AttributeValue> | undefined;
    const row = image ? lakeRowOfItem(image) : undefined;
    if (row) rows.push({ row, sequence: record.dynamodb?.SequenceNumber ?? '' });
  }
  return rows;
}

/** Splits encoded rows into calls within Firehose's per-call limits, keeping their order. */
export function callsOf<T extends { data: string }>(entries: readonly T[]): T[][] {
  const calls: T[][] = [];
  let call: T[] = [];
  let bytes = 0;
  for (const entry of entries) {
    // The limit counts the data before base64 (Firehose's own accounting), bounded here by its encoded length.
    const size = entry.data.length;
    if (call.length > 0 && (call.length === MAX_RECORDS_PER_CALL || bytes + size > MAX_BYTES_PER_CALL)) {
      calls.push(call);
      call = [];
      bytes = 0;
    }
    call.push(entry);
    bytes += size;
  }
  if (call.length > 0) calls.push(call);
  return calls;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends a stream batch's new events to the Firehose stream as lake rows, in order. A call's refused records
 * (throttled, or failed inside Firehose) are sent again, up to `attempts` times in all; records still refused
 * then make the stream retry the batch from the first of them, so every new event reaches the lake at least
 * once. A retried row arrives twice; the shipped queries count rows by record id, so it counts once.
 * @param attempts tries per call, the first included (default 4).
 * @returns the rows delivered, and the stream record to resume from when one was not; throws what a call threw
 *   (the whole batch is then retried).
 */
export async function deliverRows(
  records: readonly StreamRecord[],
  put: PutRecordBatch,
  deliveryStreamName: string,
  options: { attempts?: number; backoffMs?: number } = {},
): Promise<DeliveryOutcome> {
  const attempts = Math.max(1, options.attempts ?? 4);
  const backoffMs = options.backoffMs ?? 100;
  const entries = rowsOfStream(records).map(({ row, sequence }) => ({
    data: Buffer.from(JSON.stringify(row)).toString('base64'),
    sequence,
  }));
  let delivered = 0;
  for (const call of callsOf(entries)) {
    let pending = call;
    for (let attempt = 1; pending.length > 0 && attempt <= attempts; attempt++) {
      if (attempt > 1) await sleep(backoffMs * 2 ** (attempt - 2));
      const answer = await put({
        DeliveryStreamName: deliveryStreamName,
        Records: pending.map((entry) => ({ Data: entry.data })),
      });
      const refused = pending.filter((_, i) => answer.RequestResponses[i]?.ErrorCode !== undefined);
      // An answer without one response per record says nothing of those it leaves out: they are sent again.
      const unanswered = pending.slice(answer.RequestResponses.length);
      delivered += pending.length - refused.length - unanswered.length;
      pending = [...refused, ...unanswered];
    }
    const first = pending[0];
    if (first) return { delivered, batchItemFailures: [{ itemIdentifier: first.sequence }] };
  }
  return { delivered, batchItemFailures: [] };
}

/** Where Firehose is reached, the way the AWS SDK finds it (an endpoint set in the environment first). */
export function firehoseEndpoint(region: string, env: NodeJS.ProcessEnv = process.env): string {
  const override = env.AWS_ENDPOINT_URL_FIREHOSE ?? env.AWS_ENDPOINT_URL;
  if (override) return override;
  return `https://firehose.${region}.${region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com'}`;
}

/**
 * Firehose's `PutRecordBatch` over its JSON protocol (`Firehose_20150804.PutRecordBatch`,
 * `application/x-amz-json-1.1`). Only an answer with one response per record counts as an answer.
 */
export function firehosePutRecordBatch(
  region: string,
  tuning: Pick<AwsJsonClientOptions, 'maxAttempts' | 'timeoutMs' | 'transport' | 'credentials'> = {},
  env: NodeJS.ProcessEnv = process.env,
): PutRecordBatch {
  const client = new AwsJsonClient({
    service: 'firehose',
    region,
    endpoint: firehoseEndpoint(region, env),
    targetPrefix: 'Firehose_20150804',
    jsonVersion: '1.1',
    timeoutMs: 5_000,
    ...tuning,
  });
  return (input) =>
    client.call<PutRecordBatchAnswer>('PutRecordBatch', input, {
      accept: (answer) =>
        Array.isArray(answer.RequestResponses) && answer.RequestResponses.length === input.Records.length,
    });
}
