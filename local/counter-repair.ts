import type { CampaignCounters } from '../lib/ingest/campaign-counters';
import type { Logger } from '../lib/log';

/**
 * Plays the deployed stack's scheduled counter repair locally: one pass right away (settling what a killed
 * process left), then one every `intervalMs`.
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

  start(): void {
    const tick = () => {
      this.running = this.pass().finally(() => {
        if (this.timer !== undefined) this.timer = setTimeout(tick, this.intervalMs);
      });
    };
    this.timer = setTimeout(tick, 0);
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
