import { AwsJsonClient, type AwsJsonClientOptions, serviceEndpoint } from '../aws/aws-json-client';
import type { SendMessage, SendMessageAnswer } from '../queue/event-queue';
import type { ReadSecret } from '../signature/signing-secrets';

type Tuning = Pick<AwsJsonClientOptions, 'maxAttempts' | 'timeoutMs' | 'transport' | 'credentials'>;

/**
 * SQS's `SendMessage` over its JSON protocol (`AmazonSQS.SendMessage`, `application/x-amz-json-1.0`). Only an
 * answer carrying the `MessageId` SQS gives every message it took counts as sent: a 2xx without one, an empty
 * body included, is tried again like any failure that may pass. Within a traced invocation the message carries its
 * trace header (`AWSTraceHeader`).
 */
export function sqsSendMessage(region: string, tuning: Tuning = {}, env = process.env): SendMessage {
  const client = new AwsJsonClient({
    service: 'sqs',
    region,
    endpoint: serviceEndpoint('sqs', region, env),
    targetPrefix: 'AmazonSQS',
    jsonVersion: '1.0',
    ...tuning,
  });
  return (input, deadline) => {
    // Lambda sets the invocation's X-Ray trace header here when tracing is on; sent as the message's
    // `AWSTraceHeader`, SQS hands it to the consumer, so one delivery can be followed to its stored record.
    const trace = env._X_AMZN_TRACE_ID;
    const message = trace
      ? { ...input, MessageSystemAttributes: { AWSTraceHeader: { DataType: 'String', StringValue: trace } } }
      : input;
    return client.call<SendMessageAnswer>('SendMessage', message, {
      deadline,
      accept: (answer) => typeof answer.MessageId === 'string' && answer.MessageId !== '',
    });
  };
}

/**
 * Secrets Manager's `GetSecretValue` (`secretsmanager.GetSecretValue`, `application/x-amz-json-1.1`). An answer
 * that carries no value at all (an empty body) is tried again, not read as an empty secret.
 */
export function secretsManagerReadSecret(region: string, tuning: Tuning = {}, env = process.env): ReadSecret {
  const client = new AwsJsonClient({
    service: 'secretsmanager',
    region,
    endpoint: serviceEndpoint('secretsmanager', region, env),
    targetPrefix: 'secretsmanager',
    jsonVersion: '1.1',
    ...tuning,
  });
  return async (secretId, deadline) =>
    (
      await client.call<{ SecretString?: string; SecretBinary?: string }>(
        'GetSecretValue',
        { SecretId: secretId },
        { deadline, accept: (answer) => 'SecretString' in answer || 'SecretBinary' in answer },
      )
    ).SecretString;
}
