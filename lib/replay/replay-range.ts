import type { Destination } from '../destinations/destination';
import type { RangeReader, ReplayCursor, ReplayRange } from './range-reader';

/** Where a replay stands after a page. */
export interface ReplayProgress {
  /** The last page whose events were all sent. */
  cursor: ReplayCursor;
  /** Events sent by this run so far. */
  sent: number;
  /** The day of the source being read, for progress messages. */
  day: string;
  provider: string;
}

/** What {@link replayRange} sends, where to, from where, and whom it tells after each page. */
export interface ReplayOptions {
  reader: RangeReader;
  destination: Destination;
  range: ReplayRange;
  /** Where to resume: the cursor of a checkpoint; from the start without it. */
  from?: ReplayCursor | undefined;
  /**
   * Called once a page's events are all sent, before the next page is read: where a checkpoint is written. A
   * failure here stops the replay (the page is then sent again on resume).
   */
  afterPage?: (progress: ReplayProgress) => Promise<void> | void;
  /** Asked before each page is read: `true` stops the replay there, to be resumed from the last cursor. */
  shouldStop?: () => boolean;
}

/** How a replay run ended. */
export interface ReplayOutcome {
  sent: number;
  /** The last page sent, `null` when none was (the cursor to resume from, with `complete` false). */
  cursor: ReplayCursor | null;
  /** The whole range was read and sent. */
  complete: boolean;
}

/**
 * Sends the stored events of a range to a destination, page by page: each page's events are all sent before the
 * page's cursor is handed to `afterPage`, so a replay stopped anywhere (a destination that keeps failing, a crash,
 * `shouldStop`) and resumed from the last cursor handed out sends every event of the range at least once. Only
 * the events of the page under way when it stopped are sent again.
 * @throws what the destination or the reader threw (a `DestinationError` for records not accepted), the last
 *   cursor having been handed to `afterPage`.
 */
export async function replayRange(options: ReplayOptions): Promise<ReplayOutcome> {
  let sent = 0;
  let cursor: ReplayCursor | null = options.from ?? null;
  const pages = options.reader.pages(options.range, options.from);
  for (;;) {
    if (options.shouldStop?.()) {
      await pages.return(undefined);
      return { sent, cursor, complete: false };
    }
    const next = await pages.next();
    if (next.done) return { sent, cursor, complete: true };
    const page = next.value;
    if (page.events.length > 0) {
      await options.destination.send(page.events, 'replay');
      sent += page.events.length;
    }
    cursor = page.cursor;
    await options.afterPage?.({ cursor, sent, provider: cursor.source[0], day: cursor.source[1] });
  }
}

/** @returns how many stored events the range holds (for a dry run), reading them as a replay would. */
export async function countRange(reader: RangeReader, range: ReplayRange): Promise<number> {
  let count = 0;
  for await (const page of reader.pages(range)) count += page.events.length;
  return count;
}
