import type { CampaignCounters } from '../lib/ingest/campaign-counters';
import type { Logger } from '../lib/log';

/**
 * Plays the deployed stack's scheduled counter repair locally: one pass right away (settling what a killed
 * process left), then one every `intervalMs`, and one soon after each batch the local consumer stores
 * ({@link CounterRepairLoop.kick}), so local counters follow the records at once.
 */
export class CounterRepairLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly counters: CampaignCounters,
    private readonly logger: Logger,
    private readonly intervalMs: number,
    /** While this says so, passes are skipped: a table refusing writes could settle nothing. */
    private readonly paused: () => boolean = () => false,
  ) {}

  private kicked = false;

  start(): void {
    this.timer = setTimeout(() => this.tick(), 0);
  }

  private tick(): void {
    this.kicked = false;
    this.running = this.pass().finally(() => {
      if (this.timer === undefined) return;
      // A batch stored during the pass asks for another one at once.
      this.timer = setTimeout(() => this.tick(), this.kicked ? 0 : this.intervalMs);
    });
  }

  /** Asks for a pass as soon as the one under way (if any) is over: a batch was just stored. */
  kick(): void {
    if (this.timer === undefined) return;
    this.kicked = true;
    // Between passes: run the next one now rather than at the end of the interval.
    void this.running.then(() => {
      if (this.timer === undefined || !this.kicked) return;
      clearTimeout(this.timer);
      this.tick();
    });
  }

  /** Runs a pass now, after the one under way (if any). */
  passNow(): Promise<void> {
    this.running = this.running.then(() => this.pass());
    return this.running;
  }

  /** Stops after the pass under way, if any. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
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
