import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createReceiveHandler } from '../../functions/receive-webhook/receive-webhook';
import { sori } from '../../lib/providers/sori';
import { authenticate } from '../../lib/receive/authenticate';
import {
  credentialsOf,
  type SigningSecretDocument,
  StaticSigningSecrets,
} from '../../lib/signature/signing-secrets';
import { hexSignature, memoryLogger, soriBody, webhookEvent } from '../support/deliveries';

const KEYED: SigningSecretDocument = {
  url_token: 'generated_value_0123456789',
  sori: { current: 'sk_default', apps: { 'agency-a': { current: 'sk_a' } } },
};
/** SORI keys for one app only: the default app has none, the provider has some. */
const APP_KEYS_ONLY: SigningSecretDocument = { sori: { apps: { 'agency-a': { current: 'sk_a' } } } };
/** No SORI keys at all: only the generated value every provider's URL token is derived from. */
const UNKEYED: SigningSecretDocument = { url_token: 'generated_value_0123456789' };

const body = soriBody('impression');

/** The reason `authenticate` refuses a SORI delivery signed with `secret` for, or `undefined` if it takes it. */
function refusal(document: SigningSecretDocument, secret: string, app?: string): string | undefined {
  const signature = hexSignature(body, secret);
  try {
    authenticate(
      sori.auth,
      {
        raw: Buffer.from(body),
        header: (name) => (name === 'x-sori-signature' ? signature : undefined),
        token: undefined,
        sourceIp: undefined,
      },
      credentialsOf(document, 'sori', app),
    );
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

describe('the reason a refused HMAC delivery is logged with', () => {
  it('is a wrong signature’s for an app the secret does not name, and for an app without keys, when the provider has keys for another app', () => {
    expect(refusal(KEYED, 'sk_wrong', 'agency-a')).toBe('signature mismatch');
    expect(refusal(KEYED, 'sk_a', 'agency-z')).toBe('signature mismatch');
    expect(refusal(KEYED, 'sk_default', 'agency-z')).toBe('signature mismatch');
    expect(refusal(APP_KEYS_ONLY, 'sk_a')).toBe('signature mismatch');
    expect(refusal(APP_KEYS_ONLY, 'sk_a', 'agency-z')).toBe('signature mismatch');
    expect(refusal(APP_KEYS_ONLY, 'sk_a', 'agency-a')).toBeUndefined();
  });

  it('says no signing secret is configured only when the provider has no HMAC key for any app', () => {
    expect(refusal(UNKEYED, 'sk_a')).toBe('no signing secret configured');
    expect(refusal(UNKEYED, 'sk_a', 'agency-a')).toBe('no signing secret configured');
    expect(refusal({ sori: { apps: {} } }, 'sk_a', 'agency-a')).toBe('no signing secret configured');
  });
});

describe('the receive handler’s log of a refused delivery', () => {
  /** A SORI delivery signed with `secret` to `/webhooks/sori/<segment>`, on the `{token}` route. */
  const toSegment = (segment: string, secret: string): APIGatewayProxyEventV2 => {
    const event = webhookEvent({ body, headers: { 'x-sori-signature': hexSignature(body, secret) } });
    return {
      ...event,
      rawPath: `/webhooks/sori/${segment}`,
      routeKey: 'POST /webhooks/sori/{token}',
      pathParameters: { token: segment },
    };
  };

  /** What the handler logged for `event`, but the time it was written. */
  async function loggedFor(document: SigningSecretDocument, event: APIGatewayProxyEventV2) {
    const { lines, logger } = memoryLogger();
    const handler = createReceiveHandler({
      queue: { send: async () => {} },
      secrets: new StaticSigningSecrets(document),
      maxBodyBytes: 262_144,
      logger,
    });
    const answer = (await handler(event, {} as never)) as { statusCode: number };
    expect(answer.statusCode).toBe(401);
    return lines.map((line) => {
      const { time: _time, ...rest } = JSON.parse(line) as Record<string, unknown>;
      return rest;
    });
  }

  it('is the same for an unknown app, /webhooks/sori/default and a name no app can have as for a wrong signature, when SORI has keys', async () => {
    const wrongSignature = await loggedFor(KEYED, toSegment('agency-a', 'sk_wrong'));
    expect(wrongSignature).toEqual([
      expect.objectContaining({
        message: 'rejected',
        error: expect.objectContaining({ message: 'signature mismatch' }),
      }),
    ]);
    for (const segment of ['agency-z', 'default', 'Not-An-App']) {
      expect(await loggedFor(KEYED, toSegment(segment, 'sk_a')), segment).toEqual(wrongSignature);
    }
  });

  it('says no signing secret is configured, whatever the app, when SORI has no HMAC key at all', async () => {
    for (const segment of ['agency-z', 'default', 'Not-An-App']) {
      expect(await loggedFor(UNKEYED, toSegment(segment, 'sk_a')), segment).toEqual([
        expect.objectContaining({
          message: 'rejected',
          error: expect.objectContaining({ message: 'no signing secret configured' }),
        }),
      ]);
    }
  });
});
