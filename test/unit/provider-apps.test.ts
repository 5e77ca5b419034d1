import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createReceiveHandler } from '../../functions/receive-webhook/receive-webhook';
import type { QueueMessage } from '../../lib/events/event-record';
import { appRouteKeys, parseProviderApps, signsWithHmac } from '../../lib/providers/apps';
import { rotateSecret } from '../../lib/signature/rotate-secret';
import {
  credentialsOf,
  parseSigningSecretDocument,
  type SigningSecretDocument,
  StaticSigningSecrets,
} from '../../lib/signature/signing-secrets';
import { hexSignature, memoryLogger, soriBody, webhookEvent } from '../support/deliveries';

/** Today's document, and the same with two SORI apps beside the default one. */
const TODAY: SigningSecretDocument = {
  url_token: 'generated_value_0123456789',
  sori: { current: 'sk_default', previous: 'sk_default_old' },
  symphony: { url_token: 'symphony_own_token_0123456' },
};
const WITH_APPS: SigningSecretDocument = {
  ...TODAY,
  sori: {
    current: 'sk_default',
    previous: 'sk_default_old',
    apps: {
      'agency-a': { current: 'sk_a', previous: 'sk_a_old' },
      'agency-b': { current: 'sk_b', previous: null },
    },
  },
};

describe('the signing secret with several apps per provider', () => {
  it("reads today's document as the default app, and each named app's own current and previous keys; an app not in it has none", () => {
    expect(credentialsOf(parseSigningSecretDocument(JSON.stringify(TODAY)), 'sori').secrets).toEqual([
      'sk_default',
      'sk_default_old',
    ]);
    const document = parseSigningSecretDocument(JSON.stringify(WITH_APPS));
    expect(credentialsOf(document, 'sori').secrets).toEqual(['sk_default', 'sk_default_old']);
    expect(credentialsOf(document, 'sori', 'default').secrets).toEqual(['sk_default', 'sk_default_old']);
    expect(credentialsOf(document, 'sori', 'agency-a')).toEqual({
      secrets: ['sk_a', 'sk_a_old'],
      urlToken: undefined,
      basic: undefined,
    });
    expect(credentialsOf(document, 'sori', 'agency-b').secrets).toEqual(['sk_b']);
    for (const unknown of ['agency-c', 'constructor', '__proto__', 'toString'])
      expect(credentialsOf(document, 'sori', unknown).secrets).toEqual([]);
    expect(credentialsOf(document, 'symphony', 'agency-a').secrets).toEqual([]);
  });

  it('refuses an app named other than 1 to 32 lower-case letters, digits or hyphens, or named default, without echoing any value', () => {
    for (const name of ['Agency', 'a/b', '', 'default', 'x'.repeat(33)]) {
      const text = JSON.stringify({
        sori: { current: 'sk_x', apps: { [name]: { current: 'sk_secret_value' } } },
      });
      expect(() => parseSigningSecretDocument(text)).toThrow(/signing secret/);
      try {
        parseSigningSecretDocument(text);
      } catch (error) {
        expect((error as Error).message).not.toContain('sk_secret_value');
      }
    }
  });

  it("rotating one app's key keeps its old one as previous and touches no other app's, the default app's or another provider's credentials", () => {
    const after = rotateSecret(WITH_APPS, 'sori', 'sk_a_new', 'agency-a');
    expect(credentialsOf(after, 'sori', 'agency-a').secrets).toEqual(['sk_a_new', 'sk_a']);
    expect(after).toEqual({
      ...WITH_APPS,
      sori: {
        ...(WITH_APPS.sori as object),
        apps: {
          'agency-a': { current: 'sk_a_new', previous: 'sk_a' },
          'agency-b': { current: 'sk_b', previous: null },
        },
      },
    });
    // The input is not modified.
    expect(credentialsOf(WITH_APPS, 'sori', 'agency-a').secrets).toEqual(['sk_a', 'sk_a_old']);
  });

  it("adding an app leaves every other credential exactly as it was, and rotating the default app leaves the apps' keys", () => {
    const added = rotateSecret(WITH_APPS, 'sori', 'sk_c', 'agency-c');
    const { apps, ...defaultApp } = added.sori as { apps: Record<string, unknown> };
    const { apps: appsBefore, ...defaultBefore } = WITH_APPS.sori as { apps: Record<string, unknown> };
    expect(defaultApp).toEqual(defaultBefore);
    expect(apps).toEqual({ ...appsBefore, 'agency-c': { current: 'sk_c', previous: null } });
    expect({ ...added, sori: undefined }).toEqual({ ...WITH_APPS, sori: undefined });

    const rotated = rotateSecret(WITH_APPS, 'sori', 'sk_default_new');
    expect(rotated.sori).toEqual({
      ...(WITH_APPS.sori as object),
      current: 'sk_default_new',
      previous: 'sk_default',
    });
  });

  it('refuses an app name a URL could not carry as its own segment', () => {
    expect(() => rotateSecret(TODAY, 'sori', 'sk', 'Agency A')).toThrow(/app name/);
    expect(() => rotateSecret(TODAY, 'sori', 'sk', 'default')).not.toThrow();
  });
});

describe('providerApps, the apps given routes of their own at synth', () => {
  const signs = (name: string) => name === 'sori' || name === 'acme';
  it('reads JSON text or an object of provider names to app names, and lists their route keys as providerThrottles names them', () => {
    const apps = parseProviderApps('{"sori":["agency-a","agency-b"]}', ['sori', 'symphony'], signs);
    expect(apps).toEqual({ sori: ['agency-a', 'agency-b'] });
    expect(parseProviderApps({ sori: ['agency-a'] }, ['sori'], signs)).toEqual({ sori: ['agency-a'] });
    expect(parseProviderApps(undefined, ['sori'], signs)).toEqual({});
    expect(appRouteKeys(apps)).toEqual(['sori/agency-a', 'sori/agency-b']);
  });

  it('refuses, naming providerApps and the entry, a provider not served, one not signing with an HMAC, a name not fit for a path segment, default, a name twice, and malformed JSON', () => {
    const served = ['sori', 'symphony'];
    const cases: [unknown, RegExp][] = [
      ['{"acme":["a"]}', /providerApps names "acme", which this stack does not serve/],
      ['{"symphony":["a"]}', /providerApps\.symphony: symphony does not sign its deliveries with an HMAC/],
      ['{"sori":["Agency"]}', /providerApps\.sori: "Agency" is not an app name/],
      ['{"sori":["default"]}', /providerApps\.sori: "default" is the provider's own URL/],
      ['{"sori":["a","a"]}', /providerApps\.sori: "a" is listed twice/],
      ['{"sori":"a"}', /providerApps\.sori must be a list of app names/],
      ['{"sori":', /providerApps must be JSON like \{"sori":\["agency-a"\]\}/],
      ['["sori"]', /providerApps must be an object/],
    ];
    for (const [value, message] of cases)
      expect(() => parseProviderApps(value, served, signs)).toThrow(message);
  });
});

describe('which providers can have apps', () => {
  it('those signing with an HMAC as the stack configures them: SORI unless auth says otherwise, a configured provider, not a URL-token one', () => {
    expect(signsWithHmac('sori')).toBe(true);
    expect(signsWithHmac('symphony')).toBe(false);
    expect(signsWithHmac('sori', { auth: { sori: { scheme: { kind: 'url-token' } } } })).toBe(false);
    expect(signsWithHmac('optimizely', { auth: { optimizely: { scheme: { kind: 'hmac' } } } })).toBe(true);
    expect(signsWithHmac('acme-ads', { customProviders: [{ name: 'acme-ads' }] })).toBe(true);
    expect(signsWithHmac('acme-ads')).toBe(false);
  });
});

describe('the receive flow with several apps', () => {
  const sent: QueueMessage[] = [];
  const handler = createReceiveHandler({
    queue: { send: async (message: QueueMessage) => void sent.push(message) },
    secrets: new StaticSigningSecrets(WITH_APPS),
    maxBodyBytes: 262_144,
    logger: memoryLogger().logger,
  });
  const invoke = (event: APIGatewayProxyEventV2) =>
    handler(event, {} as never) as Promise<APIGatewayProxyStructuredResultV2>;
  const body = soriBody('impression');
  /** A signed delivery on the route API Gateway picks for `/webhooks/sori/<app>`: a literal one, or `{token}`. */
  const toApp = (app: string, secret: string, route: 'literal' | 'token') => {
    const event = webhookEvent({ body, headers: { 'x-sori-signature': hexSignature(body, secret) } });
    return {
      ...event,
      rawPath: `/webhooks/sori/${app}`,
      routeKey: route === 'literal' ? `POST /webhooks/sori/${app}` : 'POST /webhooks/sori/{token}',
      pathParameters: route === 'literal' ? {} : { token: app },
    };
  };

  it("verifies a delivery to an app's URL with that app's keys, current or previous, and the record says which app, on a route of its own or on the {token} route", async () => {
    sent.length = 0;
    for (const route of ['literal', 'token'] as const) {
      expect((await invoke(toApp('agency-a', 'sk_a', route))).statusCode).toBe(202);
      expect((await invoke(toApp('agency-a', 'sk_a_old', route))).statusCode).toBe(202);
      expect((await invoke(toApp('agency-b', 'sk_b', route))).statusCode).toBe(202);
    }
    expect(
      (
        await invoke(
          webhookEvent({ body, headers: { 'x-sori-signature': hexSignature(body, 'sk_default') } }),
        )
      ).statusCode,
    ).toBe(202);
    expect(sent.map((message) => (message.record as { app?: string }).app)).toEqual([
      'agency-a',
      'agency-a',
      'agency-b',
      'agency-a',
      'agency-a',
      'agency-b',
      'default',
    ]);
  });

  it("refuses app A's delivery on app B's URL and on the default URL, the default key on an app's URL, and answers an unknown app exactly as a wrong signature", async () => {
    sent.length = 0;
    const wrongSignature = await invoke(toApp('agency-a', 'sk_wrong', 'token'));
    expect(wrongSignature.statusCode).toBe(401);
    const answers = [
      await invoke(toApp('agency-b', 'sk_a', 'literal')),
      await invoke(toApp('agency-b', 'sk_a', 'token')),
      await invoke(webhookEvent({ body, headers: { 'x-sori-signature': hexSignature(body, 'sk_a') } })),
      await invoke(toApp('agency-a', 'sk_default', 'token')),
      await invoke(toApp('agency-z', 'sk_a', 'token')),
      await invoke(toApp('agency-z', 'sk_default', 'token')),
      await invoke(toApp('constructor', 'sk_a', 'token')),
      await invoke(toApp('Not_An-App%20', 'sk_a', 'token')),
    ];
    for (const answer of answers) expect(answer).toEqual(wrongSignature);
    expect(sent).toEqual([]);
  });
});
