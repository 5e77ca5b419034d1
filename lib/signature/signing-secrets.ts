import { createHmac } from 'node:crypto';
import * as v from 'valibot';
import type { Deadline } from '../aws/deadline';
import { ConfigError, SecretUnavailableError } from '../errors';
import { AppNameSchema, DEFAULT_APP } from '../events/app-name';
import type { Logger } from '../log';
import { METRIC, type MetricsSink } from '../metrics';

/** A provider's credentials, from the signing secret. */
export interface Credentials {
  /** HMAC keys, current first. */
  secrets: string[];
  urlToken: string | undefined;
  basic: { username: string; password: string } | undefined;
  /**
   * `true` when `secrets` is empty but the provider has HMAC keys for another of its apps: a refusal then says
   * what a wrong signature's says, so that logs do not tell an app the secret does not name from a wrong key.
   * Absent, an empty `secrets` means the provider has no HMAC key at all, which a refusal says.
   */
  otherAppsKeyed?: boolean | undefined;
}

/** One app's HMAC keys: the current one and, during a rotation, the one before it. */
export const AppSecretSchema = v.object({
  current: v.nullish(v.pipe(v.string(), v.minLength(1))),
  previous: v.nullish(v.string()),
});
/** One app's HMAC keys, as {@link AppSecretSchema} reads them. */
export type AppSecret = v.InferOutput<typeof AppSecretSchema>;

/**
 * A provider's credentials in the signing secret: HMAC keys (the current one and, during a rotation, the one
 * before it), a URL token, or HTTP Basic credentials, as its scheme needs; and the keys of each of its other
 * apps by name (`apps`), for deliveries sent to `/webhooks/<provider>/<app>`. The keys at the top level are the
 * default app's, the provider's own URL's, as before a provider could have several.
 */
export const ProviderSecretSchema = v.object({
  current: v.nullish(v.pipe(v.string(), v.minLength(1))),
  previous: v.nullish(v.string()),
  url_token: v.nullish(v.pipe(v.string(), v.minLength(16, 'a URL token needs at least 16 characters'))),
  basic: v.nullish(v.object({ username: v.string(), password: v.pipe(v.string(), v.minLength(1)) })),
  apps: v.nullish(v.record(AppNameSchema, AppSecretSchema)),
});
/** A provider's credentials, as {@link ProviderSecretSchema} reads them. */
export type ProviderSecret = v.InferOutput<typeof ProviderSecretSchema>;

/**
 * The JSON kept in the signing secret: one entry per provider, and at the top level the random `url_token` the
 * stack generates at deploy time, e.g.
 * `{"url_token":"…","sori":{"current":"…","previous":"…"},"symphony":{"url_token":"…"}}`.
 *
 * The top-level `url_token` is never accepted as a token itself: it only seeds each provider's own token (see
 * {@link deriveUrlToken}). It keeps its name because the stack generates it under that key, and changing the
 * secret's generation template would make CloudFormation replace the whole value, keys set since included.
 */
export const SigningSecretDocumentSchema = v.objectWithRest(
  { url_token: v.optional(v.string()) },
  ProviderSecretSchema,
);
/**
 * The signing secret's JSON (see {@link SigningSecretDocumentSchema}): the generated top-level `url_token`
 * beside one {@link ProviderSecret} per provider name.
 */
export interface SigningSecretDocument {
  url_token?: string | undefined;
  [provider: string]: ProviderSecret | string | undefined;
}

/** Where the receiver reads credentials from. */
export interface SigningSecrets {
  /**
   * @param deadline when given, a read of the secret ends by it, and none starts after it.
   * @param app whose credentials: one of the provider's apps, or (absent) its default app
   * @returns what authenticates `provider`'s requests (for `app`); empty when nothing is configured (then all
   *   are refused).
   * @throws {SecretUnavailableError} when the secret cannot be read and no earlier copy is at hand.
   */
  credentials(provider: string, deadline?: Deadline, app?: string): Promise<Credentials>;
}

/**
 * A provider's URL token derived from the deploy-time random value: `base64url(HMAC-SHA256(generated,
 * "url-token:" + provider))`, 43 characters. Each provider gets a different token, and knowing one (it is in a
 * URL pasted into that provider's console) tells nothing of another's nor of the generated value.
 */
export function deriveUrlToken(generated: string, provider: string): string {
  return createHmac('sha256', generated).update(`url-token:${provider}`).digest('base64url');
}

/** The provider's entry in the document, when it is an object. */
export function providerEntry(document: SigningSecretDocument, provider: string): ProviderSecret | undefined {
  const entry = document[provider];
  return typeof entry === 'object' ? entry : undefined;
}

/** The keys of one of `provider`'s apps other than its default one, when the document names that app. */
export function appEntry(
  document: SigningSecretDocument,
  provider: string,
  app: string,
): AppSecret | undefined {
  const apps = providerEntry(document, provider)?.apps;
  return apps && Object.hasOwn(apps, app) ? apps[app] : undefined;
}

/** `true` when `provider` has an HMAC key in the document, the default app's or any other app's. */
function providerKeyed(document: SigningSecretDocument, provider: string): boolean {
  const entry = providerEntry(document, provider);
  const keyed = (keys: AppSecret | null | undefined) => Boolean(keys?.current || keys?.previous);
  return keyed(entry) || Object.values(entry?.apps ?? {}).some(keyed);
}

/** The credentials' keys, and whether the provider has keys elsewhere when these have none. */
function keysOf(
  document: SigningSecretDocument,
  provider: string,
  keys: AppSecret | null | undefined,
): Pick<Credentials, 'secrets' | 'otherAppsKeyed'> {
  const secrets = [keys?.current, keys?.previous].filter((value): value is string => Boolean(value));
  return secrets.length === 0 && providerKeyed(document, provider)
    ? { secrets, otherAppsKeyed: true }
    : { secrets };
}

/**
 * @returns the credentials of `provider` in a signing secret document (of its `app`, default: its default app).
 *   Its URL token is its own `url_token` when set (what `npm run set-secret -- --new-url-token` writes), else the
 *   one {@link deriveUrlToken} derives from the top-level generated value, else none (then its URL-token route
 *   refuses everything). Another app has its HMAC keys only, none when the document does not name it. Credentials
 *   without keys say whether the provider has keys for another app ({@link Credentials.otherAppsKeyed}).
 */
export function credentialsOf(
  document: SigningSecretDocument,
  provider: string,
  app: string = DEFAULT_APP,
): Credentials {
  if (app !== DEFAULT_APP) {
    return {
      ...keysOf(document, provider, appEntry(document, provider, app)),
      urlToken: undefined,
      basic: undefined,
    };
  }
  const secret = providerEntry(document, provider);
  return {
    ...keysOf(document, provider, secret),
    urlToken:
      secret?.url_token || (document.url_token ? deriveUrlToken(document.url_token, provider) : undefined),
    basic: secret?.basic ?? undefined,
  };
}

/**
 * The URL-token webhook URL of `provider` (a secret: paste it into that provider only), from the deployed
 * stack's `WebhookUrl` output (`…/webhooks/sori`).
 * @returns `undefined` when the provider has no URL token.
 */
export function tokenWebhookUrl(
  webhookUrl: string,
  document: SigningSecretDocument,
  provider: string,
): string | undefined {
  const token = credentialsOf(document, provider).urlToken;
  if (!token) return undefined;
  return `${webhookUrl.replace(/\/webhooks\/[^/]+\/?$/, '')}/webhooks/${provider}/${token}`;
}

/** Credentials held in memory: the local stack and tests. */
export class StaticSigningSecrets implements SigningSecrets {
  constructor(private readonly document: SigningSecretDocument) {}

  async credentials(provider: string, _deadline?: Deadline, app?: string): Promise<Credentials> {
    return credentialsOf(this.document, provider, app);
  }
}

/** The error's name and message only: an SDK error carries the whole HTTP response, which has no place in logs. */
function nameAndMessage(error: unknown): Error {
  const copy = new Error(error instanceof Error ? error.message : String(error));
  copy.name = error instanceof Error ? error.name : 'Error';
  return copy;
}

/** Secrets Manager's `GetSecretValue`: the secret's current `SecretString`, read by `deadline` when given. */
export type ReadSecret = (secretId: string, deadline?: Deadline) => Promise<string | undefined>;

/** Tuning and observers of {@link SecretsManagerSigningSecrets}. */
export interface SecretsManagerSigningSecretsOptions {
  /** How long a read copy is used before it is read again; default 5 minutes. */
  ttlMs?: number;
  /** After a failed refresh, how long the cached copy serves before the next attempt; default 30 s. */
  retryAfterMs?: number;
  now?: () => number;
  /** Told of failed refreshes (the error's name and message only, never the secret). */
  logger?: Logger;
  /** Counts failed reads as {@link METRIC.secretRefreshFailures}. */
  metrics?: MetricsSink;
}

/**
 * Credentials read from AWS Secrets Manager once per container and refreshed after `ttlMs`, so a rotation
 * reaches every container within that time while the previous secret keeps verifying meanwhile.
 *
 * A failed refresh (Secrets Manager unreachable, throttled, or a malformed value put in) does not stop the
 * receiver: the cached copy keeps verifying, and the next attempt waits `retryAfterMs` so an outage is not
 * met with a call per request. Only with no copy at all (the container's first read failed) does reading
 * fail, with {@link SecretUnavailableError} (a 503 the sender retries); every request tries again then, since
 * nothing can be verified until one succeeds.
 *
 * A refresh takes its time from the invocation that needs it: cut at that invocation's deadline, it is a failed
 * refresh like any other, and the cached copy verifies meanwhile.
 */
export class SecretsManagerSigningSecrets implements SigningSecrets {
  private cached: { document: SigningSecretDocument; refreshAt: number } | undefined;
  private pending: Promise<SigningSecretDocument> | undefined;
  private readonly ttlMs: number;
  private readonly retryAfterMs: number;
  private readonly now: () => number;

  constructor(
    private readonly readSecret: ReadSecret,
    private readonly secretId: string,
    private readonly options: SecretsManagerSigningSecretsOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 300_000;
    this.retryAfterMs = options.retryAfterMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  async credentials(provider: string, deadline?: Deadline, app?: string): Promise<Credentials> {
    return credentialsOf(await this.document(deadline), provider, app);
  }

  private async document(deadline: Deadline | undefined): Promise<SigningSecretDocument> {
    if (this.cached && this.cached.refreshAt > this.now()) return this.cached.document;
    this.pending ??= this.refresh(deadline).finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async refresh(deadline: Deadline | undefined): Promise<SigningSecretDocument> {
    let document: SigningSecretDocument;
    try {
      document = parseSigningSecretDocument((await this.readSecret(this.secretId, deadline)) ?? '');
    } catch (error) {
      this.options.metrics?.count(METRIC.secretRefreshFailures);
      // A malformed value is the operator's mistake, not an outage: it keeps its own loud error.
      if (!this.cached) {
        if (error instanceof ConfigError) throw error;
        throw new SecretUnavailableError('the signing secret could not be read', { cause: error });
      }
      this.cached.refreshAt = this.now() + this.retryAfterMs;
      this.options.logger?.warn('signing secret refresh failed; verifying with the cached copy', {
        error: nameAndMessage(error),
        retryInMs: this.retryAfterMs,
      });
      return this.cached.document;
    }
    this.cached = { document, refreshAt: this.now() + this.ttlMs };
    return document;
  }
}

/**
 * Parses the signing secret's JSON.
 * @throws {ConfigError} naming what is wrong, never echoing the value.
 */
export function parseSigningSecretDocument(text: string): SigningSecretDocument {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError('the signing secret is not JSON; expected {"sori":{"current":"…","previous":"…"}}');
  }
  const result = v.safeParse(SigningSecretDocumentSchema, json);
  if (!result.success) {
    throw new ConfigError(
      'the signing secret must look like {"url_token":"…","sori":{"current":"…","previous":"…","apps":{"agency-a":{"current":"…","previous":"…"}}},"symphony":{"url_token":"…"}} (app names: 1 to 32 lower-case letters, digits or hyphens, not default)',
    );
  }
  return result.output as SigningSecretDocument;
}
