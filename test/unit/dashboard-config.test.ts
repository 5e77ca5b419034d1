import { describe, expect, it } from 'vitest';
import { loadDashboardConfig } from '../../functions/campaign-dashboard/config';
import { ConfigError } from '../../lib/errors';
import { DEFAULT_SIGNAL_THRESHOLDS } from '../../lib/signals/thresholds';

const ISSUER = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pool';
const ENV = {
  TABLE_NAME: 'records',
  TOKEN_ISSUER: ISSUER,
  TOKEN_CLIENT_ID: 'client',
  SIGN_IN_URL: 'https://inbox-abc.auth.eu-west-1.amazoncognito.com',
};

describe('the dashboard function configuration', () => {
  it("reads the table, the issuer, the client and the sign-in URL; the key set defaults to the issuer's", () => {
    expect(loadDashboardConfig({ ...ENV, SHARDS: '4' })).toEqual({
      tableName: 'records',
      layout: { shards: 4, retentionDays: 365 },
      tokenIssuer: ISSUER,
      tokenClientId: 'client',
      jwksUrl: `${ISSUER}/.well-known/jwks.json`,
      signInUrl: 'https://inbox-abc.auth.eu-west-1.amazoncognito.com',
      signals: DEFAULT_SIGNAL_THRESHOLDS,
    });
    expect(
      loadDashboardConfig({ ...ENV, TOKEN_JWKS_URL: 'http://127.0.0.1:5000/p/.well-known/jwks.json' })
        .jwksUrl,
    ).toBe('http://127.0.0.1:5000/p/.well-known/jwks.json');
  });

  it.each([
    [{ TABLE_NAME: undefined }, 'TABLE_NAME'],
    [{ TOKEN_ISSUER: undefined }, 'TOKEN_ISSUER'],
    [{ TOKEN_CLIENT_ID: '' }, 'TOKEN_CLIENT_ID'],
    [{ SIGN_IN_URL: undefined }, 'SIGN_IN_URL'],
    [{ SIGN_IN_URL: 'inbox-abc.auth.eu-west-1.amazoncognito.com' }, 'SIGN_IN_URL'],
    [{ SIGN_IN_URL: 'http://inbox-abc.auth.eu-west-1.amazoncognito.com' }, 'SIGN_IN_URL'],
    [{ SIGN_IN_URL: 'https://inbox-abc.auth.eu-west-1.amazoncognito.com/login' }, 'SIGN_IN_URL'],
    [{ TOKEN_ISSUER: 'http://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pool' }, 'TOKEN_ISSUER'],
    [{ TOKEN_JWKS_URL: 'http://example.com/jwks.json' }, 'TOKEN_JWKS_URL'],
    [{ SHARDS: '0' }, 'SHARDS'],
  ])('fails the cold start loudly for %j', (change, named) => {
    const env = { ...ENV, ...change };
    expect(() => loadDashboardConfig(env)).toThrow(ConfigError);
    expect(() => loadDashboardConfig(env)).toThrow(named);
  });
});
