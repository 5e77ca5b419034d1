import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks, NIST80053R5Checks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { CampaignInboxStack } from '../../infra/campaign-inbox-stack';
import { DEFAULT_CONFIG, type InboxConfig, readConfig } from '../../infra/config';
import {
  CampaignInbox,
  type CampaignInboxProps,
  DEFAULT_RECEIVE_RESERVED_CONCURRENCY,
} from '../../infra/constructs/campaign-inbox';

type Resource = { Type: string; Properties?: Record<string, unknown> };

/** Synthesizes the construct in a user's stack (no bundling), with its outputs. */
function synth(props: CampaignInboxProps = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'FrontDoor');
  const inbox = new CampaignInbox(stack, 'Inbox', props);
  inbox.addOutputs();
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const receiveId = stack.getLogicalId(
    inbox.receiveFunction.function.node.defaultChild as lambda.CfnFunction,
  );
  return { app, stack, inbox, template, resources, receiveId };
}

const ofType = (resources: Record<string, Resource>, type: string) =>
  Object.values(resources).filter((resource) => resource.Type === type);
const routeKeys = (resources: Record<string, Resource>) =>
  ofType(resources, 'AWS::ApiGatewayV2::Route').map((route) => String(route.Properties?.RouteKey));

/** The context as `-c key=value` gives it. */
const context = (values: Record<string, unknown>) => ({ tryGetContext: (key: string) => values[key] });

describe('frontDoor httpApi, the default', () => {
  it('synthesizes the same template as no frontDoor at all: webhook routes on the HTTP API, no function URL, no reserved concurrency', () => {
    const unset = synth();
    const httpApi = synth({ frontDoor: 'httpApi' });
    expect(httpApi.template.toJSON()).toEqual(unset.template.toJSON());
    expect(DEFAULT_CONFIG.frontDoor).toBe('httpApi');
    expect(routeKeys(unset.resources)).toEqual(
      expect.arrayContaining([
        'ANY /webhooks/{provider}',
        'ANY /webhooks/{provider}/{token}',
        'POST /webhooks/sori',
      ]),
    );
    expect(ofType(unset.resources, 'AWS::Lambda::Url')).toEqual([]);
    expect(unset.resources[unset.receiveId]?.Properties?.ReservedConcurrentExecutions).toBeUndefined();
    expect(unset.inbox.functionUrl).toBeUndefined();
  });
});

describe('frontDoor functionUrl', () => {
  const door = synth({ frontDoor: 'functionUrl' });

  it('puts a function URL with auth NONE on the receive function, with both permissions a public function URL needs', () => {
    const urls = ofType(door.resources, 'AWS::Lambda::Url');
    expect(urls.map((url) => url.Properties)).toEqual([
      { AuthType: 'NONE', TargetFunctionArn: { 'Fn::GetAtt': [door.receiveId, 'Arn'] } },
    ]);
    const permissions = ofType(door.resources, 'AWS::Lambda::Permission')
      .map((permission) => permission.Properties ?? {})
      .filter((properties) => JSON.stringify(properties.FunctionName).includes(door.receiveId));
    // Since October 2025 a public function URL needs lambda:InvokeFunctionUrl and lambda:InvokeFunction (the
    // latter only through the function URL) in the function's resource-based policy.
    expect(permissions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Action: 'lambda:InvokeFunctionUrl',
          Principal: '*',
          FunctionUrlAuthType: 'NONE',
        }),
        expect.objectContaining({
          Action: 'lambda:InvokeFunction',
          Principal: '*',
          InvokedViaFunctionUrl: true,
        }),
      ]),
    );
    expect(permissions).toHaveLength(2);
  });

  it("throttles by the receive function's reserved concurrency: 20 by default, receiveReservedConcurrency to set it", () => {
    expect(DEFAULT_RECEIVE_RESERVED_CONCURRENCY).toBe(20);
    expect(door.resources[door.receiveId]?.Properties?.ReservedConcurrentExecutions).toBe(20);
    const set = synth({ frontDoor: 'functionUrl', receiveReservedConcurrency: 50 });
    expect(set.resources[set.receiveId]?.Properties?.ReservedConcurrentExecutions).toBe(50);
  });

  it('keeps the HTTP API for the campaign dashboard, its routes behind the JWT authorizer, and gives it no webhook route', () => {
    const keys = routeKeys(door.resources);
    expect(keys.filter((key) => key.includes('/webhooks'))).toEqual([]);
    expect(keys).toEqual(expect.arrayContaining(['GET /dashboard', 'GET /api/dashboard']));
    expect(
      ofType(door.resources, 'AWS::ApiGatewayV2::Authorizer').map((a) => a.Properties?.AuthorizerType),
    ).toEqual(['JWT']);
    // Nothing invokes the receive function through API Gateway.
    const viaApiGateway = ofType(door.resources, 'AWS::Lambda::Permission').filter(
      (permission) =>
        permission.Properties?.Principal === 'apigateway.amazonaws.com' &&
        JSON.stringify(permission.Properties?.FunctionName).includes(door.receiveId),
    );
    expect(viaApiGateway).toEqual([]);
  });

  it("points the WebhookUrl output at the function URL's /webhooks/sori, with the same output names as the HTTP API's", () => {
    const outputs = door.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    const urlId = Object.entries(door.resources).find(
      ([, resource]) => resource.Type === 'AWS::Lambda::Url',
    )?.[0];
    expect(outputs.WebhookUrl?.Value).toEqual({
      'Fn::Join': ['', [{ 'Fn::GetAtt': [urlId, 'FunctionUrl'] }, 'webhooks/sori']],
    });
    expect(Object.keys(outputs).sort()).toEqual(Object.keys(synth().template.toJSON().Outputs).sort());
  });

  it('reports no unacknowledged AwsSolutions finding, and acknowledges the public function URL where a pack flags it', () => {
    expect(new AwsSolutionsChecks(door.app).validateScope(door.stack).violations).toEqual([]);
    const nist = new NIST80053R5Checks(door.app).validateScope(door.stack).violations.map((v) => v.ruleName);
    expect(nist).not.toContain('NIST.800.53.R5-LambdaFunctionPublicAccessProhibited');
    // The same pack does flag a public function URL nobody acknowledged.
    const controlApp = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const control = new Stack(controlApp, 'Control');
    new lambda.Function(control, 'Open', {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => ({})'),
    }).addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
    expect(
      new NIST80053R5Checks(controlApp).validateScope(control).violations.map((v) => v.ruleName),
    ).toContain('NIST.800.53.R5-LambdaFunctionPublicAccessProhibited');
  });

  it("alarms on the function URL's 5xx, the receive function's throttles (429) and a 4xx rate over half, on the alarms' topic and the operations dashboard; none of them with the HTTP API in front", () => {
    const alerted = synth({ frontDoor: 'functionUrl', alarmEmail: 'ops@example.com' });
    const alarms = Object.values(alerted.template.findResources('AWS::CloudWatch::Alarm')).map(
      (alarm) => alarm.Properties as Record<string, unknown>,
    );
    const byMetric = (name: string) =>
      alarms.find(
        (alarm) =>
          JSON.stringify(alarm).includes(`"${name}"`) && JSON.stringify(alarm).includes(alerted.receiveId),
      );
    for (const name of ['Url5xxCount', 'Throttles', 'Url4xxCount']) {
      const alarm = byMetric(name);
      expect(alarm, name).toBeDefined();
      expect(JSON.stringify(alarm?.AlarmActions)).toContain('AlarmTopic');
    }
    expect(JSON.stringify(byMetric('Url4xxCount'))).toContain('UrlRequestCount');
    const dashboard = Object.values(alerted.template.findResources('AWS::CloudWatch::Dashboard'))[0];
    const body = JSON.stringify(dashboard?.Properties?.DashboardBody);
    const urlAlarmIds = Object.entries(alerted.template.findResources('AWS::CloudWatch::Alarm'))
      .filter(([id]) => id.includes('FunctionUrl'))
      .map(([id]) => id);
    expect(urlAlarmIds).toHaveLength(3);
    for (const id of urlAlarmIds) expect(body).toContain(id);
    const plain = JSON.stringify(
      synth({ alarmEmail: 'ops@example.com' }).template.findResources('AWS::CloudWatch::Alarm'),
    );
    expect(plain).not.toContain('Url5xxCount');
    expect(plain).not.toContain('Url4xxCount');
  });

  it("words the HTTP API's alarms as the campaign dashboard's, not the webhooks', when the webhooks come through the function URL", () => {
    const describeAlarm = (resources: Record<string, Resource>, prefix: string) =>
      Object.entries(resources)
        .filter(([id, r]) => r.Type === 'AWS::CloudWatch::Alarm' && id.includes(`Monitoring${prefix}`))
        .map(([, r]) => String(r.Properties?.AlarmDescription));
    const httpApi = synth();
    for (const prefix of ['Receive5xxAlarm', 'ClientErrorRateAlarm', 'ThrottledAlarm']) {
      const behindUrl = describeAlarm(door.resources, prefix);
      expect(behindUrl).toHaveLength(1);
      expect(behindUrl[0]).toMatch(/^The HTTP API serves the campaign dashboard only/);
      expect(describeAlarm(httpApi.resources, prefix)[0]).not.toMatch(/campaign dashboard only/);
    }
  });

  it('is read from context, and the stack built from it has the function URL', () => {
    const config = readConfig(context({ frontDoor: 'functionUrl' }));
    expect(config.frontDoor).toBe('functionUrl');
    const app = new App({
      context: { 'aws:cdk:bundling-stacks': [] },
      builtinCloudFormationValidation: false,
    });
    const stack = new CampaignInboxStack(app, 'FromContext', { config });
    expect(Object.keys(Template.fromStack(stack).findResources('AWS::Lambda::Url'))).toHaveLength(1);
  });
});

describe('what frontDoor refuses at synth, by name', () => {
  it('refuses a frontDoor other than httpApi or functionUrl, from context or props', () => {
    expect(() => readConfig(context({ frontDoor: 'lambdaUrl' }))).toThrow(
      'context frontDoor must be httpApi or functionUrl, got "lambdaUrl"',
    );
    expect(() => synth({ frontDoor: 'alb' as InboxConfig['frontDoor'] })).toThrow(
      /context frontDoor must be/,
    );
  });

  it('refuses with functionUrl what needs the HTTP API webhook routes: providerThrottles, providerApps, wafRateLimit', () => {
    expect(() =>
      synth({ frontDoor: 'functionUrl', providerThrottles: { sori: { rateLimit: 50, burstLimit: 100 } } }),
    ).toThrow(/context providerThrottles needs frontDoor httpApi/);
    expect(() => synth({ frontDoor: 'functionUrl', providerApps: { sori: ['agency-a'] } })).toThrow(
      /context providerApps needs frontDoor httpApi/,
    );
    expect(() => synth({ frontDoor: 'functionUrl', wafRateLimit: 1000 })).toThrow(
      /context wafRateLimit needs frontDoor httpApi/,
    );
    expect(() =>
      readConfig(context({ frontDoor: 'functionUrl', providerThrottles: '{"sori":{"rateLimit":50}}' })),
    ).toThrow(/context providerThrottles needs frontDoor httpApi/);
    // The same options are taken with the HTTP API in front.
    expect(() =>
      synth({
        providerThrottles: { sori: { rateLimit: 50, burstLimit: 100 } },
        providerApps: { sori: ['agency-a'] },
      }),
    ).not.toThrow();
  });

  it('refuses receiveReservedConcurrency with the HTTP API in front, and out of range', () => {
    expect(() => synth({ receiveReservedConcurrency: 10 })).toThrow(
      /receiveReservedConcurrency needs frontDoor functionUrl/,
    );
    for (const value of [0, 901, 2.5])
      expect(() => synth({ frontDoor: 'functionUrl', receiveReservedConcurrency: value })).toThrow(
        /receiveReservedConcurrency must be an integer from 1 to 900/,
      );
  });
});
