import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  callsOf,
  deliverRows,
  firehoseEndpoint,
  MAX_BYTES_PER_CALL,
  MAX_RECORDS_PER_CALL,
  type PutRecordBatch,
  type PutRecordBatchAnswer,
  rowsOfStream,
  type StreamRecord,
} from '../../lib/lake/deliver-rows';
import { lakeRowOf } from '../../lib/lake/lake-row';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { deviceMarkerItem, toItem } from '../../lib/table/records-table';
import { soriPayload } from '../support/deliveries';

const RECEIVED = '2025-10-14T12:00:00.000Z';

/** A stored SORI impression's item and record, distinct per `i`. */
function stored(i: number) {
  const message = buildQueueMessage(
    sori,
    Buffer.from(
      JSON.stringify({ ...soriPayload('impression'), activity_id: `act_${i}`, device_id: `d_${i}` }),
    ),
    RECEIVED,
  );
  if (message.kind !== 'event') throw new Error('not an event');
  return { item: toItem(message), record: message.record };
}

const streamRecord = (
  eventName: string,
  image: Record<string, AttributeValue>,
  sequence: string,
): StreamRecord => ({ eventName, dynamodb: { NewImage: image, SequenceNumber: sequence } });

const rowIn = (record: { Data: string }) => JSON.parse(Buffer.from(record.Data, 'base64').toString());

/**
 * Firehose as its API answers, recording each call; `refuse` says which records it refuses (by their row and
 * the call's number).
 */
function firehose(refuse: (row: { activity_id: string }, call: number) => boolean = () => false) {
  const calls: { Data: string }[][] = [];
  const put: PutRecordBatch = async (input) => {
    const call = calls.push(input.Records) - 1;
    const responses = input.Records.map((record) =>
      refuse(rowIn(record), call)
        ? { ErrorCode: 'ServiceUnavailableException', ErrorMessage: 'slow down' }
        : { RecordId: 'r' },
    );
    return {
      FailedPutCount: responses.filter((r) => 'ErrorCode' in r).length,
      RequestResponses: responses,
    } satisfies PutRecordBatchAnswer;
  };
  const decoded = (call: number) => (calls[call] ?? []).map(rowIn);
  return { put, calls, decoded };
}

describe('the lake stream transform', () => {
  it('sends one row per new event item, in order, and nothing for updates, removals or other items', async () => {
    const [a, b] = [stored(1), stored(2)];
    const marker = deviceMarkerItem(a.record, { shards: 1, retentionDays: null }) ?? {};
    const records = [
      streamRecord('INSERT', a.item, '1'),
      streamRecord('MODIFY', a.item, '2'),
      streamRecord('INSERT', marker, '3'),
      streamRecord('REMOVE', b.item, '4'),
      streamRecord('INSERT', b.item, '5'),
    ];
    const { put, decoded } = firehose();
    const outcome = await deliverRows(records, put, 'lake');
    expect(outcome).toEqual({ delivered: 2, batchItemFailures: [] });
    expect(decoded(0)).toEqual([lakeRowOf(a.record), lakeRowOf(b.record)]);
    expect(rowsOfStream(records).map((r) => r.sequence)).toEqual(['1', '5']);
  });

  it('sends again only the records Firehose refused, until it takes them', async () => {
    const events = [stored(1), stored(2), stored(3)];
    const { put, calls, decoded } = firehose((row, call) => call === 0 && row.activity_id === 'act_2');
    const outcome = await deliverRows(
      events.map((e, i) => streamRecord('INSERT', e.item, String(i))),
      put,
      'lake',
      { backoffMs: 1 },
    );
    expect(outcome).toEqual({ delivered: 3, batchItemFailures: [] });
    expect(calls.map((call) => call.length)).toEqual([3, 1]);
    expect(decoded(1)).toEqual([lakeRowOf(events[1]?.record ?? stored(0).record)]);
  });

  it('has the stream retry from the first record Firehose kept refusing, having sent none after its call', async () => {
    const events = Array.from({ length: MAX_RECORDS_PER_CALL + 2 }, (_, i) => stored(i));
    // Records 7 and 9 of the first call are refused every time; the second call is never made.
    const { put, calls } = firehose((row) => ['act_7', 'act_9'].includes(row.activity_id));
    const outcome = await deliverRows(
      events.map((e, i) => streamRecord('INSERT', e.item, `seq-${i}`)),
      put,
      'lake',
      { attempts: 3, backoffMs: 1 },
    );
    expect(outcome.batchItemFailures).toEqual([{ itemIdentifier: 'seq-7' }]);
    expect(outcome.delivered).toBe(MAX_RECORDS_PER_CALL - 2);
    expect(calls.map((call) => call.length)).toEqual([MAX_RECORDS_PER_CALL, 2, 2]);
  });

  it('throws what a call throws, so the stream retries the whole batch', async () => {
    const put: PutRecordBatch = async () => {
      throw new Error('unreachable');
    };
    await expect(deliverRows([streamRecord('INSERT', stored(1).item, '1')], put, 'lake')).rejects.toThrow(
      'unreachable',
    );
  });

  it("splits rows into calls within Firehose's limits: 500 records, 4 MiB", () => {
    const small = Array.from({ length: 1001 }, () => ({ data: 'x' }));
    expect(callsOf(small).map((call) => call.length)).toEqual([500, 500, 1]);
    const big = Array.from({ length: 5 }, () => ({ data: 'x'.repeat(MAX_BYTES_PER_CALL / 2 - 1) }));
    expect(callsOf(big).map((call) => call.length)).toEqual([2, 2, 1]);
  });

  it('reaches Firehose where the environment says, else at its regional endpoint', () => {
    expect(firehoseEndpoint('eu-west-1', {})).toBe('https://firehose.eu-west-1.amazonaws.com');
    expect(firehoseEndpoint('cn-north-1', {})).toBe('https://firehose.cn-north-1.amazonaws.com.cn');
    expect(firehoseEndpoint('eu-west-1', { AWS_ENDPOINT_URL_FIREHOSE: 'http://127.0.0.1:5000' })).toBe(
      'http://127.0.0.1:5000',
    );
  });
});
