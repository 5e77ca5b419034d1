import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/errors';
import { SecretsManagerSigningSecrets } from '../../lib/signature/signing-secrets';

// No Secrets Manager API server runs locally (neither dynalite nor fauxqs emulates it), so this stands in for
// GetSecretValue with an in-memory secret whose value the test changes, and counts the calls.
function fakeSecretsManager(initial: string) {
  const state = { value: initial, calls: 0 };
  const client = {
    send: async () => {
      state.calls++;
      return { SecretString: state.value };
    },
  } as unknown as SecretsManagerClient;
  return { state, client };
}

describe('SecretsManagerSigningSecrets', () => {
  it('reads the secret once per TTL and picks up a rotation after it', async () => {
    let now = 0;
    const { state, client } = fakeSecretsManager('{"sori":{"current":"a"}}');
    const secrets = new SecretsManagerSigningSecrets(client, 'arn', 1_000, () => now);
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
    const { state, client } = fakeSecretsManager(
      '{"url_token":"tok_0123456789abcdef","sori":{"current":"a"}}',
    );
    const secrets = new SecretsManagerSigningSecrets(client, 'arn');
    await Promise.all([
      secrets.credentials('sori'),
      secrets.credentials('symphony'),
      secrets.credentials('sori'),
    ]);
    expect(state.calls).toBe(1);
    expect((await secrets.credentials('symphony')).urlToken).toBe('tok_0123456789abcdef');
  });

  it('has no secret for a provider that is not set yet (fresh deploy): every signature is refused', async () => {
    const { client } = fakeSecretsManager('{"url_token":"generated"}');
    expect((await new SecretsManagerSigningSecrets(client, 'arn').credentials('sori')).secrets).toEqual([]);
  });

  it('fails loudly on a malformed secret, without echoing it', async () => {
    const { client } = fakeSecretsManager('{"sori":"oops-plain-string-secret"}');
    const secrets = new SecretsManagerSigningSecrets(client, 'arn');
    await expect(secrets.credentials('sori')).rejects.toThrow(ConfigError);
    await expect(secrets.credentials('sori')).rejects.not.toThrow(/oops/);
  });
});
