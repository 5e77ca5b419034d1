import { isIP } from 'node:net';
import { SignatureError, UnknownProviderError } from '../errors';
import type { AuthConfig, HmacScheme } from '../providers/provider';
import { secretMatches } from '../signature/secret-matches';
import {
  BODY_ONLY,
  composeSignedContent,
  parseSignedContent,
  type SignedPart,
} from '../signature/signed-content';
import type { Credentials } from '../signature/signing-secrets';
import { type SignedContent, verifySignature } from '../signature/verify-signature';

/** What the receiver knows of a request when it authenticates it. */
export interface AuthRequest {
  raw: Uint8Array;
  /** Header lookup by lower-case name. */
  header(name: string): string | undefined;
  /** The `{token}` path segment, when the request came by the URL-token route. */
  token: string | undefined;
  sourceIp: string | undefined;
  /** When the request was received (epoch ms), what a signed timestamp is held against; default now. */
  now?: number | undefined;
}

function ipv4ToNumber(address: string): number | undefined {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((part) => !Number.isInteger(part) || part < 0 || part > 255))
    return undefined;
  return parts.reduce((sum, part) => sum * 256 + part, 0);
}

/** `true` when `address` is one of `allowed` (exact addresses, or IPv4 ranges like `193.169.180.0/24`). */
export function ipAllowed(address: string | undefined, allowed: readonly string[]): boolean {
  if (!address) return false;
  const plain = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  return allowed.some((entry) => {
    const [range, bits] = entry.split('/');
    if (bits === undefined) return range === plain;
    const base = ipv4ToNumber(range ?? '');
    const ip = ipv4ToNumber(plain);
    const prefix = Number(bits);
    if (base === undefined || ip === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32)
      return false;
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    return (base & mask) >>> 0 === (ip & mask) >>> 0;
  });
}

function verifyBasic(header: string | undefined, expected: Credentials['basic']): boolean {
  if (!expected || !header?.toLowerCase().startsWith('basic ')) return false;
  const given = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  return secretMatches(given, `${expected.username}:${expected.password}`);
}

/** Templates already read: a scheme's comes from configuration, so there are only ever a few. */
const templates = new Map<string, SignedPart[]>();

function templateParts(template: string): SignedPart[] {
  let parts = templates.get(template);
  if (!parts) {
    const parsed = parseSignedContent(template);
    // Configuration is validated when it is read; a template that got past it refuses everything.
    if (!Array.isArray(parsed))
      throw new SignatureError(`the signed content is not a template: ${parsed.error}`);
    parts = parsed;
    templates.set(template, parts);
  }
  return parts;
}

/** A header the signed content needs; a request without it cannot be authentic. */
function requiredHeader(request: AuthRequest, name: string | undefined): string {
  const value = name === undefined ? undefined : request.header(name);
  if (value === undefined) throw new SignatureError(`no ${name ?? 'delivery id'} header`);
  return value;
}

/** What the sender signed: the raw body, or the string the scheme's template composes from it and the headers. */
function signedContentOf(scheme: HmacScheme, request: AuthRequest): SignedContent {
  if (scheme.signedContent === undefined || scheme.signedContent === BODY_ONLY) return request.raw;
  const parts = templateParts(scheme.signedContent);
  const uses = (value: string) => parts.some((part) => 'value' in part && part.value === value);
  return composeSignedContent(parts, request.raw, {
    timestamp: uses('timestamp') ? requiredHeader(request, scheme.timestamp?.header) : undefined,
    id: uses('id') ? requiredHeader(request, scheme.idHeader) : undefined,
  });
}

/** A Unix time in whole seconds, as Standard Webhooks' `webhook-timestamp` is ("integer unix timestamp"). */
const UNIX_SECONDS = /^\d{1,15}$/;

/**
 * Holds the signed timestamp against the receipt time: a delivery signed longer ago than the tolerance (or as far
 * ahead) is refused, so that a captured request cannot be replayed later. Only at receipt: a delivery accepted
 * in time is never refused afterwards, whatever runs it again.
 */
function checkTimestamp(scheme: HmacScheme, request: AuthRequest): void {
  if (!scheme.timestamp) return;
  const value = requiredHeader(request, scheme.timestamp.header).trim();
  if (!UNIX_SECONDS.test(value)) throw new SignatureError(`${scheme.timestamp.header} is not a Unix time`);
  const skew = Math.floor((request.now ?? Date.now()) / 1000) - Number(value);
  if (Math.abs(skew) > scheme.timestamp.toleranceSeconds) {
    throw new SignatureError(
      `${scheme.timestamp.header} is ${Math.abs(skew)} s ${skew > 0 ? 'old' : 'ahead'}, over the tolerance of ${scheme.timestamp.toleranceSeconds} s`,
    );
  }
}

/**
 * Authenticates a request by the provider's scheme; fails closed: a scheme whose credentials are not set
 * refuses everything. The URL-token route is taken only by providers whose scheme is `url-token`, or by an
 * HMAC provider when `allowUnsigned` is on. An HMAC scheme with a timestamp also holds it to its tolerance of
 * `request.now`: this runs when a delivery is received and never again (what is queued carries no signature).
 * @throws {SignatureError} with a reason for logs, never for the sender; {@link UnknownProviderError} for
 *   the URL-token route of a provider that does not take it.
 */
export function authenticate(
  auth: AuthConfig,
  request: AuthRequest,
  credentials: Credentials,
  allowUnsigned = false,
): void {
  const scheme = auth.scheme;
  if (request.token !== undefined) {
    const tokenRoute = scheme.kind === 'url-token' || (scheme.kind === 'hmac' && allowUnsigned);
    if (!tokenRoute) throw new UnknownProviderError('the URL-token route is off for this provider');
    if (!secretMatches(request.token, credentials.urlToken)) throw new SignatureError('URL token mismatch');
  } else if (scheme.kind === 'hmac') {
    const content = signedContentOf(scheme, request);
    // Checked even without keys: the refusal then costs what a wrong signature's does (see verifySignature).
    const verified = verifySignature(content, request.header(scheme.header), credentials.secrets, scheme);
    if (credentials.secrets.length === 0 && credentials.otherAppsKeyed !== true)
      throw new SignatureError('no signing secret configured');
    if (!verified) throw new SignatureError('signature mismatch');
    checkTimestamp(scheme, request);
  } else if (scheme.kind === 'basic') {
    if (!verifyBasic(request.header('authorization'), credentials.basic))
      throw new SignatureError('basic credentials mismatch');
  } else {
    throw new SignatureError('this provider authenticates by URL token only');
  }
  if (auth.allowIps && auth.allowIps.length > 0 && !ipAllowed(request.sourceIp, auth.allowIps)) {
    throw new SignatureError('source address not allowed');
  }
}

export type { Credentials };
