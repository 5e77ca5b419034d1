/**
 * The optional parts of the inbox through the stack's context: `destinations`, `replay` and `lake` each add
 * their construct and outputs, nothing of them without the key, and a value that cannot be read is refused by
 * name. What each construct makes is proven by its own tests (event-destinations, event-replay, event-lake).
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { CampaignInboxStack } from '../../infra/campaign-inbox-stack';
import { readConfig } from '../../infra/config';

const context = (values: Record<string, unknown>) => ({ tryGetContext: (key: string) => values[key] });

function synth(values: Record<string, unknown>) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new CampaignInboxStack(app, 'Test', { config: readConfig(context(values)) });
  return Template.fromStack(stack);
}

const outputs = (template: Template) => Object.keys(template.toJSON().Outputs ?? {});
const count = (template: Template, type: string) => Object.keys(template.findResources(type)).length;

describe('the optional parts of the inbox', () => {
  it('adds none of them by default', () => {
    const template = synth({});
    expect(count(template, 'AWS::Pipes::Pipe')).toBe(0);
    expect(count(template, 'AWS::KinesisFirehose::DeliveryStream')).toBe(0);
    expect(outputs(template)).not.toEqual(
      expect.arrayContaining([expect.stringMatching(/^(Destination|Replay|Lake)/)]),
    );
  });

  it('publishes first inserts to a bus and a queue, and replays ranges to them, with their outputs', () => {
    const template = synth({
      destinations: '{"eventBridge":{},"sqs":{"types":["campaign.click"]}}',
      replay: 'true',
    });
    expect(count(template, 'AWS::Pipes::Pipe')).toBe(2);
    expect(count(template, 'AWS::Events::EventBus')).toBe(1);
    expect(outputs(template)).toEqual(
      expect.arrayContaining(['DestinationBusArn', 'DestinationQueueUrl', 'ReplayFunctionName']),
    );
    const replay = Object.values(template.findResources('AWS::IAM::Policy')).filter((policy) =>
      JSON.stringify(policy.Properties.PolicyDocument).includes('events:PutEvents'),
    );
    expect(replay.length).toBeGreaterThan(0);
  });

  it('adds the lake with its outputs', () => {
    const template = synth({ lake: true });
    expect(count(template, 'AWS::KinesisFirehose::DeliveryStream')).toBe(1);
    expect(count(template, 'AWS::Glue::Table')).toBe(1);
    expect(outputs(template)).toEqual(expect.arrayContaining(['LakeWorkGroup', 'LakeDatabase']));
  });

  it("adds alerts on the alarms' topic, kept without an e-mail address: traffic anomaly alarms and the digest", () => {
    const template = synth({ alerts: '{"traffic":true,"digest":true}' });
    expect(count(template, 'AWS::SNS::Topic')).toBe(1);
    expect(count(template, 'AWS::SNS::Subscription')).toBe(0);
    expect(count(template, 'AWS::CloudWatch::AnomalyDetector')).toBeGreaterThan(0);
    expect(count(template, 'AWS::Scheduler::Schedule')).toBe(1);
    expect(count(synth({}), 'AWS::SNS::Topic')).toBe(0);
  });

  it('refuses a replay with nowhere to send to, and values that are not JSON objects, by name', () => {
    expect(() => synth({ replay: true })).toThrow(/replay needs somewhere to send to/);
    expect(() => readConfig(context({ destinations: 'bus' }))).toThrow(
      /context destinations must be a JSON object/,
    );
    expect(() => readConfig(context({ lake: '[1]' }))).toThrow(/context lake must be a JSON object/);
    expect(() => readConfig(context({ lake: '{"bufferSecond":60}' }))).toThrow(
      /context lake takes bufferSeconds, databaseName, not "bufferSecond"/,
    );
    expect(() => readConfig(context({ replay: '{"httpURL":"https://example.com"}' }))).toThrow(
      /context replay takes httpUrl, not "httpURL"/,
    );
    expect(() => readConfig(context({ replay: '{"httpUrl":"http://example.com/hook"}' }))).toThrow(
      /replay.httpUrl must be an https URL/,
    );
    expect(readConfig(context({ replay: '{"httpUrl":"https://example.com/hook"}' })).replay).toEqual({
      httpUrl: 'https://example.com/hook',
    });
  });
});
