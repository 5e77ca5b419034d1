import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { routeProvider } from '../../functions/receive-webhook/route-provider';
import { CampaignInboxStack } from '../../infra/campaign-inbox-stack';
import { DEFAULT_CONFIG } from '../../infra/config';
import { providerNames } from '../../lib/providers';
import { webhookEvent } from '../support/deliveries';

// The tests' webhook events (test/support/deliveries.ts) carry the route a deployed stack matches: each is held
// against the routes of the synthesized stack, so a change to the stack's routes shows up in the helper's tests.

/** The route keys of the default stack (every built-in provider served), synthesized without bundling. */
function synthesizedRouteKeys(): string[] {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new CampaignInboxStack(app, 'Routes', { config: DEFAULT_CONFIG });
  const resources = Template.fromStack(stack).toJSON().Resources as Record<
    string,
    { Type: string; Properties: { RouteKey?: string } }
  >;
  return Object.values(resources)
    .filter((resource) => resource.Type === 'AWS::ApiGatewayV2::Route')
    .map((resource) => String(resource.Properties.RouteKey));
}

/** The path variables a route key names, as API Gateway passes them (none: no `pathParameters` at all). */
const variablesOf = (routeKey: string) =>
  [...routeKey.matchAll(/\{(\w+)\}/g)].map((match) => match[1]).sort();

describe('webhookEvent: the route a deployed stack matches', () => {
  const routes = synthesizedRouteKeys();

  it.each(providerNames())(
    'a POST to %s is on the provider’s own routes of the synthesized stack, with and without a URL token',
    (provider) => {
      const plain = webhookEvent({ provider });
      const tokened = webhookEvent({ provider, token: 'tok_1' });

      expect(plain.routeKey).toBe(`POST /webhooks/${provider}`);
      expect(tokened.routeKey).toBe(`POST /webhooks/${provider}/{token}`);
      for (const event of [plain, tokened]) {
        expect(routes).toContain(event.routeKey);
        expect(Object.keys(event.pathParameters ?? {}).sort()).toEqual(variablesOf(event.routeKey));
        expect(event.requestContext.routeKey).toBe(event.routeKey);
        expect(routeProvider(event)).toBe(provider);
      }
      expect(tokened.pathParameters).toEqual({ token: 'tok_1' });
      expect(tokened.rawPath).toBe(`/webhooks/${provider}/tok_1`);
    },
  );

  it('any other method, a provider not served, or catchAll: true is on the synthesized catch-all route, whose {provider} names it', () => {
    const events = [
      webhookEvent({ method: 'GET' }),
      webhookEvent({ provider: 'not-served' }),
      webhookEvent({ provider: 'sori', catchAll: true }),
      webhookEvent({ provider: 'adreform', token: 'tok_2', catchAll: true }),
    ];

    expect(events.map((event) => event.routeKey)).toEqual([
      'ANY /webhooks/{provider}',
      'ANY /webhooks/{provider}',
      'ANY /webhooks/{provider}',
      'ANY /webhooks/{provider}/{token}',
    ]);
    for (const event of events) {
      expect(routes).toContain(event.routeKey);
      expect(Object.keys(event.pathParameters ?? {}).sort()).toEqual(variablesOf(event.routeKey));
    }
    expect(events.map(routeProvider)).toEqual(['sori', 'not-served', 'sori', 'adreform']);
  });
});
