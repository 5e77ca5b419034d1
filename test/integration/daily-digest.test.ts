/**
 * The digest function's flow against the run's local servers: a day of SORI deliveries stored through the
 * consumer's path (a duplicate and a quarantined one among them) in the local DynamoDB-API server, the digest
 * read by the dashboard's reader and published with the SNS SDK client to a topic of the local SQS/SNS server,
 * whose SQS subscription the test reads. The local server delivers a message's JSON whole (it does not pick a
 * body per protocol, as SNS does for `MessageStructure: json`), so the test reads the `default` body from it.
 */
import { CreateTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createDailyDigest, DigestRequestError } from '../../functions/daily-digest/daily-digest';
import { sori } from '../../lib/providers/sori';
import { DashboardReader } from '../../lib/queries/dashboard';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { readProviderDays } from '../../lib/table/provider-days';
import { DEFAULT_LAYOUT } from '../../lib/table/records-table';
import { localClientConfig } from '../../local/local-stack';
import { soriPayload } from '../support/deliveries';
import { createTestTable, eventually, localClients, takeMessages, uniqueName } from '../support/local-aws';
import { storeAndFold } from '../support/store-and-fold';

const { dynamodb, sqs } = localClients();
const sns = new SNSClient(localClientConfig(inject('sqsEndpoint')));
const DAY = '2026-03-01';
const NEXT_MORNING = new Date('2026-03-02T01:00:00Z');

/** One SORI delivery received on {@link DAY}, as the receive function queues it. */
const delivery = (
  event: 'impression' | 'click' | 'view',
  activity: string,
  device: string,
  campaign: string,
) =>
  buildQueueMessage(
    sori,
    Buffer.from(
      JSON.stringify({
        ...soriPayload(event === 'click' ? 'click' : 'impression'),
        event: `campaign.${event}`,
        activity_id: activity,
        device_id: device,
        created_at: `${DAY}T10:00:00.000Z`,
        campaign: { id: campaign, name: `Campaign ${campaign}` },
      }),
    ),
    `${DAY}T10:00:01.000Z`,
  );

let tableName: string;
let queueUrl: string;
let topicArn: string;

beforeAll(async () => {
  const table = await createTestTable(dynamodb);
  tableName = table.tableName;
  // cmp_a: three impressions of two devices and a click; cmp_b: one impression; then the first impression
  // again (a sender's retry) and a delivery of an event SORI's normalizer does not know (quarantined).
  await storeAndFold(table.writer, table.counters, [
    delivery('impression', 'act_1', 'dev_0', 'cmp_a'),
    delivery('impression', 'act_2', 'dev_1', 'cmp_a'),
    delivery('impression', 'act_3', 'dev_0', 'cmp_a'),
    delivery('click', 'act_4', 'dev_0', 'cmp_a'),
    delivery('impression', 'act_5', 'dev_2', 'cmp_b'),
  ]);
  const quarantined = delivery('view', 'act_6', 'dev_3', 'cmp_a');
  expect(quarantined.kind).toBe('quarantine');
  await storeAndFold(table.writer, table.counters, [
    delivery('impression', 'act_1', 'dev_0', 'cmp_a'),
    quarantined,
  ]);

  const topic = await sns.send(new CreateTopicCommand({ Name: uniqueName('alarms') }));
  topicArn = topic.TopicArn as string;
  const queue = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('alarm-mail') }));
  queueUrl = queue.QueueUrl as string;
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  await sns.send(
    new SubscribeCommand({
      TopicArn: topicArn,
      Protocol: 'sqs',
      Endpoint: Attributes?.QueueArn,
      Attributes: { RawMessageDelivery: 'true' },
    }),
  );
});

const digest = () =>
  createDailyDigest({
    reader: new DashboardReader(dynamodb, tableName, DEFAULT_LAYOUT),
    publish: (input) => sns.send(new PublishCommand(input)),
    topicArn,
    now: () => NEXT_MORNING,
  });

describe('the daily digest', () => {
  it("publishes yesterday's campaigns and delivery figures to the topic, equal to what was stored", async () => {
    const sent = await digest()();
    expect(sent).toMatchObject({ day: DAY, campaigns: 2 });
    expect(sent.messageId).toEqual(expect.any(String));

    const [body] = await eventually(async () => {
      const taken = await takeMessages(sqs, queueUrl);
      return taken.length > 0 ? taken : undefined;
    });
    const text = (JSON.parse(body as string) as { default: string }).default;
    expect(text).toContain(`campaign-inbox daily digest for ${DAY} (UTC)`);
    expect(text).toContain(
      `Campaigns on ${DAY} (UTC): 2 campaigns · 4 impressions · 1 click · CTR 25.00% · 3 unique devices`,
    );
    expect(text).toContain(
      ' 1. Campaign cmp_a (sori/cmp_a): 3 impressions, 1 click, CTR 33.33%, 2 unique devices',
    );
    expect(text).toContain(
      ' 2. Campaign cmp_b (sori/cmp_b): 1 impression, 0 clicks, CTR 0.00%, 1 unique device',
    );
    // Seven deliveries: five stored, the retry a duplicate, the unknown event quarantined; the provider-day
    // item the repair folded says the same.
    expect(text).toContain('Received 7 · stored 5 · duplicates 1 · quarantined 1');
    expect(text).toContain('sori: received 7, stored 5, duplicates 1, quarantined 1');
    const [stored] = await readProviderDays(dynamodb, tableName, 'sori', DAY, DAY);
    expect(stored).toMatchObject({ received: 7, stored: 5, duplicates: 1, quarantined: 1 });
    // No delivery health source: the figures it gives are unknown, not 0.
    expect(text).toContain('refused unknown · dead letters unknown');
  });

  it('sends the digest of the day a manual invocation names, and refuses a day that is not one', async () => {
    const earlier = await digest()({ day: '2026-02-28' });
    expect(earlier).toMatchObject({ day: '2026-02-28', campaigns: 0 });
    const [body] = await eventually(async () => {
      const taken = await takeMessages(sqs, queueUrl);
      return taken.length > 0 ? taken : undefined;
    });
    expect((JSON.parse(body as string) as { default: string }).default).toContain(
      'No campaign counted an impression or a click that day.',
    );
    await expect(digest()({ day: '2026-02-30' })).rejects.toBeInstanceOf(DigestRequestError);
    await expect(digest()({ day: 20260301 })).rejects.toThrow('"day" must be a UTC day');
  });
});
