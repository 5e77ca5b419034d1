import type { EventRecord } from '../events/event-record';

/** What a provider's schemas made of a parsed body: a normalized record, or why it was not understood. */
export type Interpretation = { ok: true; record: EventRecord } | { ok: false; reason: string };

/** What a request said of the delivery it carries, besides the body. */
export interface Delivery {
  /** The value of the provider's {@link Provider.deliveryIdHeader}, when it has one and the request sent it. */
  id?: string | undefined;
  /** The app whose URL it came to and whose credentials verified it; absent: the provider's default app. */
  app?: string | undefined;
  /** The X-Ray trace id of the request that brought it, when the receive function is traced. */
  traceId?: string | undefined;
}

/**
 * An HMAC in a request header, over the raw body bytes or over a string composed of the body and other headers'
 * values (Standard Webhooks signs `msg_id.timestamp.body`). Every optional field absent is SORI's scheme: one
 * hex or base64 digest of the raw body, keyed with the secret's text.
 */
export interface HmacScheme {
  kind: 'hmac';
  /** Lower case (API Gateway lower-cases header names), as for every header named here. */
  header: string;
  algorithm: 'sha256' | 'sha1' | 'sha512';
  /** The digest's encoding; absent: hex or base64, whichever the value is. */
  encoding?: 'hex' | 'base64' | undefined;
  /** What each signature starts with (`sha256=`, `v1,`), required when set; absent: an optional `<algorithm>=`. */
  prefix?: string | undefined;
  /** What separates several signatures in the header (any one matching is enough); absent: one signature. */
  separator?: string | undefined;
  /** How a secret becomes the key: its text (default), or `whsec`: the bytes of `whsec_` + base64. */
  secretFormat?: 'text' | 'whsec' | undefined;
  /**
   * What is signed: a template of `{body}` (the raw bytes, exactly once), `{timestamp}` and `{id}` (the values of
   * the `timestamp` and `idHeader` headers) and literal text, e.g. `{id}.{timestamp}.{body}`. Absent: `{body}`.
   */
  signedContent?: string | undefined;
  /**
   * The header holding the time the delivery was signed, in Unix seconds, and how far from the receipt time it may
   * be: checked when a delivery is received, never when a stored one is processed again.
   */
  timestamp?: { header: string; toleranceSeconds: number } | undefined;
  /** The header whose value `{id}` stands for in the signed content. */
  idHeader?: string | undefined;
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
  /**
   * The version of its mapping (schemas and normalization): raised by one whenever a change to the mapping could
   * make a stored body give another record, so that records made by the earlier mapping can be found and
   * normalized again. Every record says which made it (`normalizer`, `<name>@<version>`). Absent: 1.
   */
  readonly normalizerVersion?: number;
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
   * @param delivery what the request said of the delivery besides its body, when it is known: `id`, the value of
   *   {@link Provider.deliveryIdHeader} (a delivery processed again from its stored body alone has none)
   * @returns never throws: anything not understood comes back as `{ ok: false, reason }`.
   */
  interpret(payload: unknown, receivedAt: string, source?: string, delivery?: Delivery): Interpretation;
  /**
   * The request header naming the delivery, the same on every retry of it (Standard Webhooks' `webhook-id`), when
   * the provider keys its records by it: the receiver hands its value to {@link Provider.interpret}.
   */
  readonly deliveryIdHeader?: string;
  /** The current-state item an event moves, if the provider keeps one. */
  stateOf?(record: EventRecord): StateUpdate | undefined;
}
