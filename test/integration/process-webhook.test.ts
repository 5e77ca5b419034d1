import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { createProcessWebhook } from '../../functions/process-webhook/process-webhook';
import { CampaignCounters } from '../../lib/ingest/campaign-counters';
import { EventWriter } from '../../lib/ingest/event-writer';
import { sori } from '../../lib/providers/sori';
import { CampaignStats } from '../../lib/queries/campaign-stats';
import { RecordsRepository } from '../../lib/queries/records-repository';
import { DeadLetterQueue, peekDeadLetters } from '../../lib/queue/dead-letters';
import { redriveMessages } from '../../lib/queue/redrive';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { DEFAULT_LAYOUT } from '../../lib/table/records-table';
import { ensureRecordsTable } from '../../local/create-records-table';
import { queueDepth } from '../../local/local-stack';
import { SqsPoller, type SqsPollerOptions } from '../../local/sqs-poller';
import { memoryLogger, type SoriFixture, soriBody } from '../support/deliveries';
import {
  createTestQueues,
  createTestTable,
  eventually,
  faultyDynamoDb,
  localClients,
  uniqueName,
} from '../support/local-aws';

const { dynamodb, sqs } = localClients();
const RECEIVED = '2026-01-01T00:00:00.000Z';
const message = (name: SoriFixture) => buildQueueMessage(sori, Buffer.from(soriBody(name)), RECEIVED);

const sqsEvent = (bodies: string[]): SQSEvent => ({
  Records: bodies.map((body, i) => ({
    messageId: `m${i}`,
    receiptHandle: `r${i}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '0',
      SenderId: 't',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:test',
    awsRegion: 'us-east-1',
  })),
});

/** Lambda's SQS event source, played by the local poller, over one test's queue. */
const pollerFor = (queueUrl: string, queueArn: string, handler: SqsPollerOptions['handler']) =>
  new SqsPoller({
    client: sqs,
    queueUrl,
    queueArn,
    handler,
    logger: memoryLogger().logger,
    waitTimeSeconds: 1,
  });

let repository: RecordsRepository;
let writer: EventWriter;
let counters: CampaignCounters;

beforeAll(async () => {
  ({ repository, writer, counters } = await createTestTable(dynamodb));
});

describe('process webhook: one conditional put per record', () => {
  it('stores each record once; a second delivery of the same record is a duplicate and a success', async () => {
    const process = createProcessWebhook({ writer, counters, logger: memoryLogger().logger });
    const impression = JSON.stringify(message('impression'));
    expect(await process(sqsEvent([impression, impression]))).toEqual({ batchItemFailures: [] });
    expect(await process(sqsEvent([impression]))).toEqual({ batchItemFailures: [] });
    const stored = await repository.queryEvents({
      provider: 'sori',
      campaign: 'cmp_1234',
      limit: 10,
      type: 'campaign.impression',
    });
    expect(stored).toHaveLength(1);
  });

  it('stores a quarantined delivery under its own key with the reason and raw body', async () => {
    const process = createProcessWebhook({ writer, counters, logger: memoryLogger().logger });
    const raw = '{"event":"campaign.share","extra":"kept"}';
    const quarantined = buildQueueMessage(sori, Buffer.from(raw), RECEIVED);
    await process(sqsEvent([JSON.stringify(quarantined)]));
    const listed = await repository.listQuarantine(100);
    expect(listed).toContainEqual({
      id: quarantined.record.id,
      provider: 'sori',
      reason: 'unknown event "campaign.share"',
      received_at: RECEIVED,
      raw,
      raw_encoding: 'utf8',
    });
  });

  it('reports only the failing record of a batch in batchItemFailures', async () => {
    const { logger, lines } = memoryLogger();
    const process = createProcessWebhook({ writer, counters, logger });
    const batch = [
      JSON.stringify(message('click')),
      '{"not":"a queue message"}',
      JSON.stringify(message('authentication')),
    ];
    expect(await process(sqsEvent(batch))).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
    expect(
      await repository.queryEvents({
        provider: 'sori',
        device: 'device_abc',
        type: 'authentication',
        limit: 5,
      }),
    ).toHaveLength(1);
    expect(lines.some((line) => line.includes('"store failed"') && line.includes('"messageId":"m1"'))).toBe(
      true,
    );
  });
});

describe('process webhook behind the SQS poller (Lambda event source semantics)', () => {
  it('retries a record that failed on a DynamoDB fault alone, and stores it exactly once', async () => {
    const { queueUrl, queueArn } = await createTestQueues(sqs, { visibilityTimeout: 1, maxReceiveCount: 5 });
    const { tableName } = await createTestTable(dynamodb);
    // Mock, by necessity: the local DynamoDB server cannot be made to throttle one chosen item. The client
    // throws ProvisionedThroughputExceeded for the click's first PutItem and sends everything else.
    let throttled = 0;
    const { client, seen } = faultyDynamoDb((command) => {
      const item = command.input.Item as Record<string, { S?: string }> | undefined;
      if (command.name !== 'PutItemCommand' || item?.event?.S !== 'campaign.click' || throttled > 0)
        return undefined;
      throttled++;
      return new ProvisionedThroughputExceededException({
        message: 'injected throttle',
        $metadata: { httpStatusCode: 400 },
      });
    });
    const table = new RecordsRepository(client, tableName);
    const handler = createProcessWebhook({
      writer: new EventWriter(client, tableName),
      counters: new CampaignCounters(client, tableName, DEFAULT_LAYOUT),
      logger: memoryLogger().logger,
    });
    const attempts = (id: string) =>
      seen.filter(
        (command) =>
          command.name === 'PutItemCommand' &&
          (command.input.Item as Record<string, { S?: string }>).id?.S === id,
      ).length;
    const poller = pollerFor(queueUrl, queueArn, handler);
    const names: SoriFixture[] = ['impression', 'click', 'authentication'];
    for (const name of names)
      await sqs.send(
        new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(message(name)) }),
      );

    poller.start();
    try {
      await eventually(
        async () => (attempts(message('click').record.id) >= 2 ? true : undefined),
        10_000,
        'the click redelivered',
      );
    } finally {
      await poller.stop();
    }
    expect(attempts(message('click').record.id)).toBe(2);
    expect(attempts(message('impression').record.id)).toBe(1);
    expect(attempts(message('authentication').record.id)).toBe(1);
    // The scheduled repair's pass, which folds the batches' counts into the counter items.
    await new CampaignCounters(dynamodb, tableName, DEFAULT_LAYOUT).repair();
    expect(await new CampaignStats(dynamodb, tableName).campaignStats('sori', 'cmp_1234')).toEqual([
      expect.objectContaining({ day: '2025-10-14', impressions: 1, clicks: 1, unique_devices: 1 }),
    ]);
    const stored = await table.queryEvents({ provider: 'sori', campaign: 'cmp_1234', limit: 10 });
    expect(stored.map((event) => event.event).sort()).toEqual(['campaign.click', 'campaign.impression']);
  });

  it('sends a message it can never read to the DLQ on its first failure, with the reason, and keeps processing the rest', async () => {
    const { dlqUrl } = await createTestQueues(sqs, { visibilityTimeout: 1, maxReceiveCount: 5 });
    const {
      repository: table,
      writer: tableWriter,
      counters: tableCounters,
    } = await createTestTable(dynamodb);
    const handler = createProcessWebhook({
      writer: tableWriter,
      counters: tableCounters,
      logger: memoryLogger().logger,
      deadLetters: new DeadLetterQueue(sqs, dlqUrl),
    });
    const good = JSON.stringify(message('impression'));
    // One delivery of the batch, as the event source hands it over: the poison is not retried.
    const outcome = await handler({
      Records: [
        { messageId: 'p1', body: 'poison: not JSON' },
        { messageId: 'g1', body: good },
      ],
    } as never);
    expect(outcome).toEqual({ batchItemFailures: [] });
    const [letter] = await peekDeadLetters(sqs, dlqUrl);
    expect(letter).toMatchObject({
      body: 'poison: not JSON',
      receive_count: 1,
      reason: 'the message body is not JSON',
    });
    expect(await table.queryEvents({ provider: 'sori', campaign: 'cmp_1234', limit: 10 })).toHaveLength(1);
  });

  it('redrives dead letters after the fix, and each is then stored exactly once', async () => {
    const { queueUrl, queueArn, dlqUrl } = await createTestQueues(sqs, {
      visibilityTimeout: 1,
      maxReceiveCount: 2,
    });
    // A real fault: the table does not exist yet, so every put fails and the messages go to the DLQ.
    const tableName = uniqueName('records-later');
    const table = new RecordsRepository(dynamodb, tableName);
    const handler = createProcessWebhook({
      writer: new EventWriter(dynamodb, tableName),
      counters: new CampaignCounters(dynamodb, tableName, DEFAULT_LAYOUT),
      logger: memoryLogger().logger,
    });
    const poller = pollerFor(queueUrl, queueArn, handler);
    for (const name of ['impression', 'click'] as const) {
      await sqs.send(
        new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(message(name)) }),
      );
    }
    poller.start();
    try {
      await eventually(
        async () => ((await queueDepth(sqs, dlqUrl)) === 2 ? true : undefined),
        15_000,
        'both in the DLQ',
      );
      await ensureRecordsTable(dynamodb, tableName);
      expect(await redriveMessages(sqs, dlqUrl, queueUrl)).toEqual({ moved: 2, failed: 0 });
      // Redrive twice over (a retried redrive): the second copy is a duplicate, not a second record.
      await sqs.send(
        new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(message('click')) }),
      );
      await eventually(
        async () => ((await queueDepth(sqs, queueUrl)) === 0 ? true : undefined),
        10_000,
        'queue drained',
      );
    } finally {
      await poller.stop();
    }
    const stored = await table.queryEvents({ provider: 'sori', campaign: 'cmp_1234', limit: 10 });
    expect(stored.map((event) => event.event).sort()).toEqual(['campaign.click', 'campaign.impression']);
    expect(await queueDepth(sqs, dlqUrl)).toBe(0);
  });
});
