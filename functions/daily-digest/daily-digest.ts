import { type DigestMessage, digestMessage, previousUtcDay } from '../../lib/digest/daily-digest';
import type { Logger } from '../../lib/log';
import { type Dashboard, isDay } from '../../lib/queries/dashboard';

/** SNS's `Publish`, as the digest calls it. */
export type PublishDigest = (input: DigestMessage & { TopicArn: string }) => Promise<{ MessageId?: string }>;

export interface DailyDigestDeps {
  /** The dashboard's reader: one UTC day's figures, read only. */
  reader: { read(day: string): Promise<Dashboard> };
  publish: PublishDigest;
  /** The alarms' topic, which the digest is sent to. */
  topicArn: string;
  now?: () => Date;
  logger?: Logger;
}

/** What one run of the digest sent. */
export interface DigestSent {
  day: string;
  messageId: string | null;
  campaigns: number;
}

/** Thrown for an invocation that names a day that is not one (a manual run's `{"day": ...}`). */
export class DigestRequestError extends Error {
  override name = 'DigestRequestError';
}

/**
 * The day a run covers: yesterday (UTC) for the schedule, whose input names no day, or the `day` a manual
 * invocation names (`{"day": "2026-03-01"}`), to send a day's digest again.
 * @throws {DigestRequestError} for a `day` that is not a UTC day as `YYYY-MM-DD`.
 */
export function dayOfRequest(request: unknown, now: Date): string {
  const day = (request as { day?: unknown } | null | undefined)?.day;
  if (day === undefined) return previousUtcDay(now);
  if (typeof day !== 'string' || !isDay(day))
    throw new DigestRequestError(`"day" must be a UTC day as YYYY-MM-DD, got ${JSON.stringify(day)}`);
  return day;
}

/**
 * The digest function's flow: read the day's figures as the dashboard reads them (campaigns from the counters,
 * deliveries from the provider-day items, refusals and dead letters from the pipeline's health), build the text,
 * publish it to the topic. Nothing is written but the one message.
 */
export function createDailyDigest(deps: DailyDigestDeps) {
  const now = deps.now ?? (() => new Date());
  return async (request?: unknown): Promise<DigestSent> => {
    const day = dayOfRequest(request, now());
    const figures = await deps.reader.read(day);
    const { MessageId } = await deps.publish({ TopicArn: deps.topicArn, ...digestMessage(figures) });
    const sent = { day, messageId: MessageId ?? null, campaigns: figures.campaigns.length };
    deps.logger?.info('daily digest sent', { ...sent });
    return sent;
  };
}
