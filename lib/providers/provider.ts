import type { EventRecord } from '../events/event-record';

/** What a provider's schemas made of a parsed body: a normalized record, or why it was not understood. */
export type Interpretation = { ok: true; record: EventRecord } | { ok: false; reason: string };

/** An HMAC over the raw body bytes, in a request header. */
export interface HmacScheme {
  kind: 'hmac';
  /** Lower case (API Gateway lower-cases header names). */
  header: string;
  algorithm: 'sha256' | 'sha1' | 'sha512';
}

/**
 * How a provider's requests are authenticated. `hmac`: a signature over the raw body; `url-token`: a secret
 * token as the last path segment (`POST /webhooks/<provider>/<token>`); `basic`: HTTP Basic credentials. An
 * `allowIps` list is checked on top of any of them.
 */
export interface AuthConfig {
  scheme: HmacScheme | { kind: 'url-token' } | { kind: 'basic' };
  /** Source addresses allowed (exact IPv4/IPv6 addresses or IPv4 CIDR ranges); empty or absent: any. */
  allowIps?: readonly string[];
}

/** A per-provider "current state" item kept next to the event records (see the Symphony provider). */
export interface StateUpdate {
  /** Identifies the item, e.g. the campaign id. */
  key: string;
  /** Lifecycle rank: a delivery of lower rank than the stored state never replaces it. */
  rank: number;
  /** What the state holds. */
  fields: Record<string, string | null>;
}

/**
 * Everything the pipeline needs to know about one webhook source. Adding a provider is one file like this one
 * (its schemas, event names, record key and normalization) plus its fixtures.
 */
export interface Provider {
  /** The `{provider}` path segment, lower case. */
  readonly name: string;
  /** How its requests are authenticated unless configuration says otherwise. */
  readonly auth: AuthConfig;
  /** The canonical event names it produces (dashboards and alarms list them). */
  readonly events: readonly string[];
  /**
   * `true` when its payloads carry no time of their own and `created_at` is when the delivery was received:
   * a retry then has another `created_at`, so the table keys such events by id alone.
   */
  readonly timeIsReceipt?: boolean;
  /** Canonical events that move the campaign counters, and which counter (read time only: keys ignore it). */
  readonly counted?: Readonly<Record<string, 'impressions' | 'clicks'>>;
  /**
   * Largest body it accepts. The deployment's `maxBodyBytes` caps it: the limit applied is the lower of the
   * two, so a provider can only narrow what the deployment allows, never widen it. Absent: the deployment's.
   */
  readonly maxBodyBytes?: number;
  /**
   * Validates a parsed JSON body and normalizes it; the record id is built only from fields that do not change
   * between the provider's retries.
   * @param source the JSON text `payload` was parsed from, where there is one: what JSON.parse cannot keep
   *   exactly (an integer above 2^53) is read from it
   * @returns never throws: anything not understood comes back as `{ ok: false, reason }`.
   */
  interpret(payload: unknown, receivedAt: string, source?: string): Interpretation;
  /** The current-state item an event moves, if the provider keeps one. */
  stateOf?(record: EventRecord): StateUpdate | undefined;
}
