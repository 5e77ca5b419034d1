/**
 * `providerApps` through the whole stack: read from the context, checked with the providers served, each app
 * given `POST /webhooks/<provider>/<app>` with the throttle `providerThrottles` names `<provider>/<app>`.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { CampaignInboxStack } from '../../infra/campaign-inbox-stack';
import { readConfig } from '../../infra/config';

const context = (values: Record<string, unknown>) => ({
  tryGetContext: (key: string) => values[key],
});

const synth = (values: Record<string, unknown>) => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  return Template.fromStack(new CampaignInboxStack(app, 'Test', { config: readConfig(context(values)) }));
};

describe('providerApps in the stack', () => {
  it("gives each app its route and the throttle providerThrottles names it, apart from its provider's", () => {
    const template = synth({
      providerApps: '{"sori":["agency-a"]}',
      providerThrottles: '{"sori/agency-a":{"rateLimit":7,"burstLimit":14}}',
    });
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map(
      (route) => route.Properties.RouteKey,
    );
    expect(routes).toContain('POST /webhooks/sori/agency-a');
    const stage = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'))[0];
    const settings = stage?.Properties.RouteSettings as Record<string, { ThrottlingRateLimit: number }>;
    expect(settings['POST /webhooks/sori/agency-a']).toMatchObject({
      ThrottlingRateLimit: 7,
      ThrottlingBurstLimit: 14,
    });
    expect(settings['POST /webhooks/sori']?.ThrottlingRateLimit).not.toBe(7);
  });

  it('refuses, naming the key, an app of a provider not served, a throttle for an app not given a route, and an app of a provider that does not sign', () => {
    expect(() => readConfig(context({ providers: 'sori', providerApps: '{"symphony":["a"]}' }))).toThrow(
      /providerApps names "symphony"/,
    );
    expect(() =>
      readConfig(context({ providerThrottles: '{"sori/agency-z":{"rateLimit":1,"burstLimit":1}}' })),
    ).toThrow(/providerThrottles names "sori\/agency-z"/);
    expect(() => readConfig(context({ providerApps: '{"symphony":["a"]}' }))).toThrow(
      /providerApps.symphony: symphony does not sign/,
    );
  });
});
