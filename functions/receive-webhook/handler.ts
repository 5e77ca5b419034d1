import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { S3RawStore } from '../../lib/blobs/raw-store';
import { loadReceiveConfig } from '../../lib/config';
import { fromPowertools } from '../../lib/log';
import { METRICS_NAMESPACE } from '../../lib/metrics';
import { PowertoolsMetrics } from '../../lib/powertools-metrics';
import { EventQueue } from '../../lib/queue/event-queue';
import { SecretsManagerSigningSecrets, StaticSigningSecrets } from '../../lib/signature/signing-secrets';
import { createReceiveHandler } from './receive-webhook';

// Once per container: a missing variable fails the cold start loudly.
const config = loadReceiveConfig();
const logger = new Logger({ serviceName: 'receive-webhook' });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'receive-webhook' });
// SORI gives up after 5 s: fail fast with one retry so a 503 comes back in time and SORI retries later.
const sqs = new SQSClient({
  maxAttempts: 2,
  requestHandler: { connectionTimeout: 1_000, requestTimeout: 1_500 },
});
const metricsSink = new PowertoolsMetrics(metrics);
// One short attempt: a failed refresh costs nothing while the cached secret keeps verifying (retried 30 s
// later), and a first read that hangs must not eat the 4 s the queue needs.
const secrets =
  config.secrets.source === 'secrets-manager'
    ? new SecretsManagerSigningSecrets(
        new SecretsManagerClient({
          maxAttempts: 1,
          requestHandler: { connectionTimeout: 1_000, requestTimeout: 1_000 },
        }),
        config.secrets.secretArn,
        { ttlMs: config.secrets.ttlMs, logger: fromPowertools(logger), metrics: metricsSink },
      )
    : new StaticSigningSecrets(config.secrets.document);

const rawStore = config.rawBucket ? new S3RawStore(config.rawBucket) : undefined;

export const handler = createReceiveHandler(
  {
    queue: new EventQueue(sqs, config.queueUrl),
    secrets,
    maxBodyBytes: config.maxBodyBytes,
    allowUnsigned: config.allowUnsigned,
    auth: config.auth,
    enabled: config.enabled,
    rawStore,
    logger: fromPowertools(logger),
    metrics: metricsSink,
  },
  logMetrics(metrics, { captureColdStartMetric: true }),
  injectLambdaContext(logger),
);
