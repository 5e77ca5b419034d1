import type { EventRecord } from '../events/event-record';
import type { SignalNotice } from '../signals/signal-notices';
import {
  backoff,
  type DeliveryOrigin,
  type Destination,
  DestinationError,
  deliveredEvent,
  sleep,
} from './destination';
import { redactedUrl } from './redacted-url';

/** The URL an {@link HttpDestination} POSTs to, and how it tries. */
export interface HttpDestinationOptions {
  url: string;
  /** Tries per record, the first included (default 6). */
  attempts?: number;
  /** The first pause before a record is sent again (default 500 ms), doubled at each try. */
  backoffMs?: number;
  /** How long one request may take, answer included (default 10 s). */
  timeoutMs?: number;
  /** Requests under way at once (default 4). */
  concurrency?: number;
  /** Headers sent with every request (e.g. an `authorization` the endpoint expects). */
  headers?: Record<string, string>;
  fetch?: typeof fetch;
}

/**
 * The URL's userinfo as basic authentication (RFC 7617: `user:password`, each as the URL's percent-encoding
 * decodes it), which fetch would refuse within the URL; none when the URL has none or the headers given carry an
 * `authorization` of their own.
 */
function basicAuthorization(url: URL, headers: Record<string, string> | undefined): Record<string, string> {
  if (url.username === '' && url.password === '') return {};
  if (Object.keys(headers ?? {}).some((name) => name.toLowerCase() === 'authorization')) return {};
  const decoded = (part: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      // A `%` not followed by two hex digits is kept as typed, as the URL parser kept it.
      return part;
    }
  };
  const credentials = `${decoded(url.username)}:${decoded(url.password)}`;
  return { authorization: `Basic ${Buffer.from(credentials).toString('base64')}` };
}

/** The header carrying the record id, as Stripe and the IETF draft on idempotency keys name it. */
export const IDEMPOTENCY_HEADER = 'idempotency-key';

/**
 * POSTs each record to an HTTP endpoint as JSON (a {@link DeliveredEvent}, one record per request), with the
 * record's id in the `idempotency-key` header too. Any answer but a 2xx, and no answer within the timeout, is
 * tried again after a growing pause; a record that keeps failing stops the call.
 */
export class HttpDestination implements Destination {
  readonly kind = 'http' as const;
  /** The URL with its userinfo and query values hidden (see {@link redactedUrl}): what messages show. */
  readonly target: string;
  /** The URL as given, secrets included: what tells one destination from another, never shown. */
  readonly url: string;
  /** Where the requests go: the URL without its userinfo, which goes in {@link authorization}. */
  private readonly endpoint: string;
  /** Basic authentication of the URL's userinfo, unless a header given says otherwise. */
  private readonly authorization: Record<string, string>;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly timeoutMs: number;
  private readonly concurrency: number;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: HttpDestinationOptions) {
    this.url = options.url;
    this.target = redactedUrl(options.url);
    const url = new URL(options.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new Error(`an HTTP destination is an http(s) URL, not ${this.target}`);
    this.authorization = basicAuthorization(url, options.headers);
    url.username = '';
    url.password = '';
    this.endpoint = url.href;
    this.attempts = Math.max(1, options.attempts ?? 6);
    this.backoffMs = options.backoffMs ?? 500;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.fetch = options.fetch ?? fetch;
  }

  /**
   * POSTs every record, at least once. Once a record has failed for good, no new request starts; those under way
   * finish.
   * @throws {DestinationError} naming the record that kept failing, with its last status or error.
   */
  async send(records: readonly EventRecord[], origin: DeliveryOrigin): Promise<void> {
    await this.postAll(
      records.map((record) => ({
        id: record.id,
        what: 'record',
        body: JSON.stringify(deliveredEvent(record, origin)),
      })),
    );
  }

  /**
   * POSTs every notice (its document, with its `notice_id` as the `idempotency-key`), at least once.
   * @throws {DestinationError} naming the notice that kept failing.
   */
  async sendNotices(notices: readonly SignalNotice[]): Promise<void> {
    await this.postAll(
      notices.map((notice) => ({ id: notice.notice_id, what: 'notice', body: JSON.stringify(notice) })),
    );
  }

  private async postAll(requests: readonly { id: string; what: string; body: string }[]): Promise<void> {
    let next = 0;
    let failure: DestinationError | undefined;
    const worker = async () => {
      while (!failure && next < requests.length) {
        const request = requests[next++] as (typeof requests)[number];
        try {
          await this.post(request);
        } catch (error) {
          failure ??=
            error instanceof DestinationError
              ? error
              : new DestinationError(String(error), [request.id], { cause: error });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, requests.length) }, worker));
    if (failure) throw failure;
  }

  private async post({ id, what, body }: { id: string; what: string; body: string }): Promise<void> {
    let why = '';
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      if (attempt > 1) await sleep(backoff(attempt, this.backoffMs));
      try {
        const response = await this.fetch(this.endpoint, {
          method: 'POST',
          headers: {
            ...this.authorization,
            ...this.options.headers,
            'content-type': 'application/json',
            [IDEMPOTENCY_HEADER]: id,
            'user-agent': 'campaign-inbox',
          },
          body,
          signal: AbortSignal.timeout(this.timeoutMs),
          redirect: 'error',
        });
        // The answer's body is read (and dropped) so that the connection is kept for the next request.
        await response.arrayBuffer().catch(() => undefined);
        if (response.ok) return;
        why = `answered ${response.status}`;
      } catch (error) {
        why =
          (error as Error).name === 'TimeoutError'
            ? `no answer within ${this.timeoutMs} ms`
            : this.withoutSecrets(String((error as Error).cause ?? error));
      }
    }
    throw new DestinationError(
      `${this.target} did not take ${what} ${id} after ${this.attempts} tries: ${why}`,
      [id],
    );
  }

  /** An error's text with the URL, as given or as fetched, shown as {@link target} (errors may quote it). */
  private withoutSecrets(text: string): string {
    let shown = text;
    for (const url of new Set([this.url, new URL(this.url).href, this.endpoint]))
      shown = shown.split(url).join(this.target);
    return shown;
  }
}
