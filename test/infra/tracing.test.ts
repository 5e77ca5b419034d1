/**
 * `tracing`: AWS X-Ray active tracing on the functions a delivery passes through (receive, process) and on the
 * repair, with the grants to send segments; off by default. The trace header's trip through the queue is tested
 * against moto (test/aws/trace-header.test.ts).
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { CampaignInboxStack } from '../../infra/campaign-inbox-stack';
import { DEFAULT_CONFIG, readConfig } from '../../infra/config';

const synth = (tracing: boolean) => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  return Template.fromStack(new CampaignInboxStack(app, 'Test', { config: { ...DEFAULT_CONFIG, tracing } }));
};

/** The functions by what their environment says they are. */
function functions(template: Template) {
  const all = Object.values(template.findResources('AWS::Lambda::Function'));
  const has = (fn: (typeof all)[number], name: string) =>
    name in (fn.Properties.Environment?.Variables ?? {});
  return {
    receive: all.filter((fn) => has(fn, 'SIGNING_SECRET_ARN')),
    process: all.filter((fn) => has(fn, 'DLQ_URL') && !has(fn, 'TOKEN_ISSUER')),
    all,
  };
}

describe('tracing', () => {
  it('turns on active tracing for the receive and process functions and the repair, allowed to send their segments', () => {
    const template = synth(true);
    const { receive, process, all } = functions(template);
    expect(receive).toHaveLength(1);
    expect(process).toHaveLength(1);
    const traced = all.filter((fn) => fn.Properties.TracingConfig?.Mode === 'Active');
    expect(traced.length).toBe(3);
    for (const fn of [...receive, ...process])
      expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
    const xray = Object.values(template.findResources('AWS::IAM::Policy')).filter((policy) =>
      JSON.stringify(policy.Properties.PolicyDocument).includes('xray:PutTraceSegments'),
    );
    expect(xray.length).toBe(3);
  });

  it('is off by default: no function traced, no X-Ray grant', () => {
    const template = synth(DEFAULT_CONFIG.tracing);
    expect(DEFAULT_CONFIG.tracing).toBe(false);
    for (const fn of functions(template).all) expect(fn.Properties.TracingConfig).toBeUndefined();
    expect(JSON.stringify(template.toJSON())).not.toContain('xray:');
  });

  it('is read from the context as true or false, and anything else is refused by name', () => {
    const node = (value: unknown) => ({
      tryGetContext: (key: string) => (key === 'tracing' ? value : undefined),
    });
    expect(readConfig(node(true)).tracing).toBe(true);
    expect(readConfig(node('true')).tracing).toBe(true);
    expect(readConfig(node('false')).tracing).toBe(false);
    expect(() => readConfig(node('sometimes'))).toThrow(/tracing/);
  });
});
