import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { CampaignInboxStack } from '../../infra/campaign-inbox-stack';
import { DEFAULT_CONFIG } from '../../infra/config';
import { checkStaleClaimAge, DEFAULT_STALE_AFTER_SECONDS } from '../../lib/config';
import { ConfigError } from '../../lib/errors';

describe('the age after which a counter claim is abandoned', () => {
  it('lies, in the synthesized stack, above the consumer’s timeout and below the events queue’s visibility timeout', () => {
    const app = new App({
      context: { 'aws:cdk:bundling-stacks': [] },
      builtinCloudFormationValidation: false,
    });
    const template = Template.fromStack(new CampaignInboxStack(app, 'Test', { config: DEFAULT_CONFIG }));
    // The consumer: the one function told of the dead-letter queue that does not serve the dashboard.
    const consumers = Object.values(template.findResources('AWS::Lambda::Function')).filter((fn) => {
      const variables = fn.Properties.Environment?.Variables ?? {};
      return 'DLQ_URL' in variables && !('TOKEN_ISSUER' in variables);
    });
    expect(consumers).toHaveLength(1);
    const timeout = Number(consumers[0]?.Properties.Timeout);
    const queues = Object.values(template.findResources('AWS::SQS::Queue')).filter(
      (queue) => queue.Properties.RedrivePolicy !== undefined,
    );
    expect(queues).toHaveLength(1);
    const visibility = Number(queues[0]?.Properties.VisibilityTimeout);
    expect(DEFAULT_STALE_AFTER_SECONDS).toBeGreaterThan(timeout);
    expect(DEFAULT_STALE_AFTER_SECONDS).toBeLessThan(visibility);
  });

  it('is refused at synth at or below the consumer’s timeout, or at or above the visibility timeout, naming the three values', () => {
    const consumer = { timeoutSeconds: 30, visibilityTimeoutSeconds: 180 };
    expect(() => checkStaleClaimAge(60, consumer)).not.toThrow();
    for (const age of [10, 30, 180, 600]) {
      expect(() => checkStaleClaimAge(age, consumer), String(age)).toThrow(ConfigError);
      expect(() => checkStaleClaimAge(age, consumer), String(age)).toThrow(`${age} s`);
    }
    expect(() => checkStaleClaimAge(30, consumer)).toThrow(/timeout \(30 s\).*visibility timeout \(180 s\)/);
  });
});
