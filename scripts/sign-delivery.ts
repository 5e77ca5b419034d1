import { createHash } from 'node:crypto';
import type { HmacScheme } from '../lib/providers/provider';
import { composeSignedContent, parseSignedContent } from '../lib/signature/signed-content';
import { signContent } from '../lib/signature/verify-signature';

/** How the tool was asked to write a signature whose scheme leaves it open. */
export interface SigningChoices {
  /** The time the delivery is signed at, for a scheme with a timestamp header (default: now). */
  now?: Date;
  /** The delivery id, for a scheme with an id header (default: one derived from the body's bytes). */
  id?: string;
  /** The digest's encoding when the scheme accepts either (default hex). */
  encoding?: 'hex' | 'base64';
  /** Write `<algorithm>=` before the digest when the scheme names no prefix of its own. */
  algorithmPrefix?: boolean;
}

/**
 * A delivery id that stays the same for the same bytes: a sender keeps its id on every retry of a delivery
 * (Standard Webhooks: "it remains the same no matter how many times a webhook that has failed is retried"), so
 * a file sent twice is one delivery, stored once.
 */
export function deliveryIdOf(body: Uint8Array): string {
  return `msg_${createHash('sha256').update(body).digest('base64url').slice(0, 27)}`;
}

/**
 * The headers a sender of `scheme` puts on `body`: the signature, and the timestamp and id headers the scheme
 * signs with it, computed through the receiver's own signing path, so what is sent is what it verifies.
 * @throws {Error} for a secret that gives no key, or a signed-content template that is not one.
 */
export function signatureHeaders(
  scheme: HmacScheme,
  body: Uint8Array,
  secret: string,
  choices: SigningChoices = {},
): Record<string, string> {
  const parts = parseSignedContent(scheme.signedContent ?? '{body}');
  if (!Array.isArray(parts))
    throw new Error(`the provider's signed content is not a template: ${parts.error}`);
  const headers: Record<string, string> = {};
  const timestamp = scheme.timestamp
    ? String(Math.floor((choices.now ?? new Date()).getTime() / 1000))
    : undefined;
  if (scheme.timestamp && timestamp) headers[scheme.timestamp.header] = timestamp;
  const id = scheme.idHeader ? (choices.id ?? deliveryIdOf(body)) : undefined;
  if (scheme.idHeader && id) headers[scheme.idHeader] = id;
  const encoding = scheme.encoding ?? choices.encoding ?? 'hex';
  const digest = signContent(composeSignedContent(parts, body, { timestamp, id }), secret, {
    algorithm: scheme.algorithm,
    secretFormat: scheme.secretFormat,
  }).toString(encoding);
  const prefix = scheme.prefix ?? (choices.algorithmPrefix ? `${scheme.algorithm}=` : '');
  headers[scheme.header] = `${prefix}${digest}`;
  return headers;
}
