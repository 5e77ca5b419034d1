import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { S3RawStore } from '../../lib/blobs/raw-store';
import type { ReceiveConfig } from '../../lib/config';
import { EmfMetrics } from '../../lib/emf-metrics';
import { createLambdaLogger, type Level } from '../../lib/log';
import { METRICS_NAMESPACE } from '../../lib/metrics';
import { EventQueue } from '../../lib/queue/event-queue';
import { SecretsManagerSigningSecrets, StaticSigningSecrets } from '../../lib/signature/signing-secrets';
import { flushMetrics } from './flush-metrics';
import { createReceiveHandler } from './receive-webhook';

/**
 * The SQS client's settings besides transport and credentials. SORI gives up after 5 s: one retry at most, so a
 * 503 comes back in time and SORI retries later. `cacheMiddleware` builds the middleware stack once instead of
 * per request; the message's MD5 is not checked on the answer (the request is signed, over TLS).
 */
export const RECEIVE_SQS_OPTIONS = { maxAttempts: 2, cacheMiddleware: true, md5: false } as const;

/** How often accepted counts are flushed when nothing else asks for it. */
export const METRICS_FLUSH_MS = 60_000;

export interface ReceiveRuntime {
  sqs: SQSClient;
  /** Made on first use, when the secret comes from Secrets Manager. */
  secretsManager: () => SecretsManagerClient;
  logLevel: Level;
  metricsFlushMs?: number;
}

/**
 * The receive function as deployed: the flow, a JSON-lines logger in Powertools' shape, counts flushed as embedded metrics (at once
 * for a refusal, else at most every minute), the flush registered first so it sees every count. The deployed
 * entry point and the benchmark both build it here, so what is measured is what runs.
 */
export function composeReceiveHandler(config: ReceiveConfig, runtime: ReceiveRuntime) {
  const logger = createLambdaLogger('receive-webhook', runtime.logLevel);
  const metrics = new EmfMetrics(METRICS_NAMESPACE, 'receive-webhook');
  const secrets =
    config.secrets.source === 'secrets-manager'
      ? new SecretsManagerSigningSecrets(runtime.secretsManager(), config.secrets.secretArn, {
          ttlMs: config.secrets.ttlMs,
          logger,
          metrics,
        })
      : new StaticSigningSecrets(config.secrets.document);
  return createReceiveHandler(
    {
      queue: new EventQueue(runtime.sqs, config.queueUrl),
      secrets,
      maxBodyBytes: config.maxBodyBytes,
      allowUnsigned: config.allowUnsigned,
      auth: config.auth,
      enabled: config.enabled,
      rawStore: config.rawBucket ? new S3RawStore(config.rawBucket) : undefined,
      logger,
      metrics,
    },
    flushMetrics(metrics, runtime.metricsFlushMs ?? METRICS_FLUSH_MS),
  );
}
