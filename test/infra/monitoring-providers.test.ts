import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterEach, describe, expect, it } from 'vitest';
import { CampaignInboxStack } from '../../infra/campaign-inbox-stack';
import { DEFAULT_CONFIG, type InboxConfig } from '../../infra/config';
import { allProviders, isBuiltInProvider, setConfiguredProviders } from '../../lib/providers';
import { parseCustomProviders, registerCustomProviders } from '../../lib/providers/declarative';

/** Two providers added by configuration: one that lists its events, one known by what it counts. */
const CUSTOM_PROVIDERS = [
  {
    name: 'acme-ads',
    scheme: 'hmac',
    header: 'x-acme-signature',
    algorithm: 'sha256',
    encoding: 'hex',
    fields: { id: 'event_id', time: 'occurred_at', event: 'type', campaign: 'data.campaign.id' },
    events: ['ad.viewed', 'ad.clicked', 'ad.hidden'],
    counted: { impressions: ['ad.viewed'], clicks: ['ad.clicked'] },
  },
  {
    name: 'beacon',
    scheme: 'standard-webhooks',
    fields: { time: 'timestamp', event: 'type', campaign: 'data.campaign_id' },
    counted: { impressions: ['impression.recorded'], clicks: ['click.recorded'] },
  },
];

/** The event names the operations dashboard graphs, from its `Accepted.<event>` metrics. */
function graphedEvents(overrides: Partial<InboxConfig> = {}): string[] {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new CampaignInboxStack(app, 'Test', { config: { ...DEFAULT_CONFIG, ...overrides } });
  const dashboards = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard'));
  expect(dashboards).toHaveLength(1);
  const body = JSON.stringify(dashboards[0]?.Properties.DashboardBody);
  return [...body.matchAll(/\\"Accepted\.([^\\"]+)\\"/g)].map((match) => match[1] ?? '');
}

const builtInEvents = () =>
  allProviders()
    .filter((provider) => isBuiltInProvider(provider.name))
    .flatMap((provider) => provider.events);

afterEach(() => setConfiguredProviders([]));

describe('the operations dashboard and the configured providers', () => {
  it('graphs the accepted events of every provider configured in customProviders besides the built-in ones: the events a provider lists, or else those it counts', () => {
    const events = graphedEvents({ customProviders: parseCustomProviders(CUSTOM_PROVIDERS) });
    expect(events).toEqual([
      ...builtInEvents(),
      'ad.viewed',
      'ad.clicked',
      'ad.hidden',
      'impression.recorded',
      'click.recorded',
    ]);
  });

  it('graphs the built-in providers’ events alone without customProviders, even when the synthesizing process serves configured providers', () => {
    registerCustomProviders(JSON.stringify(CUSTOM_PROVIDERS));
    expect(graphedEvents()).toEqual(builtInEvents());
  });
});
