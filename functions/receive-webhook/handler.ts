import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { loadReceiveConfig } from '../../lib/config';
import { createLogger } from '../../lib/log';
import { EventQueue } from '../../lib/queue/event-queue';
import { SecretsManagerSigningSecrets, StaticSigningSecrets } from '../../lib/signature/signing-secrets';
import { createReceiveHandler } from './receive-webhook';

// Once per container: a missing variable fails the cold start loudly.
const config = loadReceiveConfig();
// SORI gives up after 5 s: fail fast with one retry so a 503 comes back in time and SORI retries later.
const sqs = new SQSClient({
  maxAttempts: 2,
  requestHandler: { connectionTimeout: 1_000, requestTimeout: 1_500 },
});
const secrets =
  config.secrets.source === 'secrets-manager'
    ? new SecretsManagerSigningSecrets(
        new SecretsManagerClient({}),
        config.secrets.secretArn,
        config.secrets.ttlMs,
      )
    : new StaticSigningSecrets(config.secrets.document);

export const handler = createReceiveHandler({
  queue: new EventQueue(sqs, config.queueUrl),
  secrets,
  maxBodyBytes: config.maxBodyBytes,
  logger: createLogger('receive-webhook'),
});
