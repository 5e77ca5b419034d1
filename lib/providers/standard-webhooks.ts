import type { HmacScheme } from './provider';

/**
 * The Standard Webhooks headers: "`webhook-id`: the unique webhook identifier", "`webhook-timestamp`: integer
 * unix timestamp (seconds since epoch)", "`webhook-signature`: the signature(s) of this webhook".
 */
export const STANDARD_WEBHOOKS_HEADERS = {
  id: 'webhook-id',
  timestamp: 'webhook-timestamp',
  signature: 'webhook-signature',
} as const;

/** The tolerance its reference libraries apply to `webhook-timestamp` ("5 minutes"), unless configured. */
export const STANDARD_WEBHOOKS_TOLERANCE_SECONDS = 300;

/**
 * The Standard Webhooks symmetric scheme as an HMAC scheme:
 * - the content signed is `msg_id.timestamp.payload` ("the message's ID, timestamp and body are concatenated
 *   (delimited by full-stops) and then signed"), with HMAC-SHA256;
 * - the header "is a space delimited list of signatures", each "v1, followed by a comma (`,`), followed by the
 *   base64 encoded signature"; any one matching is enough ("try to verify each signature until one matches"),
 *   and one of another version (`v1a,` for an asymmetric one) is ignored;
 * - a secret is "base64 encoded, prefixed with `whsec_`": the key is the decoded bytes;
 * - `webhook-timestamp` must be "within some allowable tolerance of the current timestamp to prevent replay
 *   attacks", checked when a delivery is received.
 * Its `webhook-id` is the delivery's idempotency key ("it remains the same no matter how many times a webhook
 * that has failed is retried"): a provider of this scheme keys its records by it.
 */
export function standardWebhooksScheme(
  toleranceSeconds: number = STANDARD_WEBHOOKS_TOLERANCE_SECONDS,
): HmacScheme {
  return {
    kind: 'hmac',
    header: STANDARD_WEBHOOKS_HEADERS.signature,
    algorithm: 'sha256',
    encoding: 'base64',
    prefix: 'v1,',
    separator: ' ',
    secretFormat: 'whsec',
    signedContent: '{id}.{timestamp}.{body}',
    timestamp: { header: STANDARD_WEBHOOKS_HEADERS.timestamp, toleranceSeconds },
    idHeader: STANDARD_WEBHOOKS_HEADERS.id,
  };
}
