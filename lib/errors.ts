/**
 * Base class of every domain error. Domain errors know nothing of HTTP: the receiver maps them to
 * status codes in one place.
 */
export class WebhookError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The request names a provider this deployment does not serve. */
export class UnknownProviderError extends WebhookError {}

/** The request is not authentic. The message is for logs only: callers never learn why. */
export class SignatureError extends WebhookError {}

/** The body is larger than the configured limit. */
export class PayloadTooLargeError extends WebhookError {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`body of ${size} bytes exceeds the limit of ${limit} bytes`);
  }
}

/** The queue could not take the message, so the sender must retry. */
export class QueueUnavailableError extends WebhookError {}

/**
 * The signing secret could not be read and no earlier copy is at hand, so nothing can be verified yet. The
 * sender must retry: the delivery was neither refused as forged nor stored.
 */
export class SecretUnavailableError extends WebhookError {}

/** A configuration value is missing or malformed; thrown at cold start. */
export class ConfigError extends WebhookError {}
