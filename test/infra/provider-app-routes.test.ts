import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { ReceiverApi } from '../../infra/constructs/receiver-api';
import { appRouteKeys, parseProviderApps } from '../../lib/providers/apps';

type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] };

/** The receiver API alone, in front of a stand-in function (the receive function's bundle is not built). */
function synth(providers: ConstructorParameters<typeof ReceiverApi>[2]['providers']) {
  const app = new App({ builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Test');
  const handler = new lambda.Function(stack, 'Receive', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 202 })'),
  });
  new ReceiverApi(stack, 'Api', {
    handler,
    throttleRateLimit: 100,
    throttleBurstLimit: 200,
    logRetentionDays: 30,
    providers,
  });
  return Template.fromStack(stack).toJSON().Resources as Record<string, Resource>;
}

const ofType = (resources: Record<string, Resource>, type: string) =>
  Object.entries(resources).filter(([, resource]) => resource.Type === type);

describe('each app given a route of its own', () => {
  it("gets POST /webhooks/<provider>/<app>, a literal route API Gateway prefers to {token}, with the throttle providerThrottles gives <provider>/<app>, apart from its provider's", () => {
    const apps = parseProviderApps(
      '{"sori":["agency-a","agency-b"]}',
      ['sori', 'symphony'],
      (name) => name === 'sori',
    );
    const throttles: Record<string, { rateLimit: number; burstLimit: number }> = {
      sori: { rateLimit: 100, burstLimit: 200 },
      'sori/agency-a': { rateLimit: 5, burstLimit: 10 },
      'sori/agency-b': { rateLimit: 20, burstLimit: 40 },
    };
    expect(appRouteKeys(apps)).toEqual(['sori/agency-a', 'sori/agency-b']);
    const resources = synth([
      {
        name: 'sori',
        ...(throttles.sori as { rateLimit: number; burstLimit: number }),
        apps: (apps.sori ?? []).map((name) => ({
          name,
          ...(throttles[`sori/${name}`] as { rateLimit: number; burstLimit: number }),
        })),
      },
      { name: 'symphony', rateLimit: 50, burstLimit: 100 },
    ]);
    const routes = ofType(resources, 'AWS::ApiGatewayV2::Route').map(
      ([, route]) => route.Properties.RouteKey,
    );
    expect(routes).toEqual(
      expect.arrayContaining([
        'POST /webhooks/sori',
        'POST /webhooks/sori/{token}',
        'POST /webhooks/sori/agency-a',
        'POST /webhooks/sori/agency-b',
        'POST /webhooks/symphony/{token}',
      ]),
    );
    expect(routes.filter((key) => String(key).startsWith('POST /webhooks/symphony/'))).toEqual([
      'POST /webhooks/symphony/{token}',
    ]);
    const [[stageId, stage]] = ofType(resources, 'AWS::ApiGatewayV2::Stage') as [[string, Resource]];
    expect(stage.Properties.RouteSettings).toMatchObject({
      'POST /webhooks/sori': { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      'POST /webhooks/sori/{token}': { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      'POST /webhooks/sori/agency-a': { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 },
      'POST /webhooks/sori/agency-b': { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 },
    });
    // The stage names the app routes in its settings: they must exist first.
    const appRouteIds = ofType(resources, 'AWS::ApiGatewayV2::Route')
      .filter(([, route]) => /agency-/.test(String(route.Properties.RouteKey)))
      .map(([id]) => id);
    expect(appRouteIds).toHaveLength(2);
    expect(resources[stageId]?.DependsOn).toEqual(expect.arrayContaining(appRouteIds));
  });

  it('refuses an app whose name is not one path segment, or is given twice', () => {
    for (const apps of [[{ name: 'a/b' }], [{ name: '{token}' }], [{ name: 'x' }, { name: 'x' }]]) {
      expect(() =>
        synth([
          {
            name: 'sori',
            rateLimit: 1,
            burstLimit: 1,
            apps: apps.map((app) => ({ ...app, rateLimit: 1, burstLimit: 1 })),
          },
        ]),
      ).toThrow(/app .* cannot have a route of its own/);
    }
  });
});
