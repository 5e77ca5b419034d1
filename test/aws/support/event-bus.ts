/** EventBridge in moto for the destination and replay tests: its API as the administrator, and a bus to read. */
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { AwsJsonClient } from '../../../lib/aws/aws-json-client';
import { EVENT_SOURCE } from '../../../lib/destinations/eventbridge';
import { uniqueName } from '../../support/local-aws';
import { MOTO_REGION } from './iam';
import { moto } from './moto';

/** EventBridge's API in moto, as the administrator. */
export function events() {
  const { endpoint, admin } = moto();
  return new AwsJsonClient({
    service: 'events',
    region: MOTO_REGION,
    endpoint,
    targetPrefix: 'AWSEvents',
    jsonVersion: '1.1',
    credentials: () => admin,
    maxAttempts: 1,
    timeoutMs: 10_000,
  });
}

/** A bus whose every `campaign-inbox` event goes to a new queue, where a test reads what a target receives. */
export async function busToQueue() {
  const { sqs } = moto();
  const bus = uniqueName('bus');
  await events().call('CreateEventBus', { Name: bus });
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('bus-target') }));
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  const rule = uniqueName('all');
  await events().call('PutRule', {
    Name: rule,
    EventBusName: bus,
    EventPattern: JSON.stringify({ source: [EVENT_SOURCE] }),
  });
  await events().call('PutTargets', {
    Rule: rule,
    EventBusName: bus,
    Targets: [{ Id: 'queue', Arn: Attributes?.QueueArn }],
  });
  return { bus, queueUrl: QueueUrl as string };
}
