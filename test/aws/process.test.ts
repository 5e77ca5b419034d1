/**
 * The synthesized process and repair bundles against moto's DynamoDB and SQS, each with its own role's
 * permissions: deliveries the receive bundle queued in moto are stored once, counted exactly, and a batch whose
 * updates were refused leaves an open journal entry that the repair bundle counts from the batch's own writes.
 */
import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignStats } from '../../lib/queries/campaign-stats';
import { COUNTED_ATTRIBUTE, devicePartitionKey, RECORDS_TABLE } from '../../lib/table/records-table';
import { soriPayload } from '../support/deliveries';
import { uniqueName } from '../support/local-aws';
import { invokeBundleWith } from './support/invoke';
import { moto } from './support/moto';
import { queued } from './support/pipeline';
import { motoPolicy } from './support/policy';
import type { SeenCall } from './support/proxy';
import { drain } from './support/queues';
import { type Deployment, deployToMoto, type FunctionName } from './support/stack';

let stack: Deployment;
beforeAll(async () => {
  stack = await deployToMoto();
});
afterAll(() => stack?.close());

/** SORI clicks of one campaign and its devices (both new to the table), one activity each. */
function clicks(devices: string[]) {
  const campaign = uniqueName('cmp');
  const bodies = devices.map((device, i) =>
    JSON.stringify({
      ...soriPayload('click'),
      activity_id: `act_${campaign}_${i}`,
      device_id: `${device}_${campaign}`,
      campaign: { id: campaign, name: 'Conformance' },
    }),
  );
  return { campaign, bodies };
}

/** Runs a bundle with its role's key and the template's environment; what it returned, and its calls. */
async function run(name: FunctionName, event: unknown, env: Record<string, string> = {}) {
  const seen = stack.proxy.calls.length;
  const result = await invokeBundleWith(stack.functions[name].file, stack.functions[name].env(env), event);
  const calls = stack.proxy.calls.slice(seen);
  for (const call of calls) expect(call.accessKeyId).toBe(stack.functions[name].key.accessKeyId);
  return { result, calls };
}

const batch = (messages: string[]) => ({
  Records: messages.map((body, i) => ({ messageId: `m${i}`, body, eventSource: 'aws:sqs' })),
});

const refused = (calls: SeenCall[]) => calls.filter((call) => /AccessDenied|Signature/.test(call.code ?? ''));

/** The campaign's stored events and device markers, read from moto by the administrator. */
async function stored(campaign: string) {
  const items: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await moto().dynamodb.send(
      new ScanCommand({ TableName: stack.names.tableName, ConsistentRead: true, ExclusiveStartKey: start }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  const events = items.filter((item) => item.kind?.S === 'event' && item.campaign_id?.S === campaign);
  const devices = new Set(events.map((item) => devicePartitionKey('sori', item.device_id?.S ?? '')));
  const markers = items.filter(
    (item) => item.kind?.S === 'device' && devices.has(item.pk?.S ?? '') && item[COUNTED_ATTRIBUTE],
  );
  return { events, markers };
}

const stats = (campaign: string) =>
  new CampaignStats(moto().dynamodb, stack.names.tableName).campaignStats('sori', campaign);

describe('the process and repair bundles against moto', () => {
  it('store each delivery once and count first inserts only: a delivery sent twice and a redelivered batch add nothing, and the counters equal the records', async () => {
    const { campaign, bodies } = clicks(['device_a', 'device_b', 'device_a']);
    const messages = await queued(stack, [...bodies, bodies[0] ?? '']);
    for (const attempt of [1, 2]) {
      const { result, calls } = await run('process', batch(messages));
      expect(result, `attempt ${attempt}`).toEqual({ batchItemFailures: [] });
      expect(refused(calls)).toEqual([]);
      expect(calls.every((call) => call.by === 'moto')).toBe(true);
    }
    const { events, markers } = await stored(campaign);
    expect(events).toHaveLength(3);
    // Each record expires with its retention, counted from when it was received.
    for (const event of events) {
      const receivedAt = Math.floor(Date.parse(event.received_at?.S ?? '') / 1000);
      expect(Number(event.expires_at?.N)).toBe(receivedAt + 365 * 86_400);
    }
    expect(markers).toHaveLength(2);
    const day = events[0]?.created_at?.S?.slice(0, 10);
    // The scheduled repair's pass, with its own user: it folds the batches' counts into the counter items.
    const { result, calls } = await run('repair', {});
    expect(refused(calls)).toEqual([]);
    expect(result).toMatchObject({ failed: 0, folded: 2 });
    expect(await stats(campaign)).toEqual([expect.objectContaining({ day, clicks: 3, unique_devices: 2 })]);
  });

  it('send an unreadable message to the DLQ at once, its reason as a message attribute, signed by the process role', async () => {
    const { result, calls } = await run('process', batch(['not json \u0001 é']));
    expect(result).toEqual({ batchItemFailures: [] });
    expect(calls.map((c) => [c.service, c.action, c.status, c.by])).toEqual([
      ['sqs', 'SendMessage', 200, 'moto'],
    ]);
    const [dead, ...more] = await drain(stack.names.dlqUrl);
    expect(more).toEqual([]);
    expect(dead?.Body).toBe('not json \u0001 é');
    expect(dead?.MessageAttributes?.reason).toMatchObject({
      DataType: 'String',
      StringValue: 'the message body is not JSON',
    });
  });

  it('a batch whose updates moto refuses after its journal entry and records leaves the counts to the repair bundle, which counts the batch from its own writes with its own role', async () => {
    const { campaign, bodies } = clicks(['device_a', 'device_b', 'device_a']);
    const messages = await queued(stack, bodies);
    const processUser = stack.functions.process;
    // The batch's first update (a device marker's flag, after its journal entry and its records were put) waits
    // until the process user's policy denies every update; moto then refuses it and each one after, the close
    // of the journal entry included: what a batch killed after storing its records leaves (an open entry,
    // records, no markers, no counts), the refusals coming from moto's IAM.
    let denied: Promise<void> | undefined;
    stack.proxy.before = (call) => {
      if (call.accessKeyId !== processUser.key.accessKeyId || call.action !== 'UpdateItem') return;
      denied ??= moto().putPolicy(processUser.user, {
        ...motoPolicy(processUser.statements),
        Statement: [
          ...motoPolicy(processUser.statements).Statement,
          { Effect: 'Deny', Action: 'dynamodb:UpdateItem', Resource: '*' },
        ],
      });
      return denied;
    };
    try {
      const { result, calls } = await run('process', batch(messages));
      expect((result as { batchItemFailures: unknown[] }).batchItemFailures).toHaveLength(3);
      const updates = calls.filter((call) => call.action === 'UpdateItem');
      const puts = calls.filter((call) => call.action === 'PutItem');
      expect(puts.map((call) => call.status)).toEqual([200, 200, 200, 200]);
      expect(refused(calls)).toEqual(updates);
      expect(refused(calls).length).toBeGreaterThan(0);
      expect(new Set(refused(calls).map((call) => `${call.status} ${call.code} ${call.by}`))).toEqual(
        new Set(['403 AccessDenied moto']),
      );
    } finally {
      stack.proxy.before = undefined;
      await moto().putPolicy(processUser.user, motoPolicy(processUser.statements));
    }
    const { events } = await stored(campaign);
    expect(events).toHaveLength(3);
    expect(await stats(campaign)).toEqual([]);

    // The repair, with its template's environment and its own user; its batches' staleness lowered to 1 s so
    // the entry left open above is stale without waiting the deployed minute.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const { result, calls } = await run('repair', {}, { COUNTER_STALE_SECONDS: '1' });
    expect(refused(calls)).toEqual([]);
    expect(result).toMatchObject({ recounted: 1, failed: 0, folded: 1, written: 1 });
    // Every call it made was moto's to answer, the query of the earlier protocol's repair list on its index
    // included.
    expect(calls.every((call) => call.by === 'moto')).toBe(true);
    expect(
      calls.some(
        (call) => call.action === 'Query' && call.input.IndexName === RECORDS_TABLE.indexes.byDevice.name,
      ),
    ).toBe(true);
    const after = await stored(campaign);
    const day = after.events[0]?.created_at?.S?.slice(0, 10);
    expect(await stats(campaign)).toEqual([
      expect.objectContaining({
        day,
        clicks: after.events.length,
        unique_devices: new Set(after.events.map((item) => item.device_id?.S)).size,
      }),
    ]);
    expect(await stats(campaign)).toEqual([expect.objectContaining({ clicks: 3, unique_devices: 2 })]);
    expect(after.markers).toHaveLength(2);
  });
});
