import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { QueueUnavailableError } from '../../lib/errors';
import type { QueueMessage } from '../../lib/events/event-record';
import { sori } from '../../lib/providers/sori';
import { EventQueue, toAsciiJson } from '../../lib/queue/event-queue';
import { sdkSendMessage } from '../../lib/queue/sdk-send-message';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { queueContents } from '../../local/aws-servers';
import {
  DeliveryJournal,
  type DeliveryJournalOptions,
  type SegmentFile,
  setAsidePathOf,
} from '../../local/delivery-journal';
import { queueDepth } from '../../local/local-stack';
import { memoryLogger, soriPayload } from '../support/deliveries';
import { createTestQueues, localClients, takeMessages } from '../support/local-aws';

const { sqs } = localClients();
const dirs: string[] = [];

afterAll(async () => {
  sqs.destroy();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function journalDir() {
  const root = await mkdtemp(join(tmpdir(), 'campaign-inbox-journal-'));
  dirs.push(root);
  return join(root, 'journal');
}

/** A distinct SORI impression as the receive handler queues it; `padding` characters make it larger. */
function delivery(name: string, padding = 0): QueueMessage {
  const payload = {
    ...soriPayload('impression'),
    activity_id: `act_journal_${name}`,
    ...(padding > 0 ? { metadata: { padding: 'p'.repeat(padding) } } : {}),
  };
  return buildQueueMessage(sori, Buffer.from(JSON.stringify(payload)), new Date().toISOString());
}

const ENOSPC = () =>
  Object.assign(new Error('ENOSPC: no space left on device, write'), {
    code: 'ENOSPC',
    errno: -28,
    syscall: 'write',
  });

/**
 * A segment file whose writes a test can make fail as a full disk does. A stand-in by necessity: a real full
 * disk is not producible here. Everything else is the real file.
 */
function faultySegments(fault: { write?: 'partial' | 'nothing'; truncate?: boolean }) {
  return async (path: string): Promise<SegmentFile> => {
    const handle = await open(path, 'wx', 0o600);
    return {
      write: async (buffer, offset, length, position) => {
        if (fault.write === 'partial') {
          // The disk fills up mid-write: the first half of the bytes land, then ENOSPC.
          fault.write = undefined;
          await handle.write(buffer, offset, Math.ceil(length / 2), position);
          throw ENOSPC();
        }
        if (fault.write === 'nothing') throw ENOSPC();
        return handle.write(buffer, offset, length, position);
      },
      datasync: () => handle.datasync(),
      truncate: async (length) => {
        if (fault.truncate) throw Object.assign(new Error('EIO: i/o error, ftruncate'), { code: 'EIO' });
        await handle.truncate(length);
      },
      close: () => handle.close(),
    };
  };
}

async function openJournal(
  dir: string,
  queues: { queueUrl: string; dlqUrl: string },
  extra: Partial<DeliveryJournalOptions> = {},
) {
  const log = memoryLogger();
  const alerts: string[] = [];
  const opened = await DeliveryJournal.open({
    dir,
    sqs,
    queueUrl: queues.queueUrl,
    dlqUrl: queues.dlqUrl,
    queue: new EventQueue(sdkSendMessage(sqs), queues.queueUrl),
    inspect: (url) => queueContents(inject('sqsEndpoint'), url),
    depth: (url) => queueDepth(sqs, url),
    makeTableDurable: async () => undefined,
    logger: log.logger,
    alert: (line) => alerts.push(line),
    ...extra,
  });
  return { ...opened, log, alerts };
}

const sorted = (bodies: string[]) => [...bodies].sort();

/** Moves one message from a queue to its DLQ, as the redrive policy does after too many receives. */
async function deadLetter(client: SQSClient, queues: { queueUrl: string; dlqUrl: string }) {
  const { Messages = [] } = await client.send(
    new ReceiveMessageCommand({ QueueUrl: queues.queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }),
  );
  const [message] = Messages;
  if (!message) throw new Error('no message to dead-letter');
  await client.send(new SendMessageCommand({ QueueUrl: queues.dlqUrl, MessageBody: message.Body ?? '' }));
  await client.send(
    new DeleteMessageCommand({ QueueUrl: queues.queueUrl, ReceiptHandle: message.ReceiptHandle ?? '' }),
  );
  return message.Body ?? '';
}

describe('delivery journal: disk faults', () => {
  it.each([
    { name: 'truncated back', truncate: false },
    { name: 'left in place because the truncate fails too', truncate: true },
  ])(
    'a write cut short by ENOSPC never swallows the next accepted delivery: all 33 acknowledged are replayed after a crash (torn bytes $name)',
    async ({ truncate }) => {
      const dir = await journalDir();
      const fault: { write?: 'partial' | 'nothing'; truncate?: boolean } = { truncate };
      const first = await openJournal(dir, await createTestQueues(sqs), {
        openSegment: faultySegments(fault),
      });
      const accepted: string[] = [];
      const send = async (name: string) => {
        const message = delivery(name);
        await first.journal.send(message);
        accepted.push(toAsciiJson(message));
      };
      for (let i = 0; i < 20; i++) await send(`before_${i}`);
      fault.write = 'partial';
      await expect(send('torn')).rejects.toBeInstanceOf(QueueUnavailableError);
      for (let i = 0; i < 13; i++) await send(`after_${i}`);
      expect(accepted).toHaveLength(33);

      // The process dies here (nothing closed); the next start replays the journal into fresh queues.
      const queues = await createTestQueues(sqs);
      const second = await openJournal(dir, queues);
      expect(second.replayed.events).toBe(33);
      expect(sorted(await takeMessages(sqs, queues.queueUrl))).toEqual(sorted(accepted));
    },
  );

  it('answers every delivery with a refusal while the disk is full, says so in one line, and takes deliveries again once there is room', async () => {
    const dir = await journalDir();
    const fault: { write?: 'partial' | 'nothing' } = {};
    const queues = await createTestQueues(sqs);
    const { journal, alerts } = await openJournal(dir, queues, { openSegment: faultySegments(fault) });
    await journal.send(delivery('room'));
    fault.write = 'nothing';
    for (let i = 0; i < 5; i++)
      await expect(journal.send(delivery(`full_${i}`))).rejects.toBeInstanceOf(QueueUnavailableError);
    expect(alerts).toEqual([
      expect.stringMatching(/cannot write .*no space left on the disk \(ENOSPC\).*503/),
    ]);
    fault.write = undefined;
    await journal.send(delivery('room_again'));
    await journal.send(delivery('room_again_2'));
    expect(alerts).toHaveLength(2);
    expect(alerts[1]).toMatch(/writes again/);
    expect(await takeMessages(sqs, queues.queueUrl)).toHaveLength(3);
  });
});

describe('delivery journal: replay', () => {
  it('replays twelve ~110 KB deliveries in batches SQS takes (at most 1 MiB each), where one batch of ten is refused', async () => {
    const dir = await journalDir();
    const first = await openJournal(dir, await createTestQueues(sqs));
    const accepted: string[] = [];
    for (let i = 0; i < 12; i++) {
      const message = delivery(`large_${i}`, 108_000);
      expect(toAsciiJson(message).length).toBeGreaterThan(105_000);
      await first.journal.send(message);
      accepted.push(toAsciiJson(message));
    }
    const queues = await createTestQueues(sqs);
    const second = await openJournal(dir, queues);
    expect(second.replayed.events).toBe(12);
    expect(sorted(await takeMessages(sqs, queues.queueUrl))).toEqual(sorted(accepted));
  });

  it('sets an entry the queue refuses (a 1.2 MiB quarantine) aside in a file beside the journal with one warning line, and replays the rest', async () => {
    const dir = await journalDir();
    const before = toAsciiJson(delivery('before_refused'));
    const after = toAsciiJson(delivery('after_refused'));
    const refused = toAsciiJson(
      buildQueueMessage(sori, Buffer.from(`{"not json${'x'.repeat(1_260_000)}`), new Date().toISOString()),
    );
    expect(refused.length).toBeGreaterThan(1_048_576);
    // A journal as an older version left it: the oversized entry between two ordinary ones.
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(
      join(dir, '0000000001.log'),
      [before, refused, after].map((b) => `${JSON.stringify({ q: 'events', b })}\n`).join(''),
      { mode: 0o600 },
    );
    const queues = await createTestQueues(sqs);
    const { replayed, alerts } = await openJournal(dir, queues);
    expect(replayed.events).toBe(2);
    expect(sorted(await takeMessages(sqs, queues.queueUrl))).toEqual(sorted([before, after]));
    const aside = setAsidePathOf(dir);
    expect(aside.startsWith(join(dir, '..'))).toBe(true);
    const lines = (await readFile(aside, 'utf8')).trimEnd().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as { b: string }).b)).toEqual([refused]);
    expect((await stat(aside)).mode & 0o777).toBe(0o600);
    expect(alerts).toEqual([expect.stringContaining(aside)]);
    expect(alerts[0]).not.toContain('\n');

    // A second start (the segment is still there until compacted) does not set it aside twice.
    const again = await openJournal(dir, await createTestQueues(sqs));
    expect(again.replayed.events).toBe(2);
    expect((await readFile(aside, 'utf8')).trimEnd().split('\n')).toHaveLength(1);
  });

  it('resynchronises on a bad line: a record glued to a fragment a crash left is still replayed, and the fragment counted as skipped', async () => {
    const dir = await journalDir();
    const [a, b, c] = ['resync_a', 'resync_b', 'resync_c'].map((name) => toAsciiJson(delivery(name)));
    const line = (body: string | undefined) => JSON.stringify({ q: 'events', b: body });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(
      join(dir, '0000000001.log'),
      `${line(a)}\n${line(b).slice(0, 40)}${line(b)}\n${line(c)}\n`,
      { mode: 0o600 },
    );
    const queues = await createTestQueues(sqs);
    const { replayed } = await openJournal(dir, queues);
    expect(replayed).toEqual({ events: 3, deadLetters: 0, skipped: 1 });
    expect(sorted(await takeMessages(sqs, queues.queueUrl))).toEqual(sorted([a, b, c] as string[]));
  });
});

describe('delivery journal: compaction', () => {
  it('compacts under continuous traffic while a dead letter waits, and a crash after it loses neither the dead letter nor a delivery still queued', async () => {
    const dir = await journalDir();
    const queues = await createTestQueues(sqs);
    const { journal } = await openJournal(dir, queues);
    await journal.send(delivery('poison'));
    const poison = await deadLetter(sqs, queues);
    const firstSegments = await readdir(dir);

    // Deliveries keep coming: each compaction runs with deliveries still waiting in the queue.
    const waiting: string[] = [];
    for (let round = 0; round < 8; round++) {
      const sent: string[] = [];
      for (let i = 0; i < 5; i++) {
        const message = delivery(`traffic_${round}_${i}`);
        await journal.send(message);
        sent.push(toAsciiJson(message));
      }
      // The consumer takes everything and stores all but one of this round's; that one, and those from earlier
      // rounds, go back on the queue, still to be stored.
      await takeMessages(sqs, queues.queueUrl);
      waiting.push(sent[4] as string);
      for (const body of waiting)
        await sqs.send(new SendMessageCommand({ QueueUrl: queues.queueUrl, MessageBody: body }));
      await journal.compact();
    }
    const remaining = await readdir(dir);
    for (const segment of firstSegments)
      expect(remaining, 'a segment from before the traffic').not.toContain(segment);
    expect(remaining.length).toBeLessThanOrEqual(3);

    // The process dies here; the next start replays what the journal kept into fresh queues.
    const fresh = await createTestQueues(sqs);
    const { replayed } = await openJournal(dir, fresh);
    expect(await takeMessages(sqs, fresh.dlqUrl)).toEqual([poison]);
    const replayedEvents = await takeMessages(sqs, fresh.queueUrl);
    expect(replayedEvents).toEqual(expect.arrayContaining(waiting));
    // What was stored before the last compactions is no longer in it (a replay of it would be harmless).
    expect(replayedEvents.length).toBeLessThan(20);
    expect(replayed.deadLetters).toBe(1);
  });

  it('drops a dead letter from the journal once it is taken off the DLQ, with no delivery since, so a crash does not bring it back', async () => {
    const dir = await journalDir();
    const queues = await createTestQueues(sqs);
    const { journal } = await openJournal(dir, queues);
    const letters: string[] = [];
    for (let i = 0; i < 3; i++) {
      await journal.send(delivery(`dead_${i}`));
      letters.push(await deadLetter(sqs, queues));
    }
    await journal.compact();
    // Someone deals with one dead letter and deletes it from the DLQ; nothing else happens.
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queues.dlqUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }),
    );
    const [handled] = Messages;
    await sqs.send(
      new DeleteMessageCommand({ QueueUrl: queues.dlqUrl, ReceiptHandle: handled?.ReceiptHandle ?? '' }),
    );
    expect(await journal.compact()).toBeGreaterThan(0);

    // The process dies here; the next start replays what the journal kept into fresh queues.
    const fresh = await createTestQueues(sqs);
    const { replayed } = await openJournal(dir, fresh);
    expect(replayed).toMatchObject({ events: 0, deadLetters: 2 });
    expect(sorted(await takeMessages(sqs, fresh.dlqUrl))).toEqual(
      sorted(letters.filter((b) => b !== handled?.Body)),
    );
  });

  it("deletes what it compacted only once the table's writes are durable", async () => {
    const dir = await journalDir();
    const queues = await createTestQueues(sqs);
    let release: () => void = () => undefined;
    let asked = 0;
    const { journal } = await openJournal(dir, queues, {
      makeTableDurable: () => {
        asked++;
        return new Promise<void>((resolve) => {
          release = resolve;
        });
      },
    });
    for (let i = 0; i < 3; i++) await journal.send(delivery(`durable_${i}`));
    const [segment] = await readdir(dir);
    // The consumer stored all three: the queue is empty, their only copies are the journal and the table.
    expect(await takeMessages(sqs, queues.queueUrl)).toHaveLength(3);
    const compaction = journal.compact();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(asked).toBe(1);
    expect(await readdir(dir), 'the journal while the table is not yet durable').toContain(segment);
    release();
    await compaction;
    expect(await readdir(dir)).not.toContain(segment);
  });
});
