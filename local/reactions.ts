import { randomBytes } from 'node:crypto';
import { type FileHandle, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { EventRecord, QueueMessage } from '../lib/events/event-record';
import type { StoredBatch } from '../lib/ingest/ingest';
import type { Logger } from '../lib/log';
import { itemKey, type TableLayout } from '../lib/table/records-table';
import type { StoreOutcome } from '../lib/table/table-io';
import { ensurePrivateDir, PRIVATE_FILE_MODE, writePrivateFileAtomic } from './private-files';
import { appendSynced, writeSynced } from './synced-append';

/** Where reactions keep their journal and their failures in `DATA_DIR`. */
export const REACTIONS_DIR = 'reactions';
export const REACTIONS_JOURNAL_FILE = 'journal.jsonl';
export const REACTIONS_FAILURES_FILE = 'failures.jsonl';

/** The user's reaction (`ON_EVENT_MODULE`) and the events it is for (all when a list is empty). */
export interface Reaction {
  run: (event: EventRecord) => unknown;
  events?: readonly string[];
  providers?: readonly string[];
}

/** `true` when `record` is one the reaction is for. */
export function reactsTo(reaction: Reaction, record: EventRecord): boolean {
  return (
    (!reaction.events?.length || reaction.events.includes(record.event)) &&
    (!reaction.providers?.length || reaction.providers.includes(record.provider))
  );
}

/** The key of the item storing an event. */
export interface ItemKey {
  pk: string;
  sk: string;
}

/** One delivery about to be stored, as {@link Reactions.intendToStore} noted it. */
export interface Intent {
  readonly n: string;
  readonly record: EventRecord;
  readonly key: ItemKey;
}

/**
 * A journal line. `i`: the intent to store one delivery of a record (its item's key, its `received_at`, which
 * tells this delivery's item from another delivery's, and the record); `d`: its reaction ran (or was given up
 * and written to the failures file); `x`: the delivery was a duplicate, nothing to run.
 */
type Line =
  | { t: 'i'; n: string; pk: string; sk: string; at: string; r: EventRecord }
  | { t: 'd' | 'x'; n: string };

export interface ReactionsOptions {
  reaction: Reaction;
  client: DynamoDBClient;
  tableName: string;
  logger: Logger;
  /** `DATA_DIR`; without it nothing is journaled (a crash loses reactions) and failures are only logged. */
  dataDir?: string | undefined;
  /** Runs of a throwing reaction before it is given up (default 5). */
  attempts?: number;
  /** Wait before the second run; doubled before each next one (default 100 ms). */
  backoffMs?: number;
  /** The journal is emptied when nothing is pending and it holds more than this (default 64 KiB). */
  compactBytes?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs the user's reaction at least once for every stored event it is for, across throws and crashes, and
 * never for a duplicate delivery.
 *
 * Before the consumer's conditional put of a matching event, an intent is appended to an fsynced journal. After
 * the put: a first insert runs the reaction (retried with backoff, then written to `failures.jsonl`) and then
 * notes it done; a duplicate notes the intent dropped. On start, before the consumer runs, every intent left
 * pending by a crash is settled: the item is read (consistently) and the reaction runs when the item exists and
 * was written by that intent's delivery (same `received_at`), else the intent is dropped. A record is notified
 * at most once per replay, and not at all when its journal shows its reaction done.
 */
export class Reactions {
  private readonly reaction: Reaction;
  private readonly client: DynamoDBClient;
  private readonly tableName: string;
  private readonly logger: Logger;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly compactBytes: number;
  private readonly dir: string | undefined;
  private readonly boot = randomBytes(4).toString('hex');
  private sequence = 0;
  private handle: FileHandle | undefined;
  private readonly queue: {
    line: string;
    sync: boolean;
    resolve: () => void;
    reject: (e: unknown) => void;
  }[] = [];
  private writing: Promise<void> | undefined;
  private bytes = 0;
  /** Intents written (or being written) and not settled yet. */
  private pending = 0;
  private closed = false;
  private readonly inflight = new Set<Promise<void>>();

  private constructor(options: ReactionsOptions) {
    this.reaction = options.reaction;
    this.client = options.client;
    this.tableName = options.tableName;
    this.logger = options.logger;
    this.attempts = Math.max(1, options.attempts ?? 5);
    this.backoffMs = options.backoffMs ?? 100;
    this.compactBytes = options.compactBytes ?? 64 * 1024;
    this.dir = options.dataDir ? join(options.dataDir, REACTIONS_DIR) : undefined;
  }

  /**
   * Opens the journal and settles what a crash left pending; call it before the consumer starts. The
   * reactions it decides to run are started, not awaited.
   */
  static async open(
    options: ReactionsOptions,
  ): Promise<{ reactions: Reactions; replayed: number; dropped: number }> {
    const reactions = new Reactions(options);
    if (!reactions.dir) return { reactions, replayed: 0, dropped: 0 };
    const { replayed, dropped } = await reactions.replay(reactions.dir);
    return { reactions, replayed: replayed.length, dropped };
  }

  reactsTo(record: EventRecord): boolean {
    return reactsTo(this.reaction, record);
  }

  /**
   * Stores one delivery of a record the reaction is for, through `put` (the conditional put), and reacts to a
   * first insert.
   * @returns what `put` returned. @throws what `put` threw (the message is then retried).
   */
  async store(record: EventRecord, key: ItemKey, put: () => Promise<StoreOutcome>): Promise<StoreOutcome> {
    const intent = await this.intendToStore(record, key);
    let outcome: StoreOutcome;
    try {
      outcome = await put();
    } catch (error) {
      this.stored(intent, undefined);
      throw error;
    }
    this.stored(intent, outcome);
    return outcome;
  }

  /**
   * Notes, on disk when it resolves, that one delivery of `record` is about to be stored at `key`: should the
   * process die before {@link stored} is told, the next start reads the item and reacts if the delivery stored
   * it.
   * @throws when the journal could not take the intent (the delivery must then not be stored: it is retried).
   */
  async intendToStore(record: EventRecord, key: ItemKey): Promise<Intent> {
    const n = `${this.boot}.${++this.sequence}`;
    if (this.dir) await this.intend({ t: 'i', n, pk: key.pk, sk: key.sk, at: record.received_at, r: record });
    return { n, record, key };
  }

  /**
   * Settles an intent with what its put answered: a first insert runs the reaction, a duplicate drops the
   * intent, and a put without an answer (`undefined`, it may have been applied) is decided by the item.
   */
  stored(intent: Intent, outcome: StoreOutcome | undefined): void {
    const { n, record, key } = intent;
    // The put may have been applied: the item tells.
    if (outcome === undefined) {
      if (this.dir) void this.settleUncertain(n, key, record);
    } else if (outcome === 'duplicate') this.settle(n, 'x');
    else this.launch(n, record);
  }

  /** Waits for running reactions until `deadline` (epoch ms); what is left runs again at the next start. */
  async close(deadline: number): Promise<void> {
    const timeout = Math.max(0, deadline - Date.now());
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inflight]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, timeout);
      }),
    ]);
    clearTimeout(timer);
    if (this.inflight.size > 0)
      this.logger.warn('reactions still running at stop; they run again at the next start', {
        running: this.inflight.size,
      });
    this.closed = true;
    await this.writing?.catch(() => {});
    await this.handle?.close();
    this.handle = undefined;
  }

  private async replay(dir: string) {
    await ensurePrivateDir(dir);
    const path = join(dir, REACTIONS_JOURNAL_FILE);
    const text = await readFile(path, 'utf8').catch(() => '');
    const intents = new Map<string, Extract<Line, { t: 'i' }>>();
    const done = new Set<string>();
    const settled = new Set<string>();
    let torn = 0;
    for (const text_ of text.split('\n')) {
      if (!text_) continue;
      let line: Line;
      try {
        line = JSON.parse(text_) as Line;
      } catch {
        torn++;
        continue;
      }
      if (line.t === 'i') intents.set(line.n, line);
      else {
        settled.add(line.n);
        if (line.t === 'd') done.add(line.n);
      }
    }
    if (torn > 0) this.logger.warn('reaction journal lines torn by a crash skipped', { torn });
    const notified = new Set<string>();
    for (const n of done) {
      const intent = intents.get(n);
      if (intent) notified.add(intent.r.id);
    }
    const replayed: Extract<Line, { t: 'i' }>[] = [];
    let dropped = 0;
    for (const intent of intents.values()) {
      if (settled.has(intent.n)) continue;
      if (!notified.has(intent.r.id) && (await this.writtenBy(intent, intent.at))) {
        notified.add(intent.r.id);
        replayed.push({ ...intent, n: `${this.boot}.${++this.sequence}` });
      } else dropped++;
    }
    // The journal starts again with only the intents still to run.
    const kept = replayed.map((line) => `${JSON.stringify(line)}\n`).join('');
    await writePrivateFileAtomic(path, kept);
    this.bytes = Buffer.byteLength(kept);
    this.pending = replayed.length;
    this.handle = await open(path, 'a', PRIVATE_FILE_MODE);
    for (const intent of replayed) this.launch(intent.n, intent.r);
    if (replayed.length + dropped > 0)
      this.logger.info('reaction journal replayed', { replayed: replayed.length, dropped });
    return { replayed, dropped };
  }

  /** `true` when the item at `key` exists and was written by the delivery received at `receivedAt`. */
  private async writtenBy(key: ItemKey, receivedAt: string): Promise<boolean> {
    const { Item } = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: key.pk }, sk: { S: key.sk } },
        ProjectionExpression: 'received_at',
        ConsistentRead: true,
      }),
    );
    return Item?.received_at?.S === receivedAt;
  }

  private async settleUncertain(n: string, key: ItemKey, record: EventRecord) {
    try {
      if (await this.writtenBy(key, record.received_at)) this.launch(n, record);
      else this.settle(n, 'x');
    } catch (error) {
      this.logger.warn('reaction left pending until the next start', { id: record.id, error });
    }
  }

  private launch(n: string, record: EventRecord) {
    const task = (async () => {
      if (await this.runWithRetries(record)) this.settle(n, 'd');
    })()
      .catch((error: unknown) => this.logger.error('reaction not settled', { id: record.id, error }))
      .finally(() => this.inflight.delete(task));
    this.inflight.add(task);
  }

  /** @returns `false` when the give-up could not be written down (the intent stays pending). */
  private async runWithRetries(record: EventRecord): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.reaction.run(record);
        return true;
      } catch (error) {
        if (attempt < this.attempts) {
          this.logger.warn('onEvent failed; retrying', {
            id: record.id,
            event: record.event,
            attempt,
            error,
          });
          await sleep(this.backoffMs * 2 ** (attempt - 1));
          continue;
        }
        this.logger.error('onEvent failed; given up', { id: record.id, event: record.event, attempt, error });
        if (!this.dir) return true;
        try {
          await appendSynced(
            join(this.dir, REACTIONS_FAILURES_FILE),
            `${JSON.stringify({
              id: record.id,
              event: record.event,
              provider: record.provider,
              attempts: attempt,
              error: error instanceof Error ? error.message : String(error),
              at: new Date().toISOString(),
            })}\n`,
          );
          return true;
        } catch (writeError) {
          this.logger.error('reaction failure not recorded', { id: record.id, error: writeError });
          return false;
        }
      }
    }
  }

  private intend(line: Line) {
    this.pending++;
    return this.append(`${JSON.stringify(line)}\n`, true).catch((error: unknown) => {
      this.pending--;
      throw error;
    });
  }

  private settle(n: string, t: 'd' | 'x') {
    if (!this.dir) return;
    this.pending--;
    // Closed (a reaction that outlived the stop): the intent stays pending and is settled at the next start.
    if (this.closed) return;
    // Not flushed: lost, the intent is settled again at the next start, with the same result.
    this.append(`${JSON.stringify({ t, n })}\n`, false).catch((error: unknown) =>
      this.logger.warn('reaction journal write failed', { error }),
    );
  }

  /** Appends lines in order, many at a time, with one flush for all when any asks for it. */
  private append(line: string, sync: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ line, sync, resolve, reject });
      this.writing ??= this.write().finally(() => {
        this.writing = undefined;
      });
    });
  }

  private async write() {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0);
      try {
        const handle = this.handle;
        if (!handle) throw new Error('the reaction journal is closed');
        const data = Buffer.from(batch.map((entry) => entry.line).join(''));
        await writeSynced(
          handle,
          data,
          null,
          batch.some((entry) => entry.sync),
        );
        this.bytes += data.length;
        for (const entry of batch) entry.resolve();
      } catch (error) {
        for (const entry of batch) entry.reject(error);
      }
      // Every intent in the file is settled: none needs keeping.
      if (this.pending === 0 && this.bytes > this.compactBytes && this.handle) {
        try {
          await this.handle.truncate(0);
          await this.handle.datasync();
          this.bytes = 0;
        } catch (error) {
          this.logger.warn('reaction journal not emptied', { error });
        }
      }
    }
  }
}

/** The reactions as listeners of the ingest port (see {@link reactionListeners}). */
export interface ReactionListeners {
  beforeWrite(message: QueueMessage): Promise<void>;
  onStored(batch: StoredBatch): void;
}

/**
 * The reactions as listeners of the ingest port: before each write of an event the reaction is for, its intent
 * is journaled (a throw fails the message, which is not written); once the batch is stored, each intent is
 * settled by what its write answered (see {@link Reactions.stored}).
 */
export function reactionListeners(reactions: Reactions, layout: TableLayout): ReactionListeners {
  // By the message as the ingest hands it to both: a batch's messages are its own objects.
  const intents = new WeakMap<QueueMessage, Intent>();
  return {
    async beforeWrite(message) {
      if (message.kind !== 'event' || !reactions.reactsTo(message.record)) return;
      intents.set(message, await reactions.intendToStore(message.record, itemKey(message, layout)));
    },
    onStored({ messages, writes }) {
      messages.forEach((message, i) => {
        const intent = intents.get(message);
        if (!intent) return;
        intents.delete(message);
        reactions.stored(intent, writes[i]);
      });
    },
  };
}
