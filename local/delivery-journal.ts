import { open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { QueueUnavailableError } from '../lib/errors';
import type { QueueMessage } from '../lib/events/event-record';
import type { Logger } from '../lib/log';
import { toAsciiJson } from '../lib/queue/event-queue';
import { ensurePrivateDir, PRIVATE_FILE_MODE, syncDir, writePrivateFileAtomic } from './private-files';
import { describeStorageError } from './storage-errors';
import { appendSynced, writeSynced } from './synced-append';

/** One line of a segment. A checkpoint first line says: every older segment is superseded by this one. */
type JournalEntry = { q: 'events' | 'dlq'; b: string } | { checkpoint: true };

const SEGMENT_NAME = /^(\d{10})\.log$/;
const segmentName = (seq: number) => `${String(seq).padStart(10, '0')}.log`;

/** SQS takes a message of at most 1 MiB, and a batch whose messages together are at most 1 MiB. */
export const SQS_MAX_MESSAGE_BYTES = 1_048_576;
const SQS_MAX_BATCH_ENTRIES = 10;

/**
 * Where replayed entries the queue refuses are set aside: a file beside the journal's directory, one entry a line
 * (with the queue's reason), so a start never fails on them and they stay for someone to look at.
 */
export const setAsidePathOf = (dir: string) => `${dir}-set-aside.jsonl`;

/** The file operations the journal makes on the segment it appends to. */
export interface SegmentFile {
  write(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

export interface DeliveryJournalOptions {
  /** The journal's own directory (created 0700; segments 0600: they hold delivery bodies). */
  dir: string;
  sqs: SQSClient;
  queueUrl: string;
  dlqUrl: string;
  /** The queue the receive handler would use without a journal; the journal sends through it. */
  queue: { send(message: QueueMessage, deadline?: number): Promise<unknown> };
  /** Every message body a queue holds now, ready or in flight, read without taking any off it. */
  inspect: (queueUrl: string) => Promise<string[]>;
  /** How many messages a queue holds now, ready or in flight: cheaper to ask than {@link inspect}. */
  depth: (queueUrl: string) => Promise<number>;
  /** Makes every write the table has answered so far survive a power loss. */
  makeTableDurable: () => Promise<void>;
  logger: Logger;
  /** Told, in one line each, that the journal cannot write (and why), that it can again, what was set aside. */
  alert?: (line: string) => void;
  /** A segment this large is closed and a new one started even when compacting would not pay yet. */
  maxSegmentBytes?: number;
  /** Messages to journal before the replay, e.g. an older version's queue snapshot. */
  adopt?: { events: string[]; dlq: string[] };
  /** Creates a segment file (new, 0600). */
  openSegment?: (path: string) => Promise<SegmentFile>;
}

/** What a start found in the journal. */
export interface ReplaySummary {
  events: number;
  deadLetters: number;
  /** Fragments that were no complete record (a write torn by a crash or a full disk), skipped. */
  skipped: number;
}

class Segment {
  records = 0;
  bytes = 0;
  /** A write failed after `bytes`: what follows in the file may be a fragment of it. */
  torn = false;
  private inFlight = 0;
  private waiters: (() => void)[] = [];

  constructor(
    readonly seq: number,
    readonly path: string,
    public file?: SegmentFile,
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

const lineOf = (entry: JournalEntry) => `${JSON.stringify(entry)}\n`;

/**
 * Every record begins so. Inside a record the sequence cannot occur: the body is a JSON string, whose quotes are
 * all escaped. So after a fragment a torn write left, the next record is found by it.
 */
const RECORD_START = '{"q":"';

function parseEntry(text: string): JournalEntry | undefined {
  try {
    const entry = JSON.parse(text) as JournalEntry;
    if ('checkpoint' in entry && entry.checkpoint === true) return entry;
    if ('q' in entry && (entry.q === 'events' || entry.q === 'dlq') && typeof entry.b === 'string')
      return entry;
  } catch {}
  return undefined;
}

function parseSegment(text: string): { entries: JournalEntry[]; skipped: number } {
  const lines = text.split('\n');
  // What follows the last newline is a record whose write never completed: never acknowledged, so skipped.
  const tail = lines.pop() ?? '';
  let skipped = tail === '' ? 0 : 1;
  const entries: JournalEntry[] = [];
  for (const line of lines) {
    if (line === '') continue;
    let rest = line;
    for (;;) {
      const entry = parseEntry(rest);
      if (entry) {
        entries.push(entry);
        break;
      }
      skipped++;
      const next = rest.indexOf(RECORD_START, 1);
      if (next < 0) break;
      rest = rest.slice(next);
    }
  }
  return { entries, skipped };
}

/** A body a replay could not deliver, and the queue's reason. */
interface Refused {
  q: 'events' | 'dlq';
  b: string;
  reason: string;
}

const senderFault = (error: unknown) => (error as { $fault?: string }).$fault === 'client';

/** Sends one batch. @returns the bodies the queue refused for what they are (any other failure throws). */
async function sendBatch(
  sqs: SQSClient,
  queueUrl: string,
  q: Refused['q'],
  batch: string[],
): Promise<Refused[]> {
  let failed: { Id?: string; SenderFault?: boolean; Message?: string; Code?: string }[];
  try {
    const result = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: batch.map((MessageBody, i) => ({ Id: String(i), MessageBody })),
      }),
    );
    failed = result.Failed ?? [];
  } catch (error) {
    if (!senderFault(error)) throw error;
    // The request as a whole refused for what it carries: sent one by one, each says whether it is the one.
    if (batch.length > 1) {
      const refused: Refused[] = [];
      for (const body of batch) refused.push(...(await sendBatch(sqs, queueUrl, q, [body])));
      return refused;
    }
    return [{ q, b: batch[0] ?? '', reason: (error as Error).message }];
  }
  const refused: Refused[] = [];
  for (const failure of failed) {
    if (!failure.SenderFault)
      throw new Error(`the queue did not take a replayed message: ${failure.Message ?? failure.Code}`);
    refused.push({ q, b: batch[Number(failure.Id)] ?? '', reason: failure.Message ?? failure.Code ?? '' });
  }
  return refused;
}

/** Sends `bodies` in batches SQS takes (ten messages, 1 MiB in all). @returns those it refused. */
async function sendBodies(
  sqs: SQSClient,
  queueUrl: string,
  q: Refused['q'],
  bodies: string[],
): Promise<Refused[]> {
  const refused: Refused[] = [];
  const batches: string[][] = [];
  let batch: string[] = [];
  let size = 0;
  for (const body of bodies) {
    const bytes = Buffer.byteLength(body, 'utf8');
    if (bytes > SQS_MAX_MESSAGE_BYTES) {
      refused.push({
        q,
        b: body,
        reason: `${bytes} bytes, over the ${SQS_MAX_MESSAGE_BYTES} a message may have`,
      });
      continue;
    }
    if (batch.length === SQS_MAX_BATCH_ENTRIES || size + bytes > SQS_MAX_MESSAGE_BYTES) {
      batches.push(batch);
      batch = [];
      size = 0;
    }
    batch.push(body);
    size += bytes;
  }
  if (batch.length > 0) batches.push(batch);
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < batches.length)
        refused.push(...(await sendBatch(sqs, queueUrl, q, batches[next++] ?? [])));
    }),
  );
  return refused;
}

/**
 * A write-ahead journal in front of the local events queue, whose server keeps messages in memory only. A
 * delivery is appended and flushed to disk (fdatasync) before it is sent to the queue, so once the receive
 * handler answers 202 the delivery survives a killed process; the next start replays the journal into the
 * queue. Replaying what was already stored is harmless: the consumer's conditional put stores an event once and
 * counters move on a first insert only.
 *
 * Concurrent sends share one write and one flush (group commit), at the segment's last good offset: a write a
 * full disk cut short is cut back off the file (or, when even that fails, left behind in a segment no longer
 * written to), so it never runs into the next record.
 *
 * Compaction runs under traffic and whatever the dead-letter queue holds: it starts a new segment, waits until
 * every send journaled before has reached the queue, reads what the queue and its DLQ hold (without taking it),
 * has the table flush what the consumer stored to disk, writes that content as a checkpoint segment and deletes
 * the older segments. Dead letters thus live in the checkpoint, copied from the DLQ; whatever left the queues
 * was stored (or deleted on purpose), and is durable in the table before its journal copy goes. It runs when
 * the records it drops outnumber those it rewrites, or, once deliveries pause, are an eighth of them.
 */
export class DeliveryJournal {
  private segments: Segment[] = [];
  private current!: Segment;
  private pending: Pending[] = [];
  private flushQueued = false;
  private io: Promise<unknown> = Promise.resolve();
  private compactions: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private compacting = true;
  private closed = false;
  private fault: string | undefined;
  /** Records appended since the start, and as many as there were at the last compaction's look. */
  private appended = 0;
  private appendedAtLastLook = 0;
  private readonly maxSegmentBytes: number;
  private readonly alert: (line: string) => void;

  private constructor(private readonly options: DeliveryJournalOptions) {
    this.maxSegmentBytes = options.maxSegmentBytes ?? 8 * 1024 * 1024;
    this.alert = options.alert ?? ((line) => options.logger.warn(line));
  }

  /**
   * Opens the journal in `options.dir`, replays what it holds into the queue and its DLQ, and starts a fresh
   * segment for new deliveries. A torn record is skipped, and an entry the queue refuses set aside, never fatal.
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

    const parsed = new Map<number, { entries: JournalEntry[]; bytes: number }>();
    const summary: ReplaySummary = { events: 0, deadLetters: 0, skipped: 0 };
    for (const n of found) {
      const text = await readFile(join(dir, segmentName(n)));
      const { entries, skipped } = parseSegment(text.toString('utf8'));
      summary.skipped += skipped;
      parsed.set(n, { entries, bytes: text.length });
    }
    const checkpoint = found.findLast((n) => {
      const first = parsed.get(n)?.entries[0];
      return first !== undefined && 'checkpoint' in first;
    });
    if (checkpoint !== undefined) {
      for (const n of found.filter((n) => n < checkpoint))
        await rm(join(dir, segmentName(n)), { force: true });
      found = found.filter((n) => n >= checkpoint);
    }
    const events: string[] = [];
    const deadLetters: string[] = [];
    for (const n of found) {
      const { entries = [], bytes = 0 } = parsed.get(n) ?? {};
      const segment = new Segment(n, join(dir, segmentName(n)));
      for (const entry of entries) {
        if ('checkpoint' in entry) continue;
        (entry.q === 'dlq' ? deadLetters : events).push(entry.b);
        segment.records++;
      }
      segment.bytes = bytes;
      this.segments.push(segment);
    }
    const refused = [
      ...(await sendBodies(sqs, queueUrl, 'events', events)),
      ...(await sendBodies(sqs, dlqUrl, 'dlq', deadLetters)),
    ];
    if (refused.length > 0) await this.setAside(refused);
    summary.events = events.length - refused.filter((entry) => entry.q === 'events').length;
    summary.deadLetters = deadLetters.length - refused.filter((entry) => entry.q === 'dlq').length;
    await this.startSegment(seq);
    return summary;
  }

  /**
   * Appends what the queue refused to the set-aside file (each entry once, however many starts find it before a
   * compaction drops it from the journal), and says so in one line.
   */
  private async setAside(refused: Refused[]) {
    const path = setAsidePathOf(this.options.dir);
    const known = new Set(
      (await readFile(path, 'utf8').catch(() => ''))
        .split('\n')
        .map((line) => parseEntry(line))
        .map((entry) => (entry && 'b' in entry ? entry.b : undefined)),
    );
    const fresh = refused.filter((entry) => !known.has(entry.b));
    if (fresh.length === 0) return;
    const at = new Date().toISOString();
    await appendSynced(
      path,
      fresh.map(({ q, b, reason }) => `${JSON.stringify({ q, b, reason, at })}\n`).join(''),
    );
    const reason = (fresh[0]?.reason ?? '').split('\n')[0];
    this.alert(
      `${fresh.length} journaled message${fresh.length === 1 ? '' : 's'} the queue refuses (${reason}) set aside in ${path}; the start goes on without ${fresh.length === 1 ? 'it' : 'them'}`,
    );
  }

  private async startSegment(seq: number) {
    const path = join(this.options.dir, segmentName(seq));
    const file = this.options.openSegment
      ? await this.options.openSegment(path)
      : await open(path, 'wx', PRIVATE_FILE_MODE);
    try {
      // The new name must be on disk before anything acknowledged lives only in it.
      await syncDir(this.options.dir);
    } catch (error) {
      await file.close().catch(() => undefined);
      await rm(path, { force: true }).catch(() => undefined);
      throw error;
    }
    const previous = this.current;
    this.current = new Segment(seq, path, file);
    this.segments.push(this.current);
    await previous?.file?.close().catch(() => undefined);
    if (previous) previous.file = undefined;
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

  /** Cuts what a failed write may have left past the segment's last whole record off the file. */
  private async mend(segment: Segment) {
    if (!segment.file) throw new Error('the segment is closed');
    await segment.file.truncate(segment.bytes);
    await segment.file.datasync();
    segment.torn = false;
  }

  /**
   * The segment to append to: the current one, mended if a failed write left bytes in it; a new one when it
   * cannot be mended (the fragment then ends a segment no longer written to, where a replay skips it).
   */
  private async writable(): Promise<Segment> {
    const segment = this.current;
    if (!segment.torn) return segment;
    try {
      await this.mend(segment);
      return segment;
    } catch {
      await this.startSegment(segment.seq + 1);
      return this.current;
    }
  }

  private async flush() {
    this.flushQueued = false;
    const batch = this.pending.splice(0);
    if (batch.length === 0) return;
    try {
      if (this.closed) throw new Error('the delivery journal is closed');
      const segment = await this.writable();
      const file = segment.file;
      if (!file) throw new Error('the delivery journal is closed');
      const bytes = Buffer.from(batch.map((entry) => entry.line).join(''));
      // At explicit offsets from the last whole record: never after bytes a failed write left behind.
      const start = segment.bytes;
      try {
        await writeSynced(file, bytes, start);
      } catch (error) {
        segment.torn = true;
        await this.mend(segment).catch(() => undefined);
        throw error;
      }
      segment.records += batch.length;
      segment.bytes += bytes.length;
      this.appended += batch.length;
      // Counted before anyone hears of the write, so a compaction never sees this segment settled too early.
      segment.take(batch.length);
      this.writesAgain();
      for (const entry of batch) entry.resolve(segment);
    } catch (error) {
      this.cannotWrite(error);
      for (const entry of batch) entry.reject(error);
    }
  }

  /** Says once, when it starts, that the disk refuses the journal's writes. */
  private cannotWrite(error: unknown) {
    const why = describeStorageError(error);
    if (why === undefined || this.fault !== undefined) return;
    this.fault = why;
    this.alert(
      `the delivery journal cannot write in ${this.options.dir}: ${why}; deliveries are answered 503 until it can`,
    );
  }

  private writesAgain() {
    if (this.fault === undefined) return;
    this.fault = undefined;
    this.alert(`the delivery journal writes again in ${this.options.dir}; deliveries are accepted`);
  }

  /**
   * The receive handler's queue: journals the message (on disk when this resolves), then sends it to the
   * events queue.
   * @throws {QueueUnavailableError} when either refuses it, so the sender is told to retry.
   */
  async send(message: QueueMessage, deadline?: number): Promise<void> {
    const body = toAsciiJson(message);
    // The queue takes no larger message: journaled, it would be an entry no replay can ever deliver.
    if (Buffer.byteLength(body, 'utf8') > SQS_MAX_MESSAGE_BYTES)
      throw new QueueUnavailableError('the message is larger than a queue message may be');
    let segment: Segment;
    try {
      segment = await this.append(lineOf({ q: 'events', b: body }));
    } catch (error) {
      throw new QueueUnavailableError('the delivery journal did not take the message', { cause: error });
    }
    try {
      await this.options.queue.send(message, deadline);
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
      this.compact()
        .catch((error: unknown) => {
          if (describeStorageError(error) !== undefined) this.cannotWrite(error);
          else this.options.logger.warn('journal compaction failed; retrying', { error });
        })
        .finally(() => {
          if (this.compacting) this.timer = setTimeout(tick, intervalMs);
        });
    };
    this.timer = setTimeout(tick, intervalMs);
  }

  /**
   * What the queue and its DLQ hold, as journal lines. Main, DLQ, then main again: a message moving between the
   * two (a redrive either way) shows in one of them. A body found in the DLQ is kept as a dead letter only.
   */
  private async outstanding(): Promise<{ lines: string[] }> {
    const { inspect, queueUrl, dlqUrl } = this.options;
    const main = await inspect(queueUrl);
    const dead = new Set(await inspect(dlqUrl));
    const again = await inspect(queueUrl);
    const events = [...new Set([...main, ...again])].filter((body) => !dead.has(body));
    const lines = [
      ...events.map((b) => lineOf({ q: 'events', b })),
      ...[...dead].map((b) => lineOf({ q: 'dlq', b })),
    ];
    return { lines };
  }

  /**
   * Replaces every segment but the one being written with a checkpoint of what the queues hold, once that pays
   * (see the class comment).
   * @returns the number of segments deleted.
   */
  compact(): Promise<number> {
    const run = this.compactions.then(() => this.compactOnce());
    this.compactions = run.catch(() => undefined);
    return run;
  }

  private async compactOnce(): Promise<number> {
    if (this.closed || !this.compacting) return 0;
    if (this.current.records === 0 && this.segments.length === 1) return 0;
    const journaled = this.segments.reduce((sum, segment) => sum + segment.records, 0);
    const { depth, queueUrl, dlqUrl } = this.options;
    const queued = (await depth(queueUrl)) + (await depth(dlqUrl));
    const quiet = this.appended === this.appendedAtLastLook;
    this.appendedAtLastLook = this.appended;
    // A compaction rewrites what the queues hold to drop the rest: under traffic, worth it once the rest is as
    // much again; once deliveries pause, for an eighth of it, so that what left the queues (stored, purged)
    // does not stay for long, and a large DLQ is still not rewritten for every delivery stored.
    const dropped = journaled - queued;
    if (dropped < queued && !(quiet && dropped > 0 && dropped * 8 >= queued)) {
      if (this.current.bytes >= this.maxSegmentBytes) await this.rotate(this.current.seq + 1);
      return 0;
    }
    // The checkpoint takes the number between the older segments and the new one it must not supersede.
    const checkpointSeq = this.current.seq + 1;
    await this.rotate(this.current.seq + 2);
    const superseded = this.segments.filter((segment) => segment !== this.current);
    await Promise.all(superseded.map((segment) => segment.settled()));
    const kept = await this.outstanding();
    // What left the queues was stored: its journal copy goes only once the table has it on disk.
    await this.options.makeTableDurable();
    const checkpoint =
      kept.lines.length > 0 ? await this.writeCheckpoint(checkpointSeq, kept.lines) : undefined;
    for (const segment of superseded) await rm(segment.path, { force: true });
    await syncDir(this.options.dir);
    this.segments = [
      ...(checkpoint ? [checkpoint] : []),
      ...this.segments.filter((segment) => !superseded.includes(segment)),
    ];
    return superseded.length;
  }

  private async writeCheckpoint(seq: number, lines: string[]): Promise<Segment> {
    const path = join(this.options.dir, segmentName(seq));
    const text = [lineOf({ checkpoint: true }), ...lines].join('');
    await writePrivateFileAtomic(path, text);
    const segment = new Segment(seq, path);
    segment.records = lines.length;
    segment.bytes = Buffer.byteLength(text, 'utf8');
    return segment;
  }

  private rotate(seq: number) {
    return this.serial(async () => {
      if (!this.closed) await this.startSegment(seq);
    });
  }

  /**
   * Closes the journal when the stack stops gracefully, with nothing sending anymore and the consumer stopped:
   * writes what the queue and the DLQ still hold as a checkpoint superseding every segment, and deletes them, so
   * the next start replays exactly that (nothing at all when both are empty).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.compacting = false;
    clearTimeout(this.timer);
    await this.compactions;
    await this.serial(async () => undefined);
    this.closed = true;
    await Promise.all(this.segments.map((segment) => segment.settled()));
    await this.current.file?.close().catch(() => undefined);
    this.current.file = undefined;
    const kept = await this.outstanding();
    await this.options.makeTableDurable();
    if (kept.lines.length > 0) await this.writeCheckpoint(this.current.seq + 1, kept.lines);
    for (const segment of this.segments) await rm(segment.path, { force: true });
    await syncDir(this.options.dir);
    this.segments = [];
  }
}
