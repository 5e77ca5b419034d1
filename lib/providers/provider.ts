import type { EventRecord } from '../records/event-record';

/** What a provider's schemas made of a parsed body: a normalized record, or why it was not understood. */
export type Interpretation = { ok: true; record: EventRecord } | { ok: false; reason: string };

/** Everything the pipeline needs to know about one webhook source. */
export interface Provider {
  /** The `{provider}` path segment, lower case. */
  readonly name: string;
  /** The request header carrying the body's signature, lower case (API Gateway lower-cases header names). */
  readonly signatureHeader: string;
  /** The canonical event names it produces (dashboards and alarms list them). */
  readonly events: readonly string[];
  /**
   * Validates a parsed JSON body and normalizes it.
   * @returns never throws: anything not understood comes back as `{ ok: false, reason }`.
   */
  interpret(payload: unknown, receivedAt: string): Interpretation;
}
