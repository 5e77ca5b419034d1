import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { withinTime } from '../aws/deadline';
import type { SendMessage } from './event-queue';

/**
 * `SendMessage` through the AWS SDK's client (the local stack, the tools, the tests). Given a deadline, the
 * client's own tries are aborted when it comes, and none starts after it.
 */
export const sdkSendMessage =
  (client: Pick<SQSClient, 'send'>): SendMessage =>
  (input, deadline) => {
    const command = new SendMessageCommand(input);
    if (deadline === undefined) return client.send(command);
    return withinTime(Number.POSITIVE_INFINITY, deadline, (abortSignal) =>
      client.send(command, { abortSignal }),
    );
  };
