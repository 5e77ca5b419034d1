import { describe, expect, it } from 'vitest';
import { loadProcessConfig, readReceiveConfig } from '../../lib/config';
import { ConfigError } from '../../lib/errors';
import { providerNames } from '../../lib/providers';
import { parseSigningSecretDocument } from '../../lib/signature/signing-secrets';

/** The receive function's configuration as its cold start reads it, for the providers this build serves. */
const loadReceiveConfig = (env: Record<string, string>) => readReceiveConfig(env, providerNames());

describe('configuration', () => {
  it('reads the receive settings with the 256 KiB default body limit', () => {
    const config = loadReceiveConfig({ QUEUE_URL: 'http://q', SORI_SECRET_KEY: 's' });
    expect(config).toMatchObject({
      queueUrl: 'http://q',
      maxBodyBytes: 4_194_304,
      secrets: { source: 'env' },
    });
  });

  it('prefers Secrets Manager when SIGNING_SECRET_ARN is set', () => {
    const config = loadReceiveConfig({ QUEUE_URL: 'q', SIGNING_SECRET_ARN: 'arn:x', SORI_SECRET_KEY: 's' });
    expect(config.secrets).toEqual({ source: 'secrets-manager', secretArn: 'arn:x', ttlMs: 300_000 });
  });

  it.each([
    [{ SORI_SECRET_KEY: 's' }, 'QUEUE_URL'],
    [{ QUEUE_URL: 'q' }, 'SIGNING_SECRET_ARN'],
    [{ QUEUE_URL: 'q', SORI_SECRET_KEY: 's', MAX_BODY_BYTES: '-1' }, 'MAX_BODY_BYTES'],
    [{ QUEUE_URL: 'q', SORI_SECRET_KEY: 's', MAX_BODY_BYTES: 'lots' }, 'MAX_BODY_BYTES'],
  ])('fails the cold start loudly for %j', (env, named) => {
    expect(() => loadReceiveConfig(env)).toThrow(ConfigError);
    expect(() => loadReceiveConfig(env)).toThrow(named);
  });

  it('requires TABLE_NAME for the process function', () => {
    expect(() => loadProcessConfig({})).toThrow('TABLE_NAME');
    expect(loadProcessConfig({ TABLE_NAME: 't' })).toEqual({
      tableName: 't',
      layout: { shards: 1, retentionDays: 365 },
      staleAfterMs: 60_000,
    });
    expect(loadProcessConfig({ TABLE_NAME: 't', SHARDS: '8', RECORD_RETENTION_DAYS: '0' }).layout).toEqual({
      shards: 8,
      retentionDays: null,
    });
    expect(() => loadProcessConfig({ TABLE_NAME: 't', SHARDS: '0' })).toThrow('SHARDS');
  });

  it('parses the signing secret document and never echoes a malformed one', () => {
    expect(parseSigningSecretDocument('{"sori":{"current":"a","previous":"b"}}')).toEqual({
      sori: { current: 'a', previous: 'b' },
    });
    expect(() => parseSigningSecretDocument('hunter2')).toThrow(ConfigError);
    expect(() => parseSigningSecretDocument('hunter2')).not.toThrow(/hunter2/);
    expect(() => parseSigningSecretDocument('{"sori":"hunter2"}')).not.toThrow(/hunter2/);
  });
});
