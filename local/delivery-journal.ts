import { type FileHandle, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { QueueUnavailableError } from '../lib/errors';
import type { QueueMessage } from '../lib/events/event-record';
import type { Logger } from '../lib/log';
import { toAsciiJson } from '../lib/queue/event-queue';
import { ensurePrivateDir, PRIVATE_FILE_MODE, syncDir, writePrivateFileAtomic } from './private-files';

/** One line of a segment. A checkpoint first line says: every older segment is superseded by this one. */
type JournalEntry = { q: 'events' | 'dlq'; b: string } | { checkpoint: true };

const SEGMENT_NAME = /^(\d{10})\.log$/;
const segmentName = (seq: number) => `${String(seq).padStart(10, '0')}.log`;

/** Queue depth, as the journal needs it (visible and in-flight messages). */
export type DepthOf = (queueUrl: string) => Promise<number>;

export interface DeliveryJournalOptions {
  /** The journal's own directory (created 0700; segments 0600: they hold delivery bodies). */
  dir: string;
  sqs: SQSClient;
  queueUrl: string;
  dlqUrl: string;
  /** The queue the receive handler would use without a journal; the journal sends through it. */
  queue: { send(message: QueueMessage): Promise<void> };
  depth: DepthOf;
  /** `true` when the consumer holds no batch. */
  consumerIdle: () => boolean;
  logger: Logger;
  /** A segment this large is closed and a new one started even while the queues are busy. */
  maxSegmentBytes?: number;
  /** Messages to journal before the replay, e.g. an older version's queue snapshot. */
  adopt?: { events: string[]; dlq: string[] };
}

/** What a start found in the journal. */
export interface ReplaySummary {
  events: number;
  deadLetters: number;
  /** Lines that were no complete record (a write torn by a crash) and were skipped. */
  skipped: number;
}

class Segment {
  records = 0;
  bytes = 0;
  private inFlight = 0;
  private waiters: (() => void)[] = [];

  constructor(
    readonly seq: number,
    readonly path: string,
    public handle?: FileHandle,
  ) {}

  take(count: number) {
    this.inFlight += count;
  }

  release() {
    this.inFlight--;
    if (this.inFlight === 0) for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves once every send journaled here has reached the queue (or failed). */
  settled(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}

interface Pending {
  line: string;
  resolve: (segment: Segment) => void;
  reject: (error: unknown) => void;
}

function parseSegment(text: string): { entries: JournalEntry[]; skipped: number } {
  const lines = text.split('\n');
  // What follows the last newline is a record whose write a crash cut short.
  const tail = lines.pop() ?? '';
  let skipped = tail === '' ? 0 : 1;
  const entries: JournalEntry[] = [];
  for (const line of lines) {
    if (line === '') continue;
    try {
      const entry = JSON.parse(line) as JournalEntry;
      if (
        'checkpoint' in entry ||
        ((entry.q === 'events' || entry.q === 'dlq') && typeof entry.b === 'string')
      )
        entries.push(entry);
      else skipped++;
    } catch {
      skipped++;
    }
  }
  return { entries, skipped };
}

const lineOf = (entry: JournalEntry) => `${JSON.stringify(entry)}\n`;

async function sendBodies(sqs: SQSClient, queueUrl: string, bodies: string[]) {
  const batches: string[][] = [];
  for (let start = 0; start < bodies.length; start += 10) batches.push(bodies.slice(start, start + 10));
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < batches.length) {
        const batch = batches[next++] ?? [];
        const result = await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: batch.map((MessageBody, i) => ({ Id: String(i), MessageBody })),
          }),
        );
        if (result.Failed?.length)
          throw new Error(`the queue refused ${result.Failed.length} replayed messages`);
      }
    }),
  );
}

/**
 * A write-ahead journal in front of the local events queue, whose server keeps messages in memory only. A
 * delivery is appended and flushed to disk (fdatasync) before it is sent to the queue, so once the receive
 * handler answers 202 the delivery survives a killed process; the next start replays the journal into the
 * queue. Replaying what was already stored is harmless: the consumer's conditional put stores an event once and
 * counters move on a first insert only.
 *
 * Concurrent sends share one write and one flush (group commit). Segments rotate; an old segment is deleted
 * only when every send journaled in it has reached the queue and then the queue, its DLQ and the consumer are
 * all found empty, so nothing still only in memory is ever dropped from disk. While the DLQ holds anything the
 * segments stay, so dead letters survive a crash too (replayed, they fail again into the DLQ).
 */
export class DeliveryJournal {
  private segments: Segment[] = [];
  private current!: Segment;
  private pending: Pending[] = [];
  private flushQueued = false;
  private io: Promise<unknown> = Promise.resolve();
  private compaction: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private compacting = true;
  private closed = false;
  private readonly maxSegmentBytes: number;

  private constructor(private readonly options: DeliveryJournalOptions) {
    this.maxSegmentBytes = options.maxSegmentBytes ?? 8 * 1024 * 1024;
  }

  /**
   * Opens the journal in `options.dir`, replays what it holds into the queue and its DLQ, and starts a fresh
   * segment for new deliveries. A torn last record is skipped, never fatal.
   */
  static async open(
    options: DeliveryJournalOptions,
  ): Promise<{ journal: DeliveryJournal; replayed: ReplaySummary }> {
    const journal = new DeliveryJournal(options);
    const replayed = await journal.replay();
    return { journal, replayed };
  }

  private async replay(): Promise<ReplaySummary> {
    const { dir, sqs, queueUrl, dlqUrl, adopt } = this.options;
    await ensurePrivateDir(dir);
    const names = await readdir(dir);
    // Left by an atomic write a crash interrupted before its rename: never part of the journal.
    for (const name of names.filter((name) => name.endsWith('.tmp')))
      await rm(join(dir, name), { force: true });
    let found = names
      .map((name) => SEGMENT_NAME.exec(name))
      .filter((match) => match !== null)
      .map((match) => Number(match[1]))
      .sort((a, b) => a - b);
    let seq = (found.at(-1) ?? 0) + 1;
    if (adopt && adopt.events.length + adopt.dlq.length > 0) {
      const entries: JournalEntry[] = [
        ...adopt.events.map((b) => ({ q: 'events' as const, b })),
        ...adopt.dlq.map((b) => ({ q: 'dlq' as const, b })),
      ];
      await writePrivateFileAtomic(join(dir, segmentName(seq)), entries.map(lineOf).join(''));
      found.push(seq++);
    }

    const parsed = new Map<number, JournalEntry[]>();
    const summary: ReplaySummary = { events: 0, deadLetters: 0, skipped: 0 };
    for (const n of found) {
      const { entries, skipped } = parseSegment(await readFile(join(dir, segmentName(n)), 'utf8'));
      summary.skipped += skipped;
      parsed.set(n, entries);
    }
    const checkpoint = found.findLast(
      (n) => parsed.get(n)?.[0] && 'checkpoint' in (parsed.get(n)?.[0] ?? {}),
    );
    if (checkpoint !== undefined) {
      for (const n of found.filter((n) => n < checkpoint))
        await rm(join(dir, segmentName(n)), { force: true });
      found = found.filter((n) => n >= checkpoint);
    }
    const events: string[] = [];
    const deadLetters: string[] = [];
    for (const n of found) {
      for (const entry of parsed.get(n) ?? []) {
        if ('checkpoint' in entry) continue;
        (entry.q === 'dlq' ? deadLetters : events).push(entry.b);
      }
      this.segments.push(new Segment(n, join(dir, segmentName(n))));
    }
    await sendBodies(sqs, queueUrl, events);
    await sendBodies(sqs, dlqUrl, deadLetters);
    summary.events = events.length;
    summary.deadLetters = deadLetters.length;
    await this.startSegment(seq);
    return summary;
  }

  private async startSegment(seq: number) {
    const path = join(this.options.dir, segmentName(seq));
    const handle = await open(path, 'wx', PRIVATE_FILE_MODE);
    await syncDir(this.options.dir);
    const previous = this.current;
    this.current = new Segment(seq, path, handle);
    this.segments.push(this.current);
    await previous?.handle?.close();
    if (previous) previous.handle = undefined;
  }

  /** Runs file work one piece at a time: a flush never overlaps a rotation. */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.io.then(work, work);
    this.io = run.catch(() => undefined);
    return run;
  }

  /** Resolves with the segment once `line` is on disk; lines queued meanwhile share the next flush. */
  private append(line: string): Promise<Segment> {
    return new Promise((resolve, reject) => {
      this.pending.push({ line, resolve, reject });
      if (this.flushQueued) return;
      this.flushQueued = true;
      void this.serial(() => this.flush());
    });
  }

  private async flush() {
    this.flushQueued = false;
    const batch = this.pending.splice(0);
    if (batch.length === 0) return;
    const segment = this.current;
    try {
      if (this.closed || !segment.handle) throw new Error('the delivery journal is closed');
      const bytes = Buffer.from(batch.map((entry) => entry.line).join(''));
      let written = 0;
      while (written < bytes.length) {
        written += (await segment.handle.write(bytes, written, bytes.length - written)).bytesWritten;
      }
      await segment.handle.datasync();
      segment.records += batch.length;
      segment.bytes += bytes.length;
      // Counted before anyone hears of the write, so a compaction never sees this segment settled too early.
      segment.take(batch.length);
      for (const entry of batch) entry.resolve(segment);
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    }
  }

  /**
   * The receive handler's queue: journals the message (on disk when this resolves), then sends it to the
   * events queue.
   * @throws {QueueUnavailableError} when either refuses it, so the sender is told to retry.
   */
  async send(message: QueueMessage): Promise<void> {
    let segment: Segment;
    try {
      segment = await this.append(lineOf({ q: 'events', b: toAsciiJson(message) }));
    } catch (error) {
      throw new QueueUnavailableError('the delivery journal did not take the message', { cause: error });
    }
    try {
      await this.options.queue.send(message);
    } finally {
      segment.release();
    }
  }

  /** Number of segment files the journal keeps. */
  get segmentCount(): number {
    return this.segments.length;
  }

  /** Runs {@link compact} every `intervalMs` until {@link close}. */
  startCompaction(intervalMs: number): void {
    const tick = () => {
      this.compaction = this.compact()
        .then(() => undefined)
        .catch((error: unknown) => this.options.logger.warn('journal compaction failed; retrying', { error }))
        .finally(() => {
          if (this.compacting) this.timer = setTimeout(tick, intervalMs);
        });
    };
    this.timer = setTimeout(tick, intervalMs);
  }

  /** `true` when the queue, its DLQ and the consumer hold nothing. */
  private async drained(): Promise<boolean> {
    const { depth, queueUrl, dlqUrl, consumerIdle } = this.options;
    // Main, DLQ, then main again: a message on its way between the two (a redrive) shows in one of them.
    return (
      consumerIdle() &&
      (await depth(queueUrl)) === 0 &&
      (await depth(dlqUrl)) === 0 &&
      (await depth(queueUrl)) === 0 &&
      consumerIdle()
    );
  }

  /**
   * Deletes the segments whose every message has been consumed: closes the current segment if it holds
   * anything, waits until every send journaled before that has reached the queue, then deletes the older
   * segments if the queue, its DLQ and the consumer are empty.
   * @returns the number of segments deleted.
   */
  async compact(): Promise<number> {
    if (this.closed || !this.compacting) return 0;
    if (!(await this.drained())) {
      if (this.current.bytes >= this.maxSegmentBytes) await this.rotate();
      return 0;
    }
    if (this.current.records > 0) await this.rotate();
    const old = this.segments.filter((segment) => segment !== this.current);
    if (old.length === 0) return 0;
    await Promise.all(old.map((segment) => segment.settled()));
    if (!(await this.drained())) return 0;
    for (const segment of old) await rm(segment.path, { force: true });
    await syncDir(this.options.dir);
    this.segments = this.segments.filter((segment) => !old.includes(segment));
    return old.length;
  }

  private rotate() {
    return this.serial(async () => {
      if (!this.closed) await this.startSegment(this.current.seq + 1);
    });
  }

  /**
   * Closes the journal when the stack stops gracefully, with nothing sending anymore and the consumer stopped.
   * Takes what is left in the queue and the DLQ out of the queue server (trying until `deadline` for messages a
   * consumer still held) and writes them as a checkpoint segment superseding every older one, so the next start
   * replays exactly them. If some message could not be taken by then, the older segments stay as well: the next
   * start replays them all (dead letters may then appear twice; they are stored once).
   */
  async close(drain: (queueUrl: string) => Promise<string[]>, deadline: number): Promise<void> {
    if (this.closed) return;
    this.compacting = false;
    clearTimeout(this.timer);
    await this.compaction;
    await this.serial(async () => undefined);
    this.closed = true;
    const { dir, queueUrl, dlqUrl, depth } = this.options;
    await Promise.all(this.segments.map((segment) => segment.settled()));
    const events: string[] = [];
    for (;;) {
      events.push(...(await drain(queueUrl)));
      if ((await depth(queueUrl)) === 0 || Date.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const deadLetters = await drain(dlqUrl);
    const complete = (await depth(queueUrl)) === 0;
    await this.current.handle?.close();
    this.current.handle = undefined;
    const entries: JournalEntry[] = [
      ...(complete ? [{ checkpoint: true as const }] : []),
      ...events.map((b) => ({ q: 'events' as const, b })),
      ...deadLetters.map((b) => ({ q: 'dlq' as const, b })),
    ];
    const seq = this.current.seq + 1;
    if (entries.length > (complete ? 1 : 0)) {
      await writePrivateFileAtomic(join(dir, segmentName(seq)), entries.map(lineOf).join(''));
    }
    if (!complete) return;
    for (const segment of this.segments) await rm(segment.path, { force: true });
    await syncDir(dir);
    this.segments = [];
  }
}
