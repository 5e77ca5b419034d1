import type { SendMessage } from '../queue/event-queue';
import type { ReadSecret } from '../signature/signing-secrets';
import { AwsJsonClient, type AwsJsonClientOptions, serviceEndpoint } from './aws-json-client';

type Tuning = Pick<AwsJsonClientOptions, 'maxAttempts' | 'timeoutMs' | 'transport' | 'credentials'>;

/** SQS's `SendMessage` over its JSON protocol (`AmazonSQS.SendMessage`, `application/x-amz-json-1.0`). */
export function sqsSendMessage(region: string, tuning: Tuning = {}, env = process.env): SendMessage {
  const client = new AwsJsonClient({
    service: 'sqs',
    region,
    endpoint: serviceEndpoint('sqs', region, env),
    targetPrefix: 'AmazonSQS',
    jsonVersion: '1.0',
    ...tuning,
  });
  return (input) => client.call('SendMessage', input);
}

/** Secrets Manager's `GetSecretValue` (`secretsmanager.GetSecretValue`, `application/x-amz-json-1.1`). */
export function secretsManagerReadSecret(region: string, tuning: Tuning = {}, env = process.env): ReadSecret {
  const client = new AwsJsonClient({
    service: 'secretsmanager',
    region,
    endpoint: serviceEndpoint('secretsmanager', region, env),
    targetPrefix: 'secretsmanager',
    jsonVersion: '1.1',
    ...tuning,
  });
  return async (secretId) =>
    (await client.call<{ SecretString?: string }>('GetSecretValue', { SecretId: secretId })).SecretString;
}
