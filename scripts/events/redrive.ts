// `events redrive`: the dead-letter queue's messages back to the events queue, after a fix.
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { moveDeadLetters, redriveMessages } from '../../lib/queue/redrive';
import { type QueueTarget, resolveQueueTarget } from '../local-target';
import { type CommandSpec, command } from './command';
import { type EventsIo, line } from './io';

export const spec: CommandSpec = {
  name: 'redrive',
  usage: `redrive      move the dead-letter queue's messages back to the events queue (after a fix)
    --stack <name>     the deployed stack's queues (default: the local stack on DATA_DIR)`,
  flags: ['stack', 'region'],
};

/** In AWS, SQS moves the messages itself: this only starts the task and reports its progress. */
async function moveInAws(target: QueueTarget, io: EventsIo): Promise<number> {
  const arnOf = async (queueUrl: string) =>
    (
      await target.client.send(
        new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
      )
    ).Attributes?.QueueArn ?? '';
  const result = await moveDeadLetters(
    target.client,
    { deadLetterQueueArn: await arnOf(target.dlqUrl), queueArn: await arnOf(target.queueUrl) },
    {
      onProgress: (moved, toMove) =>
        line(io.stderr, `redrive: ${moved}${toMove === undefined ? '' : ` of ${toMove}`} moved`),
    },
  );
  line(
    io.stderr,
    `redrive: ${result.status.toLowerCase()}, ${result.moved} moved back to the events queue${result.failureReason ? ` (${result.failureReason})` : ''}`,
  );
  return result.status === 'COMPLETED' ? 0 : 1;
}

/** The local SQS-API server has no move task: the same move as a receive, send and delete loop. */
async function moveLocally(target: QueueTarget, io: EventsIo): Promise<number> {
  const { moved, failed } = await redriveMessages(target.client, target.dlqUrl, target.queueUrl);
  line(
    io.stderr,
    `redrive: ${moved} moved back to the events queue${failed ? `, ${failed} refused (still in the DLQ)` : ''}`,
  );
  return failed === 0 ? 0 : 1;
}

export const run = command(spec, async (values, _words, io) => {
  const target = await resolveQueueTarget({ stack: values.stack, region: values.region });
  try {
    return await (values.stack ? moveInAws(target, io) : moveLocally(target, io));
  } finally {
    target.close();
  }
});
