import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as v from 'valibot';
import { ConfigError } from '../errors';

/** A provider's signing secrets: the current one and, during a rotation, the one before it. */
export const ProviderSecretSchema = v.object({
  current: v.pipe(v.string(), v.minLength(1)),
  previous: v.nullish(v.string()),
});
export type ProviderSecret = v.InferOutput<typeof ProviderSecretSchema>;

/**
 * The JSON kept in the signing secret: an optional URL token and one entry per provider, e.g.
 * `{"url_token":"…","sori":{"current":"…","previous":"…"}}`.
 */
export const SigningSecretDocumentSchema = v.objectWithRest(
  { url_token: v.optional(v.string()) },
  ProviderSecretSchema,
);
export interface SigningSecretDocument {
  url_token?: string | undefined;
  [provider: string]: ProviderSecret | string | undefined;
}

/** Where the receiver reads signing secrets from. */
export interface SigningSecrets {
  /** @returns the secrets that verify `provider`'s signatures, current first; empty when none is configured. */
  forProvider(provider: string): Promise<string[]>;
  /** @returns the secret URL token of `POST /webhooks/{provider}/{token}`, if one is set. */
  urlToken(): Promise<string | undefined>;
}

const toList = (secret: ProviderSecret | string | undefined): string[] =>
  typeof secret === 'object' ? [secret.current, ...(secret.previous ? [secret.previous] : [])] : [];

/** Secrets held in memory: the local stack and tests. */
export class StaticSigningSecrets implements SigningSecrets {
  constructor(private readonly document: SigningSecretDocument) {}

  async forProvider(provider: string): Promise<string[]> {
    return toList(this.document[provider]);
  }

  async urlToken(): Promise<string | undefined> {
    return this.document.url_token || undefined;
  }
}

/**
 * Secrets read from AWS Secrets Manager once per container and refreshed after `ttlMs`, so a rotation reaches
 * every container within that time while the previous secret keeps verifying meanwhile.
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

  async forProvider(provider: string): Promise<string[]> {
    return toList((await this.document())[provider]);
  }

  async urlToken(): Promise<string | undefined> {
    return (await this.document()).url_token || undefined;
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
      'the signing secret must look like {"url_token":"…","sori":{"current":"…","previous":"…"}}',
    );
  }
  return result.output;
}
