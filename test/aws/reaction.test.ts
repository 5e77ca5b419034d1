/**
 * The reaction function (a user's `onEvent` module bundled into functions/on-event) fed from moto's DynamoDB
 * Streams as Lambda's event source mapping feeds it: the stream enabled on moto's table as the template enables
 * it, read with the reaction role's own key from the position the template's mapping starts at, the template's
 * filter applied, and the records that pass handed to the synthesized bundle in batches of the mapping's size.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invokeBundleWith } from './support/invoke';
import { processed, queued, soriEvents } from './support/pipeline';
import { resolveValue } from './support/policy';
import { type Deployment, deployToMoto, REACTION } from './support/stack';
import { passesFilters } from './support/stream-filter';
import { type StreamRecord, streamsClient } from './support/streams';

const ON_EVENT = {
  module: join(import.meta.dirname, 'support/reaction-module.ts'),
  events: ['campaign.click'],
  providers: ['sori'],
};

let stack: Deployment;
beforeAll(async () => {
  stack = await deployToMoto(ON_EVENT);
});
afterAll(() => stack?.close());

/** The template's event source mapping of the reaction function. */
function reactionMapping() {
  const mappings = Object.values(stack.resources).filter(
    (resource) =>
      resource.Type === 'AWS::Lambda::EventSourceMapping' &&
      String((resource.Properties.FunctionName as { Ref?: string }).Ref).startsWith(REACTION),
  );
  expect(mappings).toHaveLength(1);
  const properties = mappings[0]?.Properties as {
    EventSourceArn: unknown;
    StartingPosition: 'LATEST' | 'TRIM_HORIZON';
    BatchSize: number;
    FilterCriteria?: { Filters: { Pattern: string }[] };
  };
  return { ...properties, streamArn: resolveValue(properties.EventSourceArn, stack.physical) };
}

const kind = (record: StreamRecord) => record.dynamodb.NewImage?.kind?.S;
const recordId = (record: StreamRecord) => record.dynamodb.NewImage?.id?.S;

describe("the reaction function fed from moto's DynamoDB Streams", () => {
  it("hands the user's module each first insert of the chosen events once: a delivery sent twice, a redelivered batch and other event types never reach it", async () => {
    const reaction = stack.reaction;
    if (!reaction) throw new Error('the stack was synthesized without its reaction function');
    const mapping = reactionMapping();
    expect(mapping.streamArn).toMatch(/^arn:aws:dynamodb:.*:table\/records-[^/]+\/stream\//);
    expect(mapping.FilterCriteria?.Filters.length).toBeGreaterThan(0);

    // The mapping reads the stream with the function's role; it starts where the template says (LATEST: what is
    // written once it exists).
    const streams = streamsClient(stack.proxy.endpoint, reaction.key);
    const seen = stack.proxy.calls.length;
    const start = await streams.iterator(mapping.streamArn, mapping.StartingPosition);

    const clicks = soriEvents(['device_a', 'device_b', 'device_a']);
    const impression = soriEvents(['device_c'], 'campaign.impression');
    const messages = await queued(stack, [...clicks.bodies, clicks.bodies[0] ?? '', ...impression.bodies]);
    // The batch, and the same batch delivered again.
    await processed(stack, messages);
    await processed(stack, messages);

    const { records } = await streams.readAll(start);
    const streamCalls = stack.proxy.calls
      .slice(seen)
      .filter((call) => call.accessKeyId === reaction.key.accessKeyId);
    expect(streamCalls.map((call) => call.action)).toEqual(
      expect.arrayContaining(['DescribeStream', 'GetShardIterator', 'GetRecords']),
    );
    expect(streamCalls.every((call) => call.status === 200 && call.by === 'moto')).toBe(true);

    // In the stream: each event stored once, as an INSERT; the duplicate and the redelivery wrote nothing.
    const events = records.filter((record) => kind(record) === 'event');
    expect(events.map((record) => record.eventName)).toEqual(['INSERT', 'INSERT', 'INSERT', 'INSERT']);
    expect(new Set(events.map(recordId)).size).toBe(4);
    // The table's other writes (device markers, counters, claims) are in the stream too, for the filter to drop.
    expect(records.length).toBeGreaterThan(events.length);

    // Lambda applies the mapping's filter, then hands the function batches of at most its batch size, each
    // record naming the stream it came from.
    const passed = records.filter((record) => passesFilters(mapping.FilterCriteria?.Filters, record));
    const out = join(await mkdtemp(join(tmpdir(), 'reaction-')), 'events.jsonl');
    for (let i = 0; i < passed.length; i += mapping.BatchSize) {
      const batch = passed
        .slice(i, i + mapping.BatchSize)
        .map((record) => ({ ...record, eventSourceARN: mapping.streamArn }));
      const result = await invokeBundleWith(reaction.file, reaction.env({ REACTION_OUT: out }), {
        Records: batch,
      });
      expect(result).toEqual({ batchItemFailures: [] });
    }

    const reached = (await readFile(out, 'utf8'))
      .split('\n')
      .filter((line) => line !== '')
      .map(
        (line) => JSON.parse(line) as { id: string; event: string; campaign_id: string; device_id: string },
      );
    const clickIds = events
      .filter((record) => record.dynamodb.NewImage?.event?.S === 'campaign.click')
      .map(recordId);
    expect(clickIds).toHaveLength(3);
    expect(reached.map((event) => event.id).sort()).toEqual([...clickIds].sort());
    expect(reached.map((event) => [event.event, event.campaign_id])).toEqual(
      reached.map(() => ['campaign.click', clicks.campaign]),
    );
    expect(reached.map((event) => event.device_id).sort()).toEqual(
      [`device_a_${clicks.campaign}`, `device_a_${clicks.campaign}`, `device_b_${clicks.campaign}`].sort(),
    );
  });
});
