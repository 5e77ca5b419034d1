import { S3RawStore } from '../../lib/blobs/raw-store';
import type { ReceiveConfig } from '../../lib/config';
import { EmfMetrics } from '../../lib/emf-metrics';
import { createLambdaLogger, type Level } from '../../lib/log';
import { METRICS_NAMESPACE } from '../../lib/metrics';
import { providerNames } from '../../lib/providers';
import { EventQueue, type SendMessage } from '../../lib/queue/event-queue';
import {
  type ReadSecret,
  SecretsManagerSigningSecrets,
  StaticSigningSecrets,
} from '../../lib/signature/signing-secrets';
import { flushMetrics } from './flush-metrics';
import { createReceiveHandler } from './receive-webhook';

/**
 * How the receive function calls SQS. SORI gives up after 5 s and the function after 4 s: two tries of at most
 * 1.2 s each, both cut shorter by the invocation's deadline (what the secret and S3 left of it), so a slow queue
 * gets a 503 in time and SORI retries later.
 */
export const RECEIVE_SQS_TUNING = { maxAttempts: 2, timeoutMs: 1_200 } as const;
/**
 * How it reads the signing secret: one short try, within the invocation's deadline. A failed refresh costs
 * nothing while the cached secret keeps verifying (retried 30 s later), and a first read that hangs must not eat
 * the time the queue needs.
 */
export const RECEIVE_SECRET_TUNING = { maxAttempts: 1, timeoutMs: 1_000 } as const;

/** How often accepted counts are flushed when nothing else asks for it. */
export const METRICS_FLUSH_MS = 60_000;

export interface ReceiveRuntime {
  sendMessage: SendMessage;
  /** Used when the secret comes from Secrets Manager. */
  readSecret: ReadSecret;
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
  const metrics = new EmfMetrics(METRICS_NAMESPACE, 'receive-webhook', undefined, providerNames());
  const secrets =
    config.secrets.source === 'secrets-manager'
      ? new SecretsManagerSigningSecrets(runtime.readSecret, config.secrets.secretArn, {
          ttlMs: config.secrets.ttlMs,
          logger,
          metrics,
        })
      : new StaticSigningSecrets(config.secrets.document);
  return createReceiveHandler(
    {
      queue: new EventQueue(runtime.sendMessage, config.queueUrl),
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
