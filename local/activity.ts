import type { EventRecord } from '../lib/events/event-record';

const MINUTE_MS = 60_000;

/** What the local dashboard shows besides the counters: the latest stored events and events per minute. */
export class Activity {
  private readonly latest: EventRecord[] = [];
  private readonly perMinute = new Map<number, number>();

  constructor(
    private readonly keep = 50,
    private readonly minutes = 30,
    private readonly now = Date.now,
  ) {}

  /** Notes an event stored for the first time. */
  add(record: EventRecord): void {
    this.latest.unshift(record);
    this.latest.length = Math.min(this.latest.length, this.keep);
    const minute = Math.floor(this.now() / MINUTE_MS);
    this.perMinute.set(minute, (this.perMinute.get(minute) ?? 0) + 1);
    for (const key of this.perMinute.keys()) if (key <= minute - this.minutes) this.perMinute.delete(key);
  }

  /** @returns the latest events (newest first) and a count for each of the last `minutes` minutes, oldest first. */
  snapshot(limit = 20): { latest: EventRecord[]; perMinute: { minute: string; events: number }[] } {
    const current = Math.floor(this.now() / MINUTE_MS);
    const perMinute = Array.from({ length: this.minutes }, (_, i) => {
      const minute = current - this.minutes + 1 + i;
      return {
        minute: new Date(minute * MINUTE_MS).toISOString().slice(11, 16),
        events: this.perMinute.get(minute) ?? 0,
      };
    });
    return { latest: this.latest.slice(0, limit), perMinute };
  }
}
