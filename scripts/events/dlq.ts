// `events dlq list|show <id>|purge`: the dead-letter queue, looked at without taking anything off it.
import { createInterface } from 'node:readline/promises';
import { peekDeadLetters, purgeDeadLetters } from '../../lib/queue/dead-letters';
import { UsageError } from '../entry';
import { type QueueTarget, resolveQueueTarget } from '../local-target';
import { forTerminal } from '../terminal-text';
import { type CommandSpec, command, type Values } from './command';
import { type EventsIo, line } from './io';
import { print } from './output';

export const spec: CommandSpec = {
  name: 'dlq',
  usage: `dlq          the dead-letter queue, looked at without taking anything off it
    dlq list           each message: id, sent at, receive count, provider, event, record id, size, and
                       why it is there (when the consumer said)
    dlq show <id>      one message's whole body
    dlq purge          delete every message (asks first; --yes to skip the question)
    --stack <name>     the deployed stack's DLQ (default: the local stack on DATA_DIR)
    --json             one JSON object per line`,
  flags: ['stack', 'region', 'json', 'yes'],
  // The action, and the id `show` takes.
  words: (words) => (words[0] === 'show' ? 2 : 1),
};

/** `true` once the user has said yes to deleting every dead letter (`--yes`, or "yes" typed at a terminal). */
async function confirmed(values: Values, io: EventsIo): Promise<boolean> {
  if (values.yes) return true;
  if (!io.stdin.isTTY) throw new UsageError('dlq purge deletes every dead letter: add --yes to confirm');
  const answer = await createInterface({ input: io.stdin, output: io.stderr }).question(
    'Delete every message in the dead-letter queue? Type "yes": ',
  );
  return answer.trim() === 'yes';
}

async function show(target: QueueTarget, id: string, json: boolean, io: EventsIo): Promise<number> {
  const letter = (await peekDeadLetters(target.client, target.dlqUrl)).find(
    (candidate) => candidate.message_id === id,
  );
  if (!letter) {
    line(io.stderr, `events: no message ${forTerminal(id)} in the dead-letter queue`);
    return 1;
  }
  line(io.stdout, json ? JSON.stringify(letter) : forTerminal(letter.body));
  return 0;
}

async function list(target: QueueTarget, json: boolean, io: EventsIo): Promise<number> {
  const letters = await peekDeadLetters(target.client, target.dlqUrl);
  const rows = json ? letters : letters.map(({ body: _, ...row }) => row);
  print(io, rows, json, [
    'message_id',
    'sent_at',
    'receive_count',
    'provider',
    'event',
    'record_id',
    'bytes',
    'reason',
  ]);
  return 0;
}

export const run = command(spec, async (values, [action, id], io) => {
  if (action !== 'list' && action !== 'show' && action !== 'purge') {
    throw new UsageError('dlq needs list, show <id> or purge');
  }
  if (action === 'show' && !id) throw new UsageError('dlq show needs a message id (from dlq list)');
  if (action === 'purge' && !(await confirmed(values, io))) {
    line(io.stderr, 'events: nothing deleted');
    return 1;
  }
  const target = await resolveQueueTarget({ stack: values.stack, region: values.region });
  try {
    if (action === 'show') return await show(target, String(id), values.json, io);
    if (action === 'list') return await list(target, values.json, io);
    await purgeDeadLetters(target.client, target.dlqUrl);
    line(io.stderr, 'events: the dead-letter queue is purged');
    return 0;
  } finally {
    target.close();
  }
});
