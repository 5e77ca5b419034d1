import { describe, expect, it } from 'vitest';
import { digestVariables, readDigestEnvironment } from '../../functions/daily-digest/config';
import { ConfigError } from '../../lib/errors';

const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:campaign-inbox-AlarmTopic-1A2B3C';

const variables = () =>
  digestVariables({
    table: { tableName: 'records', shards: 4, recordRetentionDays: 30 },
    topicArn: TOPIC,
    health: { namespace: 'CampaignInbox', service: 'receive-webhook', dlqUrl: undefined },
    providers: { customProviders: [], served: [] },
  });

describe("the digest function's environment", () => {
  it('reads back what the stack writes: the table, its layout and the topic', () => {
    expect(readDigestEnvironment({ ...variables() })).toEqual({
      tableName: 'records',
      layout: { shards: 4, retentionDays: 30 },
      topicArn: TOPIC,
      logLevel: 'info',
    });
  });

  it.each([
    [undefined, 'missing'],
    ['arn:aws:sqs:eu-west-1:123456789012:queue', 'not a topic'],
    ['campaign-inbox-alarms', 'a name, not an ARN'],
  ])('fails the cold start naming TOPIC_ARN when it is %j (%s)', (topicArn, _why) => {
    const env = { ...variables(), TOPIC_ARN: topicArn };
    expect(() => readDigestEnvironment(env)).toThrow(ConfigError);
    expect(() => readDigestEnvironment(env)).toThrow('TOPIC_ARN');
  });

  it('fails the cold start naming TABLE_NAME when it is missing', () => {
    expect(() => readDigestEnvironment({ ...variables(), TABLE_NAME: undefined })).toThrow('TABLE_NAME');
  });
});
