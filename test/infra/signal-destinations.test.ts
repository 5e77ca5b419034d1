/**
 * The destinations' signal notices (`signals` on a destination): a second pipe per destination that opts in,
 * reading the INSERTs of notice items from the records table's stream, shaped into the notice document as
 * `campaign-inbox signal`. EventBridge Pipes does not run outside AWS (moto has no Pipes), so the template is the
 * proof of the pipe; test/aws/signal-destinations.test.ts runs its filter through EventBridge's pattern matching.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { CampaignInboxStack } from '../../infra/campaign-inbox-stack';
import { readConfig } from '../../infra/config';
import {
  addEventDestinations,
  type EventDestinationsOptions,
  INSERT_TEMPLATE,
  insertPattern,
  NOTICE_TEMPLATE,
  noticePattern,
} from '../../infra/constructs/event-destinations';
import { RecordsTable } from '../../infra/constructs/records-table';
import { loginNotices } from '../../lib/signals/signal-notices';
import { DEFAULT_SIGNAL_THRESHOLDS } from '../../lib/signals/thresholds';
import { noticeItem } from '../../lib/table/notice-items';

function synth(option: EventDestinationsOptions | undefined) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'SignalDestinationsTest');
  const records = new RecordsTable(stack, 'Records');
  const destinations = addEventDestinations(stack, records.table, option);
  return { app, stack, destinations, template: Template.fromStack(stack) };
}

interface Pipe {
  Properties: {
    Description: string;
    Source: unknown;
    Target: unknown;
    SourceParameters: { FilterCriteria: { Filters: { Pattern: string }[] } };
    TargetParameters: Record<string, unknown> & { InputTemplate: string };
  };
}
const pipesOf = (template: Template) =>
  Object.values(template.findResources('AWS::Pipes::Pipe')) as unknown as Pipe[];
const patternsOf = (pipe: Pipe | undefined) =>
  pipe?.Properties.SourceParameters.FilterCriteria.Filters.map((filter) => JSON.parse(filter.Pattern));
const signalPipes = (template: Template) =>
  pipesOf(template).filter((pipe) => pipe.Properties.TargetParameters.InputTemplate === NOTICE_TEMPLATE);

const NOTICES_ONLY = { pk: { S: [{ prefix: 'SIGNAL#' }] }, kind: { S: ['signal'] } };

describe("the destinations' signal notices", () => {
  it('are off by default: a destination without signals has its one pipe of first inserts, as before', () => {
    const { template } = synth({ eventBridge: { providers: ['sori'] }, sqs: { types: ['campaign.click'] } });
    expect(pipesOf(template)).toHaveLength(2);
    expect(signalPipes(template)).toEqual([]);
    for (const pipe of pipesOf(template))
      expect(pipe.Properties.TargetParameters.InputTemplate).toBe(INSERT_TEMPLATE);
    synth({ eventBridge: { signals: false } }).template.resourceCountIs('AWS::Pipes::Pipe', 1);
  });

  it('with eventBridge.signals, add a pipe of the INSERTs of notice items to the same bus, as campaign-inbox signal events timed by raised_at, the records pipe unchanged', () => {
    const { template, destinations } = synth({ eventBridge: { signals: true, types: ['campaign.click'] } });
    template.resourceCountIs('AWS::Events::EventBus', 1);
    const [bus] = Object.keys(template.findResources('AWS::Events::EventBus'));
    const [records, ...moreRecords] = pipesOf(template).filter(
      (pipe) => pipe.Properties.TargetParameters.InputTemplate === INSERT_TEMPLATE,
    );
    expect(moreRecords).toEqual([]);
    expect(patternsOf(records)).toEqual([insertPattern({ types: ['campaign.click'] })]);
    const [signals, ...moreSignals] = signalPipes(template);
    expect(moreSignals).toEqual([]);
    expect(destinations?.signalPipes.eventBridge).toBeDefined();
    expect(signals?.Properties.Target).toEqual({ 'Fn::GetAtt': [bus, 'Arn'] });
    expect(signals?.Properties.Source).toEqual(records?.Properties.Source);
    // The event types filter records only: a signal is no event type.
    expect(patternsOf(signals)).toEqual([{ eventName: ['INSERT'], dynamodb: { NewImage: NOTICES_ONLY } }]);
    expect(signals?.Properties.TargetParameters).toEqual({
      InputTemplate: NOTICE_TEMPLATE,
      EventBridgeEventBusParameters: {
        Source: 'campaign-inbox',
        DetailType: 'campaign-inbox signal',
        Time: '$.dynamodb.NewImage.raised_at.S',
      },
    });
    expect(signals?.Properties.Description).toMatch(/^Signal notices of /);
  });

  it("with sqs.signals as a list, send only those signals of the destination's providers to its queue, a FIFO queue grouped by provider and deduplicated on the stream record", () => {
    const queueArn = 'arn:aws:sqs:eu-west-1:123456789012:signals.fifo';
    const { template } = synth({
      sqs: { queueArn, providers: ['sori'], signals: ['click_bursts', 'high_ctr'] },
    });
    const [signals] = signalPipes(template);
    expect(signals?.Properties.Target).toBe(queueArn);
    expect(patternsOf(signals)).toEqual([
      {
        eventName: ['INSERT'],
        dynamodb: {
          NewImage: {
            ...NOTICES_ONLY,
            signal: { S: ['click_bursts', 'high_ctr'] },
            provider: { S: ['sori'] },
          },
        },
      },
    ]);
    expect(signals?.Properties.TargetParameters).toEqual({
      InputTemplate: NOTICE_TEMPLATE,
      SqsQueueParameters: {
        MessageGroupId: '$.dynamodb.NewImage.provider.S',
        MessageDeduplicationId: '$.eventID',
      },
    });
    expect(noticePattern({ signals: true })).toEqual({
      eventName: ['INSERT'],
      dynamodb: { NewImage: NOTICES_ONLY },
    });
  });

  it('gives the signal pipes roles of their own, reading the stream and writing only their target and the failures queue', () => {
    const { template } = synth({ eventBridge: { signals: true }, sqs: { signals: true } });
    expect(pipesOf(template)).toHaveLength(4);
    expect(Object.keys(template.findResources('AWS::IAM::Role'))).toHaveLength(4);
    const actions = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((policy) =>
      (
        policy as { Properties: { PolicyDocument: { Statement: { Action: string | string[] }[] } } }
      ).Properties.PolicyDocument.Statement.flatMap((statement) => [statement.Action].flat()),
    );
    expect(new Set(actions)).toEqual(
      new Set([
        'dynamodb:DescribeStream',
        'dynamodb:GetRecords',
        'dynamodb:GetShardIterator',
        'dynamodb:ListStreams',
        'events:PutEvents',
        'sqs:SendMessage',
      ]),
    );
  });

  it('refuses at synth a signals value that is not true, false or a list of signal names', () => {
    expect(() => synth({ eventBridge: { signals: 'true' as never } })).toThrow(
      /eventBridge\.signals must be/,
    );
    expect(() => synth({ sqs: { signals: [] } })).toThrow(/sqs\.signals must be/);
    expect(() => synth({ sqs: { signals: ['click_burst' as never] } })).toThrow(
      'destinations.sqs.signals must be true, false or a non-empty list of clicks_without_impression, click_bursts, high_ctr, shared_devices, country_hops',
    );
    expect(() => synth({ sqs: { signal: true } as never })).toThrow(
      'destinations.sqs has "signal": only queueArn, providers, types are known, and signals for the signal notices',
    );
  });

  it('reach the stack from the context, and report no unacknowledged cdk-nag finding', () => {
    const values: Record<string, unknown> = { destinations: '{"eventBridge":{"signals":true}}' };
    const config = readConfig({ tryGetContext: (key: string) => values[key] });
    expect(config.destinations).toEqual({ eventBridge: { signals: true } });
    const app = new App({
      context: { 'aws:cdk:bundling-stacks': [] },
      builtinCloudFormationValidation: false,
    });
    const stack = new CampaignInboxStack(app, 'Inbox', { config });
    expect(signalPipes(Template.fromStack(stack))).toHaveLength(1);
    const { app: alone, stack: scope } = synth({
      eventBridge: { signals: true },
      sqs: { signals: ['high_ctr'] },
    });
    const report = new AwsSolutionsChecks(alone).validateScope(scope);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });
});

describe('the notice document a signal pipe sends', () => {
  it("is JSON once its paths are filled with a notice item's stream image, and is the notice itself, every field a string", () => {
    const [notice] = loginNotices(
      {
        provider: 'sori',
        day: '2026-03-01',
        before: { accounts: new Set(), countries: new Set(), full: false },
        after: { accounts: new Set(['dev "quoted" \\ é']), countries: new Set(), full: false },
      },
      DEFAULT_SIGNAL_THRESHOLDS,
      Date.parse('2026-03-01T12:00:00Z'),
    );
    if (!notice) throw new Error('no notice');
    const image = noticeItem(notice) as Record<string, AttributeValue>;
    // As Pipes fills it: a quoted path gets the string's escaped text.
    const filled = NOTICE_TEMPLATE.replace(/"<\$\.dynamodb\.NewImage\.(\w+)\.S>"/g, (_, field: string) =>
      JSON.stringify(image[field]?.S),
    );
    expect(filled).not.toMatch(/<\$/);
    expect(JSON.parse(filled)).toEqual(notice);
    expect(JSON.parse(filled)).toMatchObject({ signal: 'shared_devices', origin: 'signal', campaign_id: '' });
  });
});
