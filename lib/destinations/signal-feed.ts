import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Logger } from '../log';
import { type NoticeFilter, type SignalNotice, takesNotice } from '../signals/signal-notices';
import { foldStateVersion, readFoldChanges } from '../table/counter-items';
import { markNoticePublished, NOTICE_TTL_DAYS, unpublishedNotices } from '../table/notice-items';
import type { Destination } from './destination';

/**
 * How far a {@link SignalFeed} got: notices raised from `since` on are its to publish, and it has read the days
 * written by every fold up to the fold state's `counted`.
 */
export interface FeedCursor {
  since: string;
  counted: number;
}

/** Where a feed keeps its cursor across restarts (a file in the data directory, locally). */
export interface CursorStore {
  load(): Promise<FeedCursor | undefined>;
  /** Keeps the cursor durably (written whole, fsynced) before it resolves. */
  save(cursor: FeedCursor): Promise<void>;
}

/** What a {@link SignalFeed} reads, where it sends, and what it takes. */
export interface SignalFeedOptions {
  client: DynamoDBClient;
  tableName: string;
  /** Where notices go; one without `sendNotices` takes none. */
  destination: Destination;
  /** The signals it takes (`signals` of its option). */
  signals: NoticeFilter;
  /** Only these providers' notices (all when absent or empty). */
  providers?: readonly string[] | undefined;
  store: CursorStore;
  logger: Logger;
  /**
   * Called with notices the destination kept refusing, before they are noted published: a throw leaves them to
   * be sent again at the next pass.
   */
  onGivenUp?: (notices: readonly SignalNotice[], error: unknown) => Promise<void>;
  now?: () => number;
}

/** Folds a feed reads the changes of one by one; further behind, it reads the recent days whole. */
const MAX_FOLDS_BEHIND = 200;
const DAY_MS = 86_400_000;

/**
 * Publishes the signal notices the fold writes to one destination, at least once, as a deployed pipe publishes
 * their INSERTs from the table's stream. A local table has no stream, so the feed follows the fold instead:
 * each fold that wrote counts moves the fold state's `counted` and names the counter items and provider-days it
 * wrote (`readFoldChanges`), and a notice is written before the item whose day it is on. A pass reads the
 * notice partitions of those days, sends what this destination has not published (`published_<kind>` on the
 * notice item, set after the destination took it), then moves its cursor. Killed anywhere, the next pass starts
 * from the cursor it kept and sends what is not marked: a notice sent but not yet marked is sent again.
 *
 * When the folds' lists cannot be read (too far behind, a fold of more items than a list names), it reads the
 * days a notice can still be kept on ({@link NOTICE_TTL_DAYS} back, to tomorrow). Notices raised before the
 * destination was first opened are not published, as a pipe starts at the stream's latest record.
 */
export class SignalFeed {
  private cursor: FeedCursor | undefined;
  private readonly now: () => number;

  constructor(private readonly options: SignalFeedOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The destination's kind, which names its mark on the notice items. */
  get name(): string {
    return this.options.destination.kind;
  }

  /**
   * Publishes what the folds since the cursor raised.
   * @returns the notices sent.
   * @throws the table's error (the next pass tries again from the same cursor).
   */
  async pass(): Promise<number> {
    const { client, tableName, store } = this.options;
    this.cursor ??= await store.load();
    const counted = (await foldStateVersion(client, tableName)) ?? 0;
    if (!this.cursor) {
      this.cursor = { since: new Date(this.now()).toISOString(), counted };
      await store.save(this.cursor);
      return 0;
    }
    if (counted === this.cursor.counted) return 0;
    const days = await this.daysSince(this.cursor.counted, counted);
    let sent = 0;
    for (const day of days) sent += await this.publishDay(day, this.cursor.since);
    this.cursor = { ...this.cursor, counted };
    await store.save(this.cursor);
    return sent;
  }

  /** The days the folds after `from` up to `to` wrote items on, or every day a notice may be on. */
  private async daysSince(from: number, to: number): Promise<string[]> {
    const behind = to - from;
    if (behind > 0 && behind <= MAX_FOLDS_BEHIND) {
      const versions = Array.from({ length: behind }, (_, i) => from + 1 + i);
      const changes = await readFoldChanges(this.options.client, this.options.tableName, versions);
      if (changes && !changes.whole) {
        const days = new Set([
          ...changes.counters.map((key) => key.day),
          ...changes.providerDays.map(({ day }) => day),
        ]);
        return [...days].sort();
      }
    }
    const today = Math.floor(this.now() / DAY_MS) * DAY_MS;
    return Array.from({ length: NOTICE_TTL_DAYS + 2 }, (_, i) =>
      new Date(today - (NOTICE_TTL_DAYS - i) * DAY_MS).toISOString().slice(0, 10),
    );
  }

  private async publishDay(day: string, since: string): Promise<number> {
    const { client, tableName, destination, signals, providers } = this.options;
    if (!destination.sendNotices) return 0;
    const notices = (await unpublishedNotices<SignalNotice>(client, tableName, day, this.name, since)).filter(
      (notice) => takesNotice(signals, providers, notice),
    );
    if (notices.length === 0) return 0;
    try {
      await destination.sendNotices(notices);
    } catch (error) {
      this.options.logger.error('signal notices given up', {
        destination: destination.kind,
        notices: notices.length,
        error,
      });
      if (!this.options.onGivenUp) throw error;
      await this.options.onGivenUp(notices, error);
    }
    const at = new Date(this.now()).toISOString();
    for (const notice of notices) await markNoticePublished(client, tableName, notice, this.name, at);
    return notices.length;
  }
}
