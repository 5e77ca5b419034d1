/**
 * The fraud and quality signals' thresholds through the stack: the `signals` context value (by variable name)
 * reaches the repair function, whose fold applies them, and the dashboard function, which applies the CTR's;
 * a malformed value is refused at synth by name; each signal has an alarm on the repair's count of it.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { CampaignInboxStack } from '../../infra/campaign-inbox-stack';
import { readConfig } from '../../infra/config';
import { SIGNAL_METRICS } from '../../lib/signals/metrics';

const context = (values: Record<string, unknown>) => ({ tryGetContext: (key: string) => values[key] });

function synth(values: Record<string, unknown>) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  return Template.fromStack(new CampaignInboxStack(app, 'Test', { config: readConfig(context(values)) }));
}

const variables = (template: Template, has: string) =>
  Object.values(template.findResources('AWS::Lambda::Function'))
    .map((fn) => (fn.Properties.Environment?.Variables ?? {}) as Record<string, string>)
    .filter((env) => has in env);

describe('the signals in the stack', () => {
  it('tells the repair and the dashboard the thresholds set, the others at their defaults', () => {
    const template = synth({ signals: '{"SIGNAL_CTR":0.35,"SIGNAL_CLICKS_PER_MINUTE":20}' });
    const repair = variables(template, 'COUNTER_STALE_SECONDS').concat(
      variables(template, 'TABLE_NAME').filter((env) => !('DLQ_URL' in env) && !('TOKEN_ISSUER' in env)),
    );
    const dashboard = variables(template, 'TOKEN_ISSUER');
    expect(dashboard).toHaveLength(1);
    expect(repair.length).toBeGreaterThan(0);
    for (const env of [...repair, ...dashboard]) {
      expect(env).toMatchObject({
        SIGNAL_CTR: '0.35',
        SIGNAL_CLICKS_PER_MINUTE: '20',
        SIGNAL_ACCOUNTS_PER_DEVICE: '3',
      });
    }
  });

  it('refuses a malformed threshold or a name that is not one at synth, naming it', () => {
    expect(() => readConfig(context({ signals: '{"SIGNAL_CTR":"lots"}' }))).toThrow(/SIGNAL_CTR/);
    expect(() => readConfig(context({ signals: '{"SIGNAL_CRT":0.3}' }))).toThrow(
      /"SIGNAL_CRT", not a threshold/,
    );
    expect(() => readConfig(context({ signals: '{"ctr":0.3}' }))).toThrow(/"ctr", not a threshold/);
    expect(() => readConfig(context({ signals: '[]' }))).toThrow(/context signals must be a JSON object/);
  });

  it('alarms on each signal the repair counts once signals is set ({} for the defaults), and not by default', () => {
    const alarmed = (values: Record<string, unknown>) =>
      Object.values(synth(values).findResources('AWS::CloudWatch::Alarm')).map(
        (alarm) => alarm.Properties.MetricName,
      );
    const on = alarmed({ signals: '{}' });
    for (const name of Object.values(SIGNAL_METRICS)) expect(on).toContain(name);
    const off = alarmed({});
    for (const name of Object.values(SIGNAL_METRICS)) expect(off).not.toContain(name);
  });
});
