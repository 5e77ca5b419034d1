/**
 * The local destinations' EventBridge bus against moto: first inserts stored in a records table in moto through
 * the ingest port, with `DESTINATIONS`' `eventBridge` listening, put on a bus of moto's by a user whose IAM
 * policy allows `events:PutEvents` only, every call signed by the project's own JSON client and verified by
 * moto. A rule on the bus sends what it matches to a queue, where the test reads the events as a target receives
 * them.
 */
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { insertPattern } from '../../infra/constructs/event-destinations';
import { EVENT_SOURCE } from '../../lib/destinations/eventbridge';
import type { QueueMessage } from '../../lib/events/event-record';
import { CampaignCounters } from '../../lib/ingest/campaign-counters';
import { EventWriter } from '../../lib/ingest/event-writer';
import { createIngest } from '../../lib/ingest/ingest';
import { createLogger } from '../../lib/log';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { DEFAULT_LAYOUT, deviceMarkerItem, toItem } from '../../lib/table/records-table';
import { ensureRecordsTable } from '../../local/create-records-table';
import { openDestinations } from '../../local/destinations';
import { soriPayload } from '../support/deliveries';
import { uniqueName } from '../support/local-aws';
import { busToQueue, events } from './support/event-bus';
import { MOTO_REGION } from './support/iam';
import { moto } from './support/moto';
import { drain } from './support/queues';

/** `count` distinct SORI events, clicks and impressions in turn. */
function makeMessages(count: number): QueueMessage[] {
  return Array.from({ length: count }, (_, i) => {
    const body = JSON.stringify({
      ...soriPayload('impression'),
      event: i % 2 === 0 ? 'campaign.click' : 'campaign.impression',
      activity_id: `act_${uniqueName('bus')}_${i}`,
      created_at: new Date().toISOString(),
    });
    return buildQueueMessage(sori, Buffer.from(body), new Date().toISOString());
  });
}

describe('local destinations: an EventBridge bus (moto)', () => {
  it('puts each first insert of the chosen type on the bus once, as the documented bus event with its record id, duplicates and other types left out', async () => {
    const { endpoint, dynamodb } = moto();
    const tableName = uniqueName('records');
    await ensureRecordsTable(dynamodb, tableName);
    const { bus, queueUrl } = await busToQueue();
    const key = await moto().createUser(uniqueName('publisher'), {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['events:PutEvents'], Resource: ['*'] }],
    });
    const destinations = await openDestinations(
      { eventBridge: { busName: bus, types: ['campaign.click'] } },
      {
        dynamodb,
        tableName,
        layout: DEFAULT_LAYOUT,
        logger: createLogger('destinations-test', 'error'),
        region: MOTO_REGION,
        env: {
          AWS_ENDPOINT_URL_EVENTBRIDGE: endpoint,
          AWS_ACCESS_KEY_ID: key.accessKeyId,
          AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
        },
      },
    );
    const ingest = createIngest({
      writer: new EventWriter(dynamodb, tableName, DEFAULT_LAYOUT),
      counters: new CampaignCounters(dynamodb, tableName, DEFAULT_LAYOUT),
      beforeWrite: destinations.beforeWrite,
      onStored: destinations.onStored,
    });
    const messages = makeMessages(10);
    await ingest.store(messages);
    // Every delivery again, as SQS redelivers: duplicates, never published.
    await ingest.store(structuredClone(messages));
    await destinations.close(Date.now() + 30_000);

    const received = (await drain(queueUrl)).map(
      (message) =>
        JSON.parse(message.Body ?? '{}') as {
          source: string;
          'detail-type': string;
          time: string;
          detail: {
            record_id: string;
            origin: string;
            record: { id: string; event: string; created_at: string };
          };
        },
    );
    const clicks = messages
      .filter((message) => message.kind === 'event' && message.record.event === 'campaign.click')
      .map((message) => message.record.id)
      .sort();
    expect(received.map((event) => event.detail.record_id).sort()).toEqual(clicks);
    for (const event of received) {
      expect(event.source).toBe(EVENT_SOURCE);
      expect(event['detail-type']).toBe('campaign.click');
      expect(event.detail.origin).toBe('insert');
      expect(event.detail.record.id).toBe(event.detail.record_id);
      expect(Date.parse(event.time)).toBe(
        Math.floor(Date.parse(event.detail.record.created_at) / 1000) * 1000,
      );
    }
  });
});

describe("the pipes' stream filter, as EventBridge's own pattern matching reads it (moto)", () => {
  it('keeps the INSERTs of event items of the chosen providers and types only: no update, removal, counter, marker or quarantined delivery', async () => {
    const { sqs } = moto();
    const { bus, queueUrl } = await busToQueue();
    const source = uniqueName('stream');
    // The pipe's filter under `detail`: a stream record put as an event's detail matches the rule when it would
    // pass the pipe's filter (both read EventBridge's pattern language).
    await events().call('PutRule', {
      Name: uniqueName('filter'),
      EventBusName: bus,
      EventPattern: JSON.stringify({
        source: [source],
        detail: insertPattern({ providers: ['sori'], types: ['campaign.click'] }),
      }),
    });
    const rules = (await events().call<{ Rules: { Name: string }[] }>('ListRules', { EventBusName: bus }))
      .Rules;
    const [everything] = rules.filter((rule) => !rule.Name.startsWith('filter'));
    // Only the filter's rule sends to the queue: the one sending everything is removed.
    await events().call('RemoveTargets', { Rule: everything?.Name, EventBusName: bus, Ids: ['queue'] });
    const filterRule = rules.find((rule) => rule.Name.startsWith('filter'))?.Name;
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
    );
    await events().call('PutTargets', {
      Rule: filterRule,
      EventBusName: bus,
      Targets: [{ Id: 'queue', Arn: Attributes?.QueueArn }],
    });

    const [click, impression] = makeMessages(2) as [QueueMessage, QueueMessage];
    if (click.kind !== 'event') throw new Error('not an event');
    const otherProvider = {
      ...click,
      record: { ...click.record, provider: 'adreform', id: `${click.record.id}-ad` },
    };
    const marker = deviceMarkerItem(click.record, DEFAULT_LAYOUT);
    const quarantine = toItem({
      ...click,
      kind: 'quarantine',
      record: { id: 'q1', provider: 'sori', reason: 'x', received_at: click.record.received_at },
    } as unknown as QueueMessage);
    const image = (item: unknown) =>
      JSON.parse(
        JSON.stringify(item, (_, value) =>
          value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value,
        ),
      );
    const cases: [string, string, unknown, boolean][] = [
      ['a click of sori stored', 'INSERT', toItem(click), true],
      ['the same item updated', 'MODIFY', toItem(click), false],
      ['the same item expired', 'REMOVE', toItem(click), false],
      ['an impression of sori', 'INSERT', toItem(impression), false],
      ["another provider's click", 'INSERT', toItem(otherProvider as QueueMessage), false],
      ['a device marker', 'INSERT', marker, false],
      ['a quarantined delivery', 'INSERT', quarantine, false],
      [
        'a counter item',
        'INSERT',
        { pk: { S: 'STATS#sori#cmp_1234' }, sk: { S: '2026-03-01' }, kind: { S: 'stats' } },
        false,
      ],
    ];
    await events().call('PutEvents', {
      Entries: cases.map(([name, eventName, item]) => ({
        Source: source,
        DetailType: name,
        EventBusName: bus,
        Detail: JSON.stringify({ eventName, dynamodb: { NewImage: image(item) } }),
      })),
    });
    const matched = (await drain(queueUrl)).map(
      (message) => (JSON.parse(message.Body ?? '{}') as { 'detail-type': string })['detail-type'],
    );
    expect(matched.sort()).toEqual(cases.filter(([, , , kept]) => kept).map(([name]) => name));
  });
});
