import type { CampaignCounters } from '../lib/ingest/campaign-counters';
import type { Logger } from '../lib/log';

/**
 * Plays the deployed stack's scheduled counter repair locally: one pass right away (settling what a killed
 * process left), then one every `intervalMs`, and one soon after each batch the local consumer stores
 * ({@link CounterRepairLoop.kick}), so local counters follow the records at once.
 */
export class CounterRepairLoop {
  private timer: NodeJS.Timeout | undefined;
  /** Every pass runs after the one before: two passes at once would only make one give way. */
  private chain: Promise<void> = Promise.resolve();
  /** A pass is waiting its turn: a kick need not add another. */
  private queued = false;
  private stopped = true;

  constructor(
    private readonly counters: CampaignCounters,
    private readonly logger: Logger,
    private readonly intervalMs: number,
    /** While this says so, passes are skipped: a table refusing writes could settle nothing. */
    private readonly paused: () => boolean = () => false,
  ) {}

  start(): void {
    this.stopped = false;
    const next = () => {
      if (this.stopped) return;
      this.timer = setTimeout(() => void this.enqueue().then(next), this.intervalMs);
    };
    void this.enqueue().then(next);
  }

  private enqueue(): Promise<void> {
    this.queued = true;
    this.chain = this.chain.then(async () => {
      this.queued = false;
      if (!this.stopped) await this.pass();
    });
    return this.chain;
  }

  /** Asks for a pass after the one under way, if none is waiting already: a batch was just stored. */
  kick(): void {
    if (!this.stopped && !this.queued) void this.enqueue();
  }

  /** Runs a pass after the one under way (and any waiting). */
  passNow(): Promise<void> {
    return this.enqueue();
  }

  /** Stops after the pass under way, if any. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.chain;
  }

  private async pass(): Promise<void> {
    if (this.paused()) return;
    try {
      const summary = await this.counters.repair();
      if (summary.recounted > 0) this.logger.info('counters repaired', { ...summary });
    } catch (error) {
      this.logger.warn('counter repair failed; the next pass retries', { error });
    }
  }
}
