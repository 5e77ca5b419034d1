import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { dashboardVariables } from '../../functions/campaign-dashboard/config';
import { repairVariables } from '../../functions/repair-counters/config';
import { CampaignInboxStack } from '../../infra/campaign-inbox-stack';
import { DEFAULT_CONFIG, type InboxConfig } from '../../infra/config';
import { processVariables, receiveVariables } from '../../lib/config';
import { parseCustomProviders } from '../../lib/providers/declarative';

/** Each function's environment in the template, by the folder its handler is in (the variables tell them apart). */
function environments(overrides: Partial<InboxConfig>): Record<string, Record<string, unknown>> {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new CampaignInboxStack(app, 'Test', { config: { ...DEFAULT_CONFIG, ...overrides } });
  const byName: Record<string, Record<string, unknown>> = {};
  for (const fn of Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'))) {
    const variables = (fn.Properties.Environment?.Variables ?? {}) as Record<string, unknown>;
    const name =
      'SIGNING_SECRET_ARN' in variables
        ? 'receive'
        : 'TOKEN_ISSUER' in variables
          ? 'dashboard'
          : 'DLQ_URL' in variables
            ? 'process'
            : 'TABLE_NAME' in variables
              ? 'repair'
              : undefined;
    if (name) byName[name] = variables;
  }
  return byName;
}

const names = (variables: object) => Object.keys(variables).sort();
const table = { tableName: 't', shards: 1, recordRetentionDays: 365 };

describe('what the stack writes in each function’s environment', () => {
  it.each([
    ['the defaults', {}],
    [
      'configured providers, a provider list and authentication overrides',
      {
        providers: ['sori'],
        customProviders: parseCustomProviders([
          {
            name: 'beacon',
            scheme: 'standard-webhooks',
            fields: { time: 'timestamp', event: 'type', campaign: 'data.campaign_id' },
          },
        ]),
        auth: { sori: { scheme: { kind: 'url-token' } } },
      },
    ],
  ] as [string, Partial<InboxConfig>][])(
    'is, with %s, the variables each function’s own builder writes and no other',
    (_, overrides) => {
      const config = { ...DEFAULT_CONFIG, ...overrides };
      const providers = {
        customProviders: config.customProviders,
        served: config.providers.length > 0 ? ['sori', 'beacon'] : [],
      };
      const written = environments(overrides);
      expect(names(written.receive ?? {})).toEqual(
        names(
          receiveVariables({
            queueUrl: 'q',
            signingSecretArn: 's',
            maxBodyBytes: 1,
            allowUnsigned: false,
            rawBucket: 'b',
            providers,
            auth: config.auth,
          }),
        ),
      );
      expect(names(written.process ?? {})).toEqual(names(processVariables({ table, dlqUrl: 'd' })));
      expect(names(written.repair ?? {})).toEqual(names(repairVariables({ table })));
      expect(names(written.dashboard ?? {})).toEqual(
        names(
          dashboardVariables({
            table,
            tokenIssuer: 'i',
            tokenClientId: 'c',
            signInUrl: 'u',
            health: { namespace: 'n', service: 's', queueUrl: 'q', dlqUrl: 'd' },
            providers,
          }),
        ),
      );
    },
  );
});
