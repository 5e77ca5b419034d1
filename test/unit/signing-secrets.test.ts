import { describe, expect, it } from 'vitest';
import { ConfigError, SecretUnavailableError } from '../../lib/errors';
import { CountingMetrics, METRIC } from '../../lib/metrics';
import {
  credentialsOf,
  deriveUrlToken,
  type ReadSecret,
  SecretsManagerSigningSecrets,
  tokenWebhookUrl,
} from '../../lib/signature/signing-secrets';
import { memoryLogger } from '../support/deliveries';

// No Secrets Manager API server runs locally (neither dynalite nor fauxqs emulates it), so this stands in for
// GetSecretValue with an in-memory secret whose value the test changes, counts the calls, and fails them on
// demand to inject an outage.
function fakeSecretsManager(initial: string) {
  const state = { value: initial, calls: 0, failing: false };
  const client: ReadSecret = async () => {
    state.calls++;
    if (state.failing) {
      throw Object.assign(new Error('Secrets Manager is unavailable'), { name: 'InternalServiceError' });
    }
    return state.value;
  };
  return { state, client };
}

const GENERATED = 'GeneratedAtDeployTime0123456789abcdefghij';

describe('SecretsManagerSigningSecrets', () => {
  it('reads the secret once per TTL and picks up a rotation after it', async () => {
    let now = 0;
    const { state, client } = fakeSecretsManager('{"sori":{"current":"a"}}');
    const secrets = new SecretsManagerSigningSecrets(client, 'arn', { ttlMs: 1_000, now: () => now });
    expect((await secrets.credentials('sori')).secrets).toEqual(['a']);
    expect((await secrets.credentials('sori')).secrets).toEqual(['a']);
    expect(state.calls).toBe(1);

    state.value = '{"sori":{"current":"b","previous":"a"}}';
    now = 999;
    expect((await secrets.credentials('sori')).secrets).toEqual(['a']);
    now = 1_001;
    expect((await secrets.credentials('sori')).secrets).toEqual(['b', 'a']);
    expect(state.calls).toBe(2);
  });

  it('shares one request between concurrent cold reads', async () => {
    const { state, client } = fakeSecretsManager(`{"url_token":"${GENERATED}","sori":{"current":"a"}}`);
    const secrets = new SecretsManagerSigningSecrets(client, 'arn');
    await Promise.all([
      secrets.credentials('sori'),
      secrets.credentials('symphony'),
      secrets.credentials('sori'),
    ]);
    expect(state.calls).toBe(1);
    expect((await secrets.credentials('symphony')).urlToken).toBe(deriveUrlToken(GENERATED, 'symphony'));
  });

  it('has no secret for a provider that is not set yet (fresh deploy): every signature is refused', async () => {
    const { client } = fakeSecretsManager(`{"url_token":"${GENERATED}"}`);
    expect((await new SecretsManagerSigningSecrets(client, 'arn').credentials('sori')).secrets).toEqual([]);
  });

  it('fails loudly on a malformed secret, without echoing it', async () => {
    const { client } = fakeSecretsManager('{"sori":"oops-plain-string-secret"}');
    const secrets = new SecretsManagerSigningSecrets(client, 'arn');
    await expect(secrets.credentials('sori')).rejects.toThrow(ConfigError);
    await expect(secrets.credentials('sori')).rejects.not.toThrow(/oops/);
  });

  it('keeps verifying with the cached secret when a refresh fails, logs and counts it, and retries 30 s later', async () => {
    let now = 0;
    const { state, client } = fakeSecretsManager('{"sori":{"current":"sk_cached_value"}}');
    const { lines, logger } = memoryLogger();
    const metrics = new CountingMetrics();
    const secrets = new SecretsManagerSigningSecrets(client, 'arn', {
      ttlMs: 1_000,
      retryAfterMs: 30_000,
      now: () => now,
      logger,
      metrics,
    });
    expect((await secrets.credentials('sori')).secrets).toEqual(['sk_cached_value']);

    state.failing = true;
    now = 1_001;
    expect((await secrets.credentials('sori')).secrets).toEqual(['sk_cached_value']);
    expect(state.calls).toBe(2);
    expect(metrics.get(METRIC.secretRefreshFailures)).toBe(1);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({
      level: 'warn',
      error: { name: 'InternalServiceError', message: 'Secrets Manager is unavailable' },
    });
    expect(lines.join('\n')).not.toContain('sk_cached_value');

    // Backing off: requests within the next 30 s are served from the cache without a call.
    for (const at of [1_002, 15_000, 31_000]) {
      now = at;
      expect((await secrets.credentials('sori')).secrets).toEqual(['sk_cached_value']);
    }
    expect(state.calls).toBe(2);

    // 30 s after the failure it tries again; once Secrets Manager is back, the new value is read.
    state.failing = false;
    state.value = '{"sori":{"current":"sk_rotated","previous":"sk_cached_value"}}';
    now = 31_002;
    expect((await secrets.credentials('sori')).secrets).toEqual(['sk_rotated', 'sk_cached_value']);
    expect(state.calls).toBe(3);
    expect(metrics.get(METRIC.secretRefreshFailures)).toBe(1);
  });

  it('keeps the cached secret when a malformed value is put in, instead of refusing everything', async () => {
    let now = 0;
    const { state, client } = fakeSecretsManager('{"sori":{"current":"a"}}');
    const metrics = new CountingMetrics();
    const secrets = new SecretsManagerSigningSecrets(client, 'arn', {
      ttlMs: 1_000,
      now: () => now,
      metrics,
    });
    await secrets.credentials('sori');
    state.value = '{"sori":"oops-plain-string-secret"}';
    now = 2_000;
    expect((await secrets.credentials('sori')).secrets).toEqual(['a']);
    expect(metrics.get(METRIC.secretRefreshFailures)).toBe(1);
  });

  it('with no secret read yet, a failed read is SecretUnavailableError, and the next request tries again', async () => {
    const { state, client } = fakeSecretsManager('{"sori":{"current":"a"}}');
    const metrics = new CountingMetrics();
    const secrets = new SecretsManagerSigningSecrets(client, 'arn', { metrics });
    state.failing = true;
    await expect(secrets.credentials('sori')).rejects.toThrow(SecretUnavailableError);
    expect(metrics.get(METRIC.secretRefreshFailures)).toBe(1);
    state.failing = false;
    expect((await secrets.credentials('sori')).secrets).toEqual(['a']);
    expect(state.calls).toBe(2);
  });
});

describe('URL tokens', () => {
  const URL_TOKEN_PROVIDERS = ['symphony', 'adreform', 'optimizely'];

  it('gives every provider a token of its own, derived from the generated value and never equal to it', () => {
    const tokens = URL_TOKEN_PROVIDERS.map((name) => credentialsOf({ url_token: GENERATED }, name).urlToken);
    expect(new Set(tokens).size).toBe(URL_TOKEN_PROVIDERS.length);
    for (const token of tokens) {
      expect(token).not.toBe(GENERATED);
      expect(token).not.toContain(GENERATED);
      // base64url: safe as a path segment, 256 bits.
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    }
  });

  it("uses a provider's own url_token over the derived one, leaving the others derived", () => {
    const document = { url_token: GENERATED, symphony: { url_token: 'own_symphony_token_0123' } };
    expect(credentialsOf(document, 'symphony').urlToken).toBe('own_symphony_token_0123');
    expect(credentialsOf(document, 'adreform').urlToken).toBe(deriveUrlToken(GENERATED, 'adreform'));
  });

  it('has no URL token at all when the document holds neither a generated value nor an own token', () => {
    expect(credentialsOf({ sori: { current: 'a' } }, 'symphony').urlToken).toBeUndefined();
    expect(tokenWebhookUrl('https://api.example/webhooks/sori', { sori: { current: 'a' } }, 'symphony')).toBe(
      undefined,
    );
  });

  it("builds each provider's URL from the stack's WebhookUrl output and its own token", () => {
    expect(tokenWebhookUrl('https://api.example/webhooks/sori', { url_token: GENERATED }, 'adreform')).toBe(
      `https://api.example/webhooks/adreform/${deriveUrlToken(GENERATED, 'adreform')}`,
    );
  });
});
