import { afterEach, describe, expect, it } from 'vitest';
import {
  type DashboardSettings,
  dashboardVariables,
  readDashboardEnvironment,
} from '../../functions/campaign-dashboard/config';
import { readRepairConfig, repairVariables } from '../../functions/repair-counters/config';
import {
  definedVariables,
  type EnvironmentOf,
  loadProcessConfig,
  processVariables,
  type ReceiveSettings,
  type ReceiveVariables,
  readReceiveConfig,
  readReceiveEnvironment,
  receiveVariables,
} from '../../lib/config';
import { levelFrom } from '../../lib/log';
import { isBuiltInProvider, providerNames, setConfiguredProviders } from '../../lib/providers';
import { parseCustomProviders } from '../../lib/providers/declarative';
import { loadPipelineHealthConfig } from '../../lib/queries/pipeline-health';
import { DEFAULT_SIGNAL_THRESHOLDS } from '../../lib/signals/thresholds';

const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/Inbox-EventsQueue-AbC_12';
const DLQ = 'https://sqs.eu-west-1.amazonaws.com/123456789012/Inbox-EventsDeadLetterQueue-Xy_9';
/** One provider added by configuration, as the stack checks it at synth. */
const CUSTOM = parseCustomProviders([
  {
    name: 'beacon',
    scheme: 'standard-webhooks',
    fields: { time: 'timestamp', event: 'type', campaign: 'data.campaign_id', device: 'data.device_id' },
    counted: { impressions: ['impression.recorded'], clicks: ['click.recorded'] },
  },
]);
const BUILT_IN = providerNames().filter(isBuiltInProvider);

/** What the stack hands a function: strings only, unset variables left out. */
const asDeployed = <Variables extends object>(variables: Variables): Record<string, string> =>
  definedVariables(variables);

afterEach(() => setConfiguredProviders([]));

describe('environment contracts: what the stack writes, each function reads back', () => {
  it('the receive function reads back every setting the stack writes, with and without configured providers, a provider list and authentication overrides', () => {
    const plain: ReceiveSettings = {
      queueUrl: QUEUE,
      signingSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:signing-AbC',
      maxBodyBytes: 262_144,
      allowUnsigned: false,
      rawBucket: 'inbox-rawbodies-1a2b',
      providers: { customProviders: [], served: [] },
      auth: {},
    };
    const configured: ReceiveSettings = {
      ...plain,
      allowUnsigned: true,
      providers: { customProviders: CUSTOM, served: ['sori', 'beacon'] },
      auth: { optimizely: { scheme: { kind: 'url-token' }, allowIps: ['193.169.180.1'] } },
    };
    for (const settings of [plain, configured]) {
      const env = asDeployed(receiveVariables(settings));
      const known = [
        ...BUILT_IN,
        ...(settings === configured ? CUSTOM.map((provider) => provider.name) : []),
      ];
      expect(readReceiveConfig(env, known)).toEqual({
        queueUrl: settings.queueUrl,
        maxBodyBytes: settings.maxBodyBytes,
        secrets: { source: 'secrets-manager', secretArn: settings.signingSecretArn, ttlMs: 300_000 },
        allowUnsigned: settings.allowUnsigned,
        auth: settings.auth,
        enabled: settings.providers.served.length > 0 ? settings.providers.served : known,
        rawBucket: settings.rawBucket,
      });
      expect(parseCustomProviders(env.CUSTOM_PROVIDERS, 'CUSTOM_PROVIDERS')).toEqual(
        settings.providers.customProviders,
      );
      expect(levelFrom(env.POWERTOOLS_LOG_LEVEL)).toBe('info');
      expect(readReceiveEnvironment(env, known)).toEqual({
        config: readReceiveConfig(env, known),
        logLevel: 'info',
        metricsFlushMs: undefined,
      });
    }
  });

  it('the receive function reads its tuning the stack does not write: a flush interval, and LOG_LEVEL when POWERTOOLS_LOG_LEVEL is unset', () => {
    const env = { QUEUE_URL: QUEUE, SORI_SECRET_KEY: 's', METRICS_FLUSH_SECONDS: '30', LOG_LEVEL: 'debug' };
    expect(readReceiveEnvironment(env, BUILT_IN)).toMatchObject({
      logLevel: 'debug',
      metricsFlushMs: 30_000,
    });
    expect(readReceiveEnvironment({ ...env, POWERTOOLS_LOG_LEVEL: 'WARN' }, BUILT_IN).logLevel).toBe('warn');
  });

  it('the process function reads back its table, its layout (0 days: kept for ever) and its dead-letter queue', () => {
    for (const [recordRetentionDays, retentionDays] of [
      [365, 365],
      [0, null],
    ] as const) {
      const env = asDeployed(
        processVariables({
          table: { tableName: 'Inbox-Records-1A2B', shards: 4, recordRetentionDays },
          dlqUrl: DLQ,
        }),
      );
      expect(loadProcessConfig(env)).toEqual({
        tableName: 'Inbox-Records-1A2B',
        layout: { shards: 4, retentionDays },
        staleAfterMs: 60_000,
        dlqUrl: DLQ,
      });
      expect(levelFrom(env.POWERTOOLS_LOG_LEVEL)).toBe('info');
    }
  });

  it("the counter repair reads back the table and layout the consumer writes with, and the signals' thresholds", () => {
    const table = { tableName: 'Inbox-Records-1A2B', shards: 8, recordRetentionDays: 30 };
    const signals = { ...DEFAULT_SIGNAL_THRESHOLDS, ctr: 0.35, clicksPerMinute: 20 };
    expect(readRepairConfig(asDeployed(repairVariables({ table, signals }))).signals).toEqual(signals);
    const repair = readRepairConfig(asDeployed(repairVariables({ table })));
    const process = loadProcessConfig(asDeployed(processVariables({ table, dlqUrl: DLQ })));
    expect(repair).toEqual({
      tableName: table.tableName,
      layout: { shards: 8, retentionDays: 30 },
      staleAfterMs: 60_000,
      logLevel: 'info',
      signals: DEFAULT_SIGNAL_THRESHOLDS,
    });
    expect(repair).toMatchObject({
      tableName: process.tableName,
      layout: process.layout,
      staleAfterMs: process.staleAfterMs,
    });
  });

  it('the dashboard function reads back its table, token issuer and client, sign-in URL, configured providers and where delivery health is read', () => {
    const settings: DashboardSettings = {
      table: { tableName: 'Inbox-Records-1A2B', shards: 2, recordRetentionDays: 0 },
      tokenIssuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf',
      tokenClientId: '4c1ient1d',
      signInUrl: 'https://inbox-1a2b3c-0123456789ab.auth.eu-west-1.amazoncognito.com',
      health: { namespace: 'CampaignInbox', service: 'receive-webhook', queueUrl: QUEUE, dlqUrl: DLQ },
      providers: { customProviders: CUSTOM, served: ['sori', 'beacon'] },
    };
    const env: Record<string, string> = {
      ...asDeployed(dashboardVariables(settings)),
      AWS_REGION: 'eu-west-1',
    };
    // The order the handler reads in: the configured providers first, then delivery health, which names them.
    const read = readDashboardEnvironment(env);
    expect(read).toEqual({
      config: {
        tableName: settings.table.tableName,
        layout: { shards: 2, retentionDays: null },
        tokenIssuer: settings.tokenIssuer,
        tokenClientId: settings.tokenClientId,
        jwksUrl: `${settings.tokenIssuer}/.well-known/jwks.json`,
        signInUrl: settings.signInUrl,
        signals: DEFAULT_SIGNAL_THRESHOLDS,
      },
      customProviders: ['beacon'],
      logLevel: 'info',
    });
    expect(loadPipelineHealthConfig(env)).toEqual({
      region: 'eu-west-1',
      namespace: 'CampaignInbox',
      service: 'receive-webhook',
      providers: ['sori', 'beacon'],
      queueUrl: QUEUE,
      dlqUrl: DLQ,
    });
  });

  it('the dashboard function given no queues and no provider list reads every provider and no queue', () => {
    const env = asDeployed(
      dashboardVariables({
        table: { tableName: 't', shards: 1, recordRetentionDays: 365 },
        tokenIssuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf',
        tokenClientId: 'c',
        signInUrl: 'https://x.auth.eu-west-1.amazoncognito.com',
        health: { namespace: 'CampaignInbox', service: 'receive-webhook' },
        providers: { customProviders: [], served: [] },
      }),
    );
    expect(Object.keys(env)).not.toContain('QUEUE_URL');
    expect(readDashboardEnvironment(env).customProviders).toEqual([]);
    expect(loadPipelineHealthConfig(env)).toMatchObject({
      providers: providerNames(),
      queueUrl: undefined,
      dlqUrl: undefined,
    });
  });

  it('every variable the stack writes is one its function reads (a name renamed on one side only is left unread)', () => {
    const table = { tableName: 't', shards: 1, recordRetentionDays: 365 };
    const receive = asDeployed(
      receiveVariables({
        queueUrl: QUEUE,
        signingSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:s',
        maxBodyBytes: 1024,
        allowUnsigned: false,
        rawBucket: 'b',
        providers: { customProviders: CUSTOM, served: ['sori', 'beacon'] },
        auth: { sori: { scheme: { kind: 'url-token' } } },
      }),
    );
    const known = [...BUILT_IN, 'beacon'];
    // The receive handler serves CUSTOM_PROVIDERS before it reads the rest, so that the names it knows include them.
    expect(unread(receive, (env) => readReceiveEnvironment(env, known))).toEqual(['CUSTOM_PROVIDERS']);
    // Powertools' own logger reads POWERTOOLS_LOG_LEVEL in the process function.
    expect(unread(asDeployed(processVariables({ table, dlqUrl: DLQ })), loadProcessConfig)).toEqual([
      'POWERTOOLS_LOG_LEVEL',
    ]);
    expect(unread(asDeployed(repairVariables({ table })), readRepairConfig)).toEqual([]);
    const dashboard = asDeployed(
      dashboardVariables({
        table,
        tokenIssuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf',
        tokenClientId: 'c',
        signInUrl: 'https://x.auth.eu-west-1.amazoncognito.com',
        health: { namespace: 'CampaignInbox', service: 'receive-webhook', queueUrl: QUEUE, dlqUrl: DLQ },
        providers: { customProviders: CUSTOM, served: ['sori', 'beacon'] },
      }),
    );
    expect(
      unread(dashboard, (env) => {
        readDashboardEnvironment(env);
        loadPipelineHealthConfig(env);
      }),
    ).toEqual([]);
  });
});

/** @returns the variables of `env` that `read` never looked at, sorted. */
function unread(env: Record<string, string>, read: (env: Record<string, string>) => unknown): string[] {
  const seen = new Set<string | symbol>();
  read(
    new Proxy(env, {
      get(target, name, receiver) {
        seen.add(name);
        return Reflect.get(target, name, receiver);
      },
    }),
  );
  return Object.keys(env)
    .filter((name) => !seen.has(name))
    .sort();
}

// A reader takes only the names its function is written with, and a builder must give each one: both are
// compile errors (`npm run check` type-checks this file).
// @ts-expect-error QUEUE_URLS is no variable of the receive function's.
const misspelt: EnvironmentOf<ReceiveVariables> = { QUEUE_URLS: QUEUE };
// @ts-expect-error every variable the stack writes must be given a value.
const missing: ReceiveVariables = { QUEUE_URL: QUEUE };
void [misspelt, missing];
