/**
 * The signal notices' way to a bus, against moto. Moto has no EventBridge Pipes, so the signal pipe itself is
 * proven by its template (test/infra/signal-destinations.test.ts); here its stream filter runs through
 * EventBridge's own pattern matching (a stream record put as an event's detail matches a rule on `detail` when
 * it would pass the pipe's filter: both read EventBridge's pattern language), and a notice put on a bus by the
 * local destination, signed by a user allowed `events:PutEvents` only, matches the documented rule for one signal.
 */
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { insertPattern, noticePattern } from '../../infra/constructs/event-destinations';
import { environmentCredentials } from '../../lib/aws/signature-v4';
import { EVENT_SOURCE, EventBridgeDestination } from '../../lib/destinations/eventbridge';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { campaignNotices, loginNotices, type SignalNotice } from '../../lib/signals/signal-notices';
import { DEFAULT_SIGNAL_THRESHOLDS } from '../../lib/signals/thresholds';
import { noticeItem, publishedAttribute } from '../../lib/table/notice-items';
import { toItem } from '../../lib/table/records-table';
import type { CampaignSignals } from '../../lib/table/signal-attributes';
import { soriPayload } from '../support/deliveries';
import { uniqueName } from '../support/local-aws';
import { events } from './support/event-bus';
import { MOTO_REGION } from './support/iam';
import { moto } from './support/moto';
import { drain } from './support/queues';

const DAY = '2026-03-01';
const empty = (): CampaignSignals => ({
  orphans: new Set(),
  orphansOver: 0,
  bursts: new Set(),
  burstsFull: false,
});

/** A burst and a high CTR on a campaign-day of `provider`, and a shared device on its provider-day. */
function notices(provider: string): Record<'burst' | 'ctr' | 'shared', SignalNotice> {
  const [burst, ctr] = campaignNotices(
    {
      key: { provider, campaignId: 'cmp_1', day: DAY },
      before: empty(),
      after: { ...empty(), bursts: new Set([`${DAY}T10:00 dev_b`]) },
      figuresBefore: { impressions: 100, clicks: 10 },
      figuresAfter: { impressions: 100, clicks: 40 },
    },
    DEFAULT_SIGNAL_THRESHOLDS,
  ) as [SignalNotice, SignalNotice];
  const [shared] = loginNotices(
    {
      provider,
      day: DAY,
      before: { accounts: new Set(), countries: new Set(), full: false },
      after: { accounts: new Set(['dev_s']), countries: new Set(), full: false },
    },
    DEFAULT_SIGNAL_THRESHOLDS,
  ) as [SignalNotice];
  return { burst, ctr, shared };
}

/** A new bus, and a rule on it sending what `pattern` matches to a new queue. */
async function busWithRule(pattern: Record<string, unknown>) {
  const { sqs } = moto();
  const bus = uniqueName('bus');
  await events().call('CreateEventBus', { Name: bus });
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('rule-target') }));
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  const rule = uniqueName('rule');
  await events().call('PutRule', { Name: rule, EventBusName: bus, EventPattern: JSON.stringify(pattern) });
  await events().call('PutTargets', {
    Rule: rule,
    EventBusName: bus,
    Targets: [{ Id: 'queue', Arn: Attributes?.QueueArn }],
  });
  return { bus, queueUrl: QueueUrl as string };
}

describe("the signal pipes' stream filter, as EventBridge's pattern matching reads it (moto)", () => {
  it('keeps the INSERTs of notice items of the chosen signals and providers only: no record, counter, local mark or expiry; the records pipe keeps no notice', async () => {
    const source = uniqueName('stream');
    const signals = await busWithRule({
      source: [source],
      detail: noticePattern({ providers: ['sori'], signals: ['click_bursts', 'high_ctr'] }),
    });
    const records = await busWithRule({ source: [source], detail: insertPattern({}) });
    const mine = notices('sori');
    const others = notices('adreform');
    const click = buildQueueMessage(
      sori,
      Buffer.from(JSON.stringify({ ...soriPayload('impression'), event: 'campaign.click' })),
      new Date().toISOString(),
    );
    const marked = {
      ...noticeItem(mine.burst),
      [publishedAttribute('http')]: { S: new Date().toISOString() },
    };
    const image = (item: unknown) =>
      JSON.parse(
        JSON.stringify(item, (_, value) =>
          value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value,
        ),
      );
    const cases: [string, string, unknown, boolean][] = [
      ['a burst of sori raised', 'INSERT', noticeItem(mine.burst), true],
      ['a high CTR of sori raised', 'INSERT', noticeItem(mine.ctr), true],
      ['a shared device of sori (a signal not chosen)', 'INSERT', noticeItem(mine.shared), false],
      ["another provider's burst", 'INSERT', noticeItem(others.burst), false],
      ['the burst marked published by a local destination', 'MODIFY', marked, false],
      ['the burst expired', 'REMOVE', noticeItem(mine.burst), false],
      ['a click of sori stored', 'INSERT', toItem(click), false],
      [
        'a counter item',
        'INSERT',
        { pk: { S: 'STATS#sori#cmp_1' }, sk: { S: DAY }, kind: { S: 'stats' } },
        false,
      ],
    ];
    await events().call('PutEvents', {
      Entries: cases.map(([name, eventName, item]) => ({
        Source: source,
        DetailType: name,
        EventBusName: signals.bus,
        Detail: JSON.stringify({ eventName, dynamodb: { NewImage: image(item) } }),
      })),
    });
    // The same records on the records pipe's bus: only the click is an event item.
    await events().call('PutEvents', {
      Entries: cases.map(([name, eventName, item]) => ({
        Source: source,
        DetailType: name,
        EventBusName: records.bus,
        Detail: JSON.stringify({ eventName, dynamodb: { NewImage: image(item) } }),
      })),
    });
    const matched = async (queueUrl: string) =>
      (await drain(queueUrl))
        .map((message) => (JSON.parse(message.Body ?? '{}') as { 'detail-type': string })['detail-type'])
        .sort();
    expect(await matched(signals.queueUrl)).toEqual(
      cases
        .filter(([, , , kept]) => kept)
        .map(([name]) => name)
        .sort(),
    );
    expect(await matched(records.queueUrl)).toEqual(['a click of sori stored']);
  });
});

describe('a notice on a bus (moto)', () => {
  it('is put by the local destination as source campaign-inbox, detail-type campaign-inbox signal, timed by raised_at, the notice as detail, and matches the documented rule for one signal', async () => {
    const { endpoint } = moto();
    const { bus, queueUrl } = await busWithRule({
      source: ['campaign-inbox'],
      'detail-type': ['campaign-inbox signal'],
      detail: { signal: ['click_bursts'] },
    });
    const key = await moto().createUser(uniqueName('signals'), {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['events:PutEvents'], Resource: ['*'] }],
    });
    const env = {
      AWS_ENDPOINT_URL_EVENTBRIDGE: endpoint,
      AWS_ACCESS_KEY_ID: key.accessKeyId,
      AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
    };
    const destination = new EventBridgeDestination({
      region: MOTO_REGION,
      env,
      bus,
      credentials: () => environmentCredentials(env),
    });
    const { burst, ctr, shared } = notices('sori');
    await destination.sendNotices([burst, ctr, shared]);
    const received = (await drain(queueUrl)).map(
      (message) =>
        JSON.parse(message.Body ?? '{}') as {
          source: string;
          'detail-type': string;
          time: string;
          detail: SignalNotice;
        },
    );
    expect(received).toHaveLength(1);
    expect(received[0]?.source).toBe(EVENT_SOURCE);
    expect(received[0]?.['detail-type']).toBe('campaign-inbox signal');
    expect(received[0]?.detail).toEqual(burst);
    expect(Date.parse(received[0]?.time ?? '')).toBe(Math.floor(Date.parse(burst.raised_at) / 1000) * 1000);
  });
});
