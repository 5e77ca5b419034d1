import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as v from 'valibot';
import { ConfigError } from '../errors';
import type { Credentials } from './authenticate';

/**
 * A provider's credentials in the signing secret: HMAC keys (the current one and, during a rotation, the one
 * before it), a URL token, or HTTP Basic credentials, as its scheme needs.
 */
export const ProviderSecretSchema = v.object({
  current: v.nullish(v.pipe(v.string(), v.minLength(1))),
  previous: v.nullish(v.string()),
  url_token: v.nullish(v.pipe(v.string(), v.minLength(16, 'a URL token needs at least 16 characters'))),
  basic: v.nullish(v.object({ username: v.string(), password: v.pipe(v.string(), v.minLength(1)) })),
});
export type ProviderSecret = v.InferOutput<typeof ProviderSecretSchema>;

/**
 * The JSON kept in the signing secret: one entry per provider, and a `url_token` generated at deploy time that
 * serves providers without one of their own, e.g.
 * `{"url_token":"…","sori":{"current":"…","previous":"…"},"symphony":{"url_token":"…"}}`.
 */
export const SigningSecretDocumentSchema = v.objectWithRest(
  { url_token: v.optional(v.string()) },
  ProviderSecretSchema,
);
export interface SigningSecretDocument {
  url_token?: string | undefined;
  [provider: string]: ProviderSecret | string | undefined;
}

/** Where the receiver reads credentials from. */
export interface SigningSecrets {
  /** @returns what authenticates `provider`'s requests; empty when nothing is configured (then all are refused). */
  credentials(provider: string): Promise<Credentials>;
}

/** @returns the credentials of `provider` in a signing secret document. */
export function credentialsOf(document: SigningSecretDocument, provider: string): Credentials {
  const entry = document[provider];
  const secret = typeof entry === 'object' ? entry : undefined;
  return {
    secrets: [secret?.current, secret?.previous].filter((value): value is string => Boolean(value)),
    urlToken: secret?.url_token || document.url_token || undefined,
    basic: secret?.basic ?? undefined,
  };
}

/** Credentials held in memory: the local stack and tests. */
export class StaticSigningSecrets implements SigningSecrets {
  constructor(private readonly document: SigningSecretDocument) {}

  async credentials(provider: string): Promise<Credentials> {
    return credentialsOf(this.document, provider);
  }
}

/**
 * Credentials read from AWS Secrets Manager once per container and refreshed after `ttlMs`, so a rotation
 * reaches every container within that time while the previous secret keeps verifying meanwhile.
 */
export class SecretsManagerSigningSecrets implements SigningSecrets {
  private cached: { document: SigningSecretDocument; expiresAt: number } | undefined;
  private pending: Promise<SigningSecretDocument> | undefined;

  constructor(
    private readonly client: SecretsManagerClient,
    private readonly secretId: string,
    private readonly ttlMs = 300_000,
    private readonly now = Date.now,
  ) {}

  async credentials(provider: string): Promise<Credentials> {
    return credentialsOf(await this.document(), provider);
  }

  private async document(): Promise<SigningSecretDocument> {
    if (this.cached && this.cached.expiresAt > this.now()) return this.cached.document;
    this.pending ??= this.fetch().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async fetch(): Promise<SigningSecretDocument> {
    const output = await this.client.send(new GetSecretValueCommand({ SecretId: this.secretId }));
    const document = parseSigningSecretDocument(output.SecretString ?? '');
    this.cached = { document, expiresAt: this.now() + this.ttlMs };
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
      'the signing secret must look like {"url_token":"…","sori":{"current":"…","previous":"…"},"symphony":{"url_token":"…"}}',
    );
  }
  return result.output as SigningSecretDocument;
}
