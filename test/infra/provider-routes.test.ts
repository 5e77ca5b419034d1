import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { CampaignInboxStack } from '../../infra/campaign-inbox-stack';
import { DEFAULT_CONFIG, type InboxConfig, readConfig } from '../../infra/config';
import { CampaignInbox } from '../../infra/constructs/campaign-inbox';
import { readEnabledProviders } from '../../lib/config';
import { isBuiltInProvider, providerNames, setConfiguredProviders } from '../../lib/providers';
import { parseCustomProviders, registerCustomProviders } from '../../lib/providers/declarative';

type Resource = ReturnType<Template['findResources']>[string];
type Settings = Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }>;

/** Synthesizes without bundling (no esbuild run) and without the slow built-in CloudFormation validation. */
function synth(overrides: Partial<InboxConfig> = {}, env?: { account: string; region: string }) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new CampaignInboxStack(app, 'Test', {
    config: { ...DEFAULT_CONFIG, ...overrides },
    ...(env ? { env } : {}),
  });
  const template = Template.fromStack(stack);
  return { app, stack, template, resources: template.toJSON().Resources as Record<string, Resource> };
}

/** Reads the configuration from a context of strings, as `-c key=value` gives it. */
const fromContext = (context: Record<string, string>) =>
  readConfig({ tryGetContext: (key: string) => context[key] });

const ofType = (resources: Record<string, Resource>, type: string) =>
  Object.entries(resources).filter(([, resource]) => resource.Type === type);

function stageOf(resources: Record<string, Resource>) {
  const stages = ofType(resources, 'AWS::ApiGatewayV2::Stage');
  expect(stages).toHaveLength(1);
  const [id, stage] = stages[0] as [string, Resource];
  return { id, stage, settings: (stage.Properties.RouteSettings ?? {}) as Settings };
}

const routeKeys = (resources: Record<string, Resource>) =>
  ofType(resources, 'AWS::ApiGatewayV2::Route').map(([, route]) => String(route.Properties.RouteKey));

const ownRoutes = (name: string) => [`POST /webhooks/${name}`, `POST /webhooks/${name}/{token}`];

/** Two providers added by configuration alone (the worked example of docs/custom-providers.md). */
const CUSTOM_PROVIDERS = JSON.stringify([
  {
    name: 'acme-ads',
    scheme: 'hmac',
    header: 'x-acme-signature',
    algorithm: 'sha256',
    encoding: 'hex',
    prefix: 'sha256=',
    signedContent: '{timestamp}.{body}',
    timestampHeader: 'x-acme-timestamp',
    toleranceSeconds: 300,
    fields: {
      id: 'event_id',
      time: 'occurred_at',
      event: 'type',
      campaign: 'data.campaign.id',
      campaign_name: 'data.campaign.name',
      device: 'data.viewer.device_id',
    },
    events: ['ad.viewed', 'ad.clicked', 'ad.hidden'],
    counted: { impressions: ['ad.viewed'], clicks: ['ad.clicked'] },
  },
  {
    name: 'beacon',
    scheme: 'standard-webhooks',
    fields: { time: 'timestamp', event: 'type', campaign: 'data.campaign_id', device: 'data.device_id' },
    counted: { impressions: ['impression.recorded'], clicks: ['click.recorded'] },
  },
]);

/** The environments of the functions that have `variable`. */
function environmentsWith(resources: Record<string, Resource>, variable: string) {
  return ofType(resources, 'AWS::Lambda::Function')
    .map(([, fn]) => (fn.Properties.Environment?.Variables ?? {}) as Record<string, unknown>)
    .filter((variables) => variable in variables);
}

describe('per-provider routes and throttles', () => {
  it("gives each served provider POST /webhooks/<name> and POST /webhooks/<name>/{token} on the receive function, each throttled 100/s with bursts of 200 by default (the stage's limit before, now SORI's alone), and leaves every other path and method to the catch-all routes on the stage's default", () => {
    const { resources } = synth();
    const { id, stage, settings } = stageOf(resources);
    const keys = routeKeys(resources);
    const routes = ofType(resources, 'AWS::ApiGatewayV2::Route');
    const targetOf = (key: string) =>
      JSON.stringify(routes.find(([, route]) => route.Properties.RouteKey === key)?.[1].Properties.Target);
    for (const name of providerNames()) {
      for (const key of ownRoutes(name)) {
        expect(keys, key).toContain(key);
        expect(settings[key], key).toEqual({ ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 });
        // The same integration as the catch-all route: the receive function.
        expect(targetOf(key), key).toBe(targetOf('ANY /webhooks/{provider}'));
      }
    }
    // A provider not served, and any method but POST, still reach the function (404, 405) on the stage's default.
    expect(keys).toEqual(
      expect.arrayContaining(['ANY /webhooks/{provider}', 'ANY /webhooks/{provider}/{token}']),
    );
    expect(settings['ANY /webhooks/{provider}']).toBeUndefined();
    expect(settings['ANY /webhooks/{provider}/{token}']).toBeUndefined();
    expect(stage.Properties.DefaultRouteSettings).toEqual({
      ThrottlingRateLimit: 100,
      ThrottlingBurstLimit: 200,
    });
    // Every route the settings name exists, and CloudFormation makes it before the stage.
    const routeIds = new Map(routes.map(([routeId, route]) => [route.Properties.RouteKey, routeId]));
    for (const key of Object.keys(settings)) {
      expect(routeIds.has(key), key).toBe(true);
      expect(resources[id]?.DependsOn, key).toContain(routeIds.get(key));
    }
  });

  it('takes each provider’s throttle from providerThrottles (context JSON): a missing burst is twice the rate, a provider not listed keeps 100/200', () => {
    const config = fromContext({
      providerThrottles: JSON.stringify({
        sori: { rateLimit: 300, burstLimit: 600 },
        symphony: { rateLimit: 5 },
      }),
    });
    expect(config.providerThrottles).toEqual({
      sori: { rateLimit: 300, burstLimit: 600 },
      symphony: { rateLimit: 5, burstLimit: 10 },
    });
    const { settings } = stageOf(synth(config).resources);
    for (const key of ownRoutes('sori'))
      expect(settings[key]).toEqual({ ThrottlingRateLimit: 300, ThrottlingBurstLimit: 600 });
    for (const key of ownRoutes('symphony'))
      expect(settings[key]).toEqual({ ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 });
    for (const key of ownRoutes('optimizely'))
      expect(settings[key]).toEqual({ ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 });
  });

  it('gives routes of their own only to the providers served: one left out of providers is answered by the catch-all route', () => {
    const { resources } = synth({ providers: ['sori'] });
    const webhookRoutes = routeKeys(resources).filter((key) => key.includes('/webhooks/'));
    expect(webhookRoutes.sort()).toEqual(
      ['ANY /webhooks/{provider}', 'ANY /webhooks/{provider}/{token}', ...ownRoutes('sori')].sort(),
    );
    expect(
      Object.keys(stageOf(resources).settings)
        .filter((key) => key.includes('/webhooks/'))
        .sort(),
    ).toEqual(ownRoutes('sori').sort());
  });

  it("lets no stage-wide limit below SORI's starve it: with the stage throttled to 1 request a second, SORI's routes keep their own limits, and nothing else in the template throttles them", () => {
    const { resources } = synth({ throttleRateLimit: 1, throttleBurstLimit: 1 });
    const { stage, settings } = stageOf(resources);
    expect(stage.Properties.DefaultRouteSettings).toEqual({
      ThrottlingRateLimit: 1,
      ThrottlingBurstLimit: 1,
    });
    for (const key of ownRoutes('sori'))
      expect(settings[key], key).toEqual({ ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 });
    // API Gateway keeps one bucket per route: the stage's default applies to a route without settings of its
    // own, never as a total over the routes. Nothing else could cap them: no usage plan, no second stage, no
    // WAF unless asked for.
    for (const type of [
      'AWS::ApiGateway::UsagePlan',
      'AWS::WAFv2::WebACL',
      'AWS::WAFv2::WebACLAssociation',
      'AWS::CloudFront::Distribution',
    ]) {
      expect(ofType(resources, type), type).toEqual([]);
    }
    expect(ofType(resources, 'AWS::ApiGatewayV2::Stage')).toHaveLength(1);
  });

  it('gives each provider configured in customProviders (context JSON) routes of its own with its throttle, and the receive and dashboard functions CUSTOM_PROVIDERS, which their cold start reads back', () => {
    const config = fromContext({
      customProviders: CUSTOM_PROVIDERS,
      providerThrottles: '{"acme-ads":{"rateLimit":7}}',
    });
    const { resources } = synth(config);
    const { settings } = stageOf(resources);
    for (const key of ownRoutes('acme-ads'))
      expect(settings[key], key).toEqual({ ThrottlingRateLimit: 7, ThrottlingBurstLimit: 14 });
    for (const key of ownRoutes('beacon'))
      expect(settings[key], key).toEqual({ ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 });
    for (const key of ownRoutes('sori')) expect(settings[key], key).toBeDefined();

    // The dashboard function (it has TOKEN_ISSUER) and the receive function (SIGNING_SECRET_ARN) both get it.
    const withCustom = environmentsWith(resources, 'CUSTOM_PROVIDERS');
    expect(
      withCustom
        .map((variables) => ['SIGNING_SECRET_ARN', 'TOKEN_ISSUER'].find((name) => name in variables))
        .sort(),
    ).toEqual(['SIGNING_SECRET_ARN', 'TOKEN_ISSUER']);
    for (const variables of withCustom) {
      expect(variables.PROVIDERS).toBeUndefined();
      const json = String(variables.CUSTOM_PROVIDERS);
      expect(parseCustomProviders(json, 'CUSTOM_PROVIDERS')).toEqual(parseCustomProviders(CUSTOM_PROVIDERS));
      try {
        registerCustomProviders(json);
        expect(providerNames().filter((name) => !isBuiltInProvider(name))).toEqual(['acme-ads', 'beacon']);
      } finally {
        setConfiguredProviders([]);
      }
    }
  });

  it('serves every configured provider besides the built-in ones listed in providers, and names them all in PROVIDERS, which the cold start accepts', () => {
    const { resources } = synth(fromContext({ providers: 'sori', customProviders: CUSTOM_PROVIDERS }));
    expect(
      routeKeys(resources)
        .filter((key) => key.startsWith('POST /webhooks/'))
        .sort(),
    ).toEqual([...ownRoutes('sori'), ...ownRoutes('acme-ads'), ...ownRoutes('beacon')].sort());
    const withProviders = environmentsWith(resources, 'PROVIDERS');
    expect(withProviders).toHaveLength(2);
    for (const variables of withProviders) {
      expect(variables.PROVIDERS).toBe('sori,acme-ads,beacon');
      try {
        registerCustomProviders(String(variables.CUSTOM_PROVIDERS));
        expect(readEnabledProviders({ PROVIDERS: String(variables.PROVIDERS) }, providerNames())).toEqual([
          'sori',
          'acme-ads',
          'beacon',
        ]);
      } finally {
        setConfiguredProviders([]);
      }
    }
  });

  it('refuses a customProviders configuration the functions would refuse at cold start, naming the provider and the field, at synth and in the construct', () => {
    const broken = JSON.parse(CUSTOM_PROVIDERS) as Array<{ fields: Record<string, string> }>;
    delete broken[0]?.fields.campaign;
    expect(() => fromContext({ customProviders: JSON.stringify(broken) })).toThrow(
      /provider "acme-ads", fields\.campaign: required/,
    );
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Theirs');
    expect(
      () =>
        new CampaignInbox(stack, 'Inbox', {
          customProviders: broken as unknown as InboxConfig['customProviders'],
        }),
    ).toThrow('acme-ads');
  });

  it('refuses providerThrottles naming a provider not served, a field it does not know, or a value outside API Gateway’s range, naming the key', () => {
    const bad: [Record<string, string>, string][] = [
      [{ providerThrottles: '{"acme":{"rateLimit":5}}' }, 'acme'],
      [{ providers: 'sori', providerThrottles: '{"symphony":{"rateLimit":5}}' }, 'symphony'],
      [{ providerThrottles: '{"sori":{"rate":5}}' }, 'providerThrottles.sori'],
      [{ providerThrottles: '{"sori":{"rateLimit":0}}' }, 'providerThrottles.sori.rateLimit'],
      [{ providerThrottles: '{"sori":{"rateLimit":1.5}}' }, 'providerThrottles.sori.rateLimit'],
      [{ providerThrottles: '{"sori":{"burstLimit":5001}}' }, 'providerThrottles.sori.burstLimit'],
      [{ providerThrottles: '{"sori":50}' }, 'providerThrottles.sori'],
      [{ providerThrottles: '[50]' }, 'providerThrottles'],
      [{ providerThrottles: 'sori=50' }, 'providerThrottles'],
    ];
    for (const [context, named] of bad) {
      expect(() => fromContext(context), JSON.stringify(context)).toThrow(named);
    }
    // A user's stack passes props directly: the construct checks them too.
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Theirs');
    expect(
      () =>
        new CampaignInbox(stack, 'Inbox', { providerThrottles: { acme: { rateLimit: 5, burstLimit: 10 } } }),
    ).toThrow('acme');
  });
});

describe('AWS WAF in front, through CloudFront (wafRateLimit)', () => {
  it('adds no WAF and no CloudFront distribution by default', () => {
    const { resources, template } = synth();
    expect(ofType(resources, 'AWS::WAFv2::WebACL')).toEqual([]);
    expect(ofType(resources, 'AWS::CloudFront::Distribution')).toEqual([]);
    expect(template.toJSON().Outputs.ProtectedWebhookUrl).toBeUndefined();
  });

  it('puts a rate-based rule per IP address (429 past wafRateLimit requests in 5 minutes) in a CloudFront web ACL, and a distribution that forwards everything to the API uncached, with the URL to paste as an output', () => {
    const config = fromContext({ wafRateLimit: '2000' });
    expect(config.wafRateLimit).toBe(2000);
    const { resources, template } = synth(config);
    const acls = ofType(resources, 'AWS::WAFv2::WebACL');
    expect(acls).toHaveLength(1);
    const [aclId, acl] = acls[0] as [string, Resource];
    expect(acl.Properties).toMatchObject({ Scope: 'CLOUDFRONT', DefaultAction: { Allow: {} } });
    expect(acl.Properties.Rules).toEqual([
      expect.objectContaining({
        Statement: {
          RateBasedStatement: { Limit: 2000, AggregateKeyType: 'IP', EvaluationWindowSec: 300 },
        },
        Action: { Block: { CustomResponse: { ResponseCode: 429 } } },
      }),
    ]);

    const distributions = ofType(resources, 'AWS::CloudFront::Distribution');
    expect(distributions).toHaveLength(1);
    const [distributionId, distribution] = distributions[0] as [string, Resource];
    const config_ = distribution.Properties.DistributionConfig;
    expect(config_.WebACLId).toEqual({ 'Fn::GetAtt': [aclId, 'Arn'] });
    const [apiId] = ofType(resources, 'AWS::ApiGatewayV2::Api')[0] as [string, Resource];
    expect(config_.Origins).toEqual([
      expect.objectContaining({
        DomainName: { 'Fn::Select': [2, { 'Fn::Split': ['/', { 'Fn::GetAtt': [apiId, 'ApiEndpoint'] }] }] },
        CustomOriginConfig: expect.objectContaining({
          OriginProtocolPolicy: 'https-only',
          OriginSSLProtocols: ['TLSv1.2'],
        }),
      }),
    ]);
    expect(config_.DefaultCacheBehavior).toMatchObject({
      AllowedMethods: expect.arrayContaining(['POST', 'GET']),
      ViewerProtocolPolicy: 'https-only',
      // CloudFront's managed policies: CachingDisabled, and AllViewerExceptHostHeader (API Gateway finds the
      // API by its own host name).
      CachePolicyId: '4135ea2d-6df8-44a3-9df3-4b5a84be39ad',
      OriginRequestPolicyId: 'b689b0a8-53d0-40ab-baf2-68738e2966ac',
    });

    const output = template.toJSON().Outputs.ProtectedWebhookUrl;
    expect(output.Description).toContain('SORI Console');
    expect(output.Value).toEqual({
      'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }, '/webhooks/sori']],
    });
    // The API's own throttles stay as they are behind it.
    expect(stageOf(resources).settings['POST /webhooks/sori']).toEqual({
      ThrottlingRateLimit: 100,
      ThrottlingBurstLimit: 200,
    });
  });

  it('needs the stack in us-east-1, where CloudFront web ACLs live: refused at synth in another Region, asserted by a template rule when the Region is not known until deployment, and no rule when it is us-east-1', () => {
    expect(() => synth({ wafRateLimit: 2000 }, { account: '123456789012', region: 'eu-west-1' })).toThrow(
      /us-east-1.*eu-west-1/,
    );
    // Besides CDK's own rule on the bootstrap version.
    const regionRules = (template: Template) =>
      Object.values((template.toJSON().Rules ?? {}) as Record<string, unknown>).filter((rule) =>
        JSON.stringify(rule).includes('wafRateLimit'),
      );
    expect(regionRules(synth({ wafRateLimit: 2000 }).template)).toEqual([
      {
        Assertions: [
          {
            Assert: { 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'us-east-1'] },
            AssertDescription: expect.stringContaining('us-east-1'),
          },
        ],
      },
    ]);
    const inUsEast1 = synth({ wafRateLimit: 2000 }, { account: '123456789012', region: 'us-east-1' });
    expect(regionRules(inUsEast1.template)).toEqual([]);
    expect(ofType(inUsEast1.resources, 'AWS::WAFv2::WebACL')).toHaveLength(1);
  });

  it('refuses a wafRateLimit outside AWS WAF’s bounds (10 to 2,000,000,000 requests in 5 minutes), naming it', () => {
    for (const value of ['9', '0', 'lots', '2000000001', '100.5']) {
      expect(() => fromContext({ wafRateLimit: value }), value).toThrow('wafRateLimit');
    }
  });

  it('reports no unacknowledged cdk-nag finding with the firewall on, in us-east-1 and Region-agnostic', () => {
    for (const env of [undefined, { account: '123456789012', region: 'us-east-1' }]) {
      const { app, stack } = synth({ wafRateLimit: 2000 }, env);
      const violations = new AwsSolutionsChecks(app).validateScope(stack).violations;
      expect(
        violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.resourceLogicalId)}`),
      ).toEqual([]);
    }
  });
});

describe("alarms on the stage's 4xx and 429 answers", () => {
  const { resources } = synth();
  const alarms = ofType(resources, 'AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties);

  it("counts the stage's 429 answers from its access logs, by API, and alarms on the first one in 5 minutes", () => {
    const [stageId, stage] = ofType(resources, 'AWS::ApiGatewayV2::Stage')[0] as [string, Resource];
    expect(JSON.parse(stage.Properties.AccessLogSettings.Format)).toMatchObject({
      apiId: '$context.apiId',
      status: '$context.status',
    });
    const filters = ofType(resources, 'AWS::Logs::MetricFilter').map(([, filter]) => filter.Properties);
    expect(filters).toHaveLength(1);
    expect(filters[0]).toMatchObject({
      FilterPattern: '{ $.status = "429" }',
      LogGroupName: { Ref: stage.Properties.AccessLogSettings.DestinationArn['Fn::GetAtt'][0] },
      MetricTransformations: [
        {
          MetricNamespace: 'CampaignInbox',
          MetricName: 'ThrottledRequests',
          MetricValue: '1',
          Dimensions: [{ Key: 'ApiId', Value: '$.apiId' }],
        },
      ],
    });
    expect(stageId).toBeDefined();
    const [apiId] = ofType(resources, 'AWS::ApiGatewayV2::Api')[0] as [string, Resource];
    const throttled = alarms.find((alarm) => alarm.MetricName === 'ThrottledRequests');
    expect(throttled).toMatchObject({
      Namespace: 'CampaignInbox',
      Dimensions: [{ Name: 'ApiId', Value: { Ref: apiId } }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
    expect(throttled?.AlarmDescription).toContain('429');
  });

  it('alarms when over half of at least 50 requests in 5 minutes were answered 4xx, from API Gateway’s own 4xx and Count', () => {
    const rate = alarms.find((alarm) => String(alarm.AlarmDescription).includes('answered 4xx'));
    expect(rate?.Threshold).toBe(50);
    expect(rate?.ComparisonOperator).toBe('GreaterThanThreshold');
    const metrics = rate?.Metrics as Array<{
      Expression?: string;
      MetricStat?: { Metric: { MetricName: string; Namespace: string } };
    }>;
    expect(metrics.find((m) => m.Expression)?.Expression).toBe('IF(n >= 50, 100 * e / n, 0)');
    expect(
      metrics
        .filter((m) => m.MetricStat)
        .map((m) => `${m.MetricStat?.Metric.Namespace} ${m.MetricStat?.Metric.MetricName}`)
        .sort(),
    ).toEqual(['AWS/ApiGateway 4xx', 'AWS/ApiGateway Count']);
  });

  it('notifies the alarm e-mail of both, as every other alarm', () => {
    const { resources: withEmail } = synth({ alarmEmail: 'ops@example.com' });
    const described = ofType(withEmail, 'AWS::CloudWatch::Alarm')
      .map(([, alarm]) => alarm.Properties)
      .filter((alarm) => /429|answered 4xx/.test(String(alarm.AlarmDescription)));
    expect(described).toHaveLength(2);
    for (const alarm of described) {
      expect(alarm.AlarmActions).toHaveLength(1);
      expect(alarm.OKActions).toHaveLength(1);
    }
  });
});
