/**
 * `events reprocess` stores a quarantined delivery after a provider fix. That is not a new delivery: the
 * provider-day's `received` must still count the one delivery the webhook received that day. Against the local
 * DynamoDB-API server; the provider fix is made in the test, as test/integration/reprocess.test.ts makes it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { reprocessQuarantine } from '../../lib/ingest/reprocess';
import { storeBatch } from '../../lib/ingest/store-batch';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { readProviderDays } from '../../lib/table/provider-days';
import { soriPayload } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';

const { dynamodb } = localClients();
const original = sori.interpret;
const RECEIVED_ON = '2026-11-22';

afterEach(() => {
  Object.assign(sori, { interpret: original });
});

describe('delivery figures after events reprocess', () => {
  it('count a quarantined delivery stored by reprocess once as received, and once as stored', async () => {
    const table = await createTestTable(dynamodb);
    const body = Buffer.from(
      JSON.stringify({ ...soriPayload('impression'), event: 'campaign.view', activity_id: 'act_view_1' }),
    );
    const quarantined = buildQueueMessage(sori, body, `${RECEIVED_ON}T10:00:00.000Z`);
    expect(quarantined.kind).toBe('quarantine');
    await storeBatch(table.writer, table.counters, [quarantined]);
    await table.counters.repair();
    expect(
      (await readProviderDays(dynamodb, table.tableName, 'sori', RECEIVED_ON, RECEIVED_ON))[0],
    ).toMatchObject({
      received: 1,
      quarantined: 1,
    });

    // The provider's code learns `campaign.view`; the operator reprocesses the quarantine.
    Object.assign(sori, {
      interpret: (payload: unknown, receivedAt: string) =>
        original({ ...(payload as object), event: 'campaign.impression' }, receivedAt),
    });
    expect(await reprocessQuarantine({ client: dynamodb, ...table }, {})).toEqual([
      expect.objectContaining({ result: 'stored' }),
    ]);
    await table.counters.repair();

    const [day] = await readProviderDays(dynamodb, table.tableName, 'sori', RECEIVED_ON, RECEIVED_ON);
    expect(day).toMatchObject({ received: 1, stored: 1 });
  });
});
