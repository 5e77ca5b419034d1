import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { fromEnv } from '@aws-sdk/credential-provider-env';
import { loadReceiveConfig } from '../../lib/config';
import { levelFrom } from '../../lib/log';
import { composeReceiveHandler, RECEIVE_SQS_OPTIONS } from './compose';

// Once per container: a missing variable fails the cold start loudly.
const config = loadReceiveConfig();
// Lambda gives a function its role's credentials in the environment: the default provider chain (files,
// SSO, instance metadata, ...) would only be loaded, and cost a third of the client's import, to get there.
const credentials = fromEnv();

export const handler = composeReceiveHandler(config, {
  sqs: new SQSClient({
    ...RECEIVE_SQS_OPTIONS,
    credentials,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 1_500 },
  }),
  // One short attempt: a failed refresh costs nothing while the cached secret keeps verifying (retried 30 s
  // later), and a first read that hangs must not eat the 4 s the queue needs.
  secretsManager: () =>
    new SecretsManagerClient({
      credentials,
      maxAttempts: 1,
      requestHandler: { connectionTimeout: 1_000, requestTimeout: 1_000 },
    }),
  logLevel: levelFrom(process.env.POWERTOOLS_LOG_LEVEL ?? process.env.LOG_LEVEL),
  metricsFlushMs: process.env.METRICS_FLUSH_SECONDS
    ? Number(process.env.METRICS_FLUSH_SECONDS) * 1000
    : undefined,
});
