import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SendMessage } from './event-queue';

/** `SendMessage` through the AWS SDK's client (the local stack, the tools, the tests). */
export const sdkSendMessage =
  (client: Pick<SQSClient, 'send'>): SendMessage =>
  (input) =>
    client.send(new SendMessageCommand(input));
