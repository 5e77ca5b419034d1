import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, SignatureError } from '../../lib/errors';
import { findProvider, providerNames } from '../../lib/providers';
import {
  type CustomProviderConfig,
  customProvider,
  customProviderSecrets,
  parseCustomProviders,
  registerCustomProviders,
} from '../../lib/providers/declarative';
import { authenticate } from '../../lib/receive/authenticate';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { policyFor } from '../../lib/receive/event-policy';

/** A Stripe-like sender: HMAC-SHA256 of `<timestamp>.<body>`, hex, `sha256=` prefixed, with a timestamp header. */
const ACME = {
  name: 'acme-ads',
  scheme: 'hmac',
  header: 'X-Acme-Signature',
  algorithm: 'sha256',
  encoding: 'hex',
  prefix: 'sha256=',
  signedContent: '{timestamp}.{body}',
  timestampHeader: 'X-Acme-Timestamp',
  fields: {
    id: 'event_id',
    time: 'occurred_at',
    event: 'type',
    campaign: 'data.campaign.id',
    campaign_name: 'data.campaign.name',
    device: 'data.viewer.device',
  },
  counted: { impressions: ['ad.viewed'], clicks: ['ad.clicked'] },
};

const RECEIVED = '2026-05-04T10:00:05.000Z';
const acmeBody = (overrides: Record<string, unknown> = {}) => ({
  event_id: 'evt_001',
  type: 'ad.viewed',
  occurred_at: '2026-05-04T10:00:00Z',
  data: { campaign: { id: 'cmp_9', name: 'Spring' }, viewer: { device: 'dev_7' } },
  ...overrides,
});

const parse = (value: unknown) => parseCustomProviders(value, 'customProviders');
const acme = () => customProvider(parse([ACME])[0] as CustomProviderConfig);
const messageOf = (body: unknown, delivery?: { id?: string }) =>
  buildQueueMessage(acme(), Buffer.from(JSON.stringify(body)), RECEIVED, delivery);

afterEach(() => registerCustomProviders(undefined));

describe('reading the configuration', () => {
  it('takes an hmac provider and a standard-webhooks one, as text or parsed, with their defaults', () => {
    const text = JSON.stringify([
      ACME,
      {
        name: 'svix-sender',
        scheme: 'standard-webhooks',
        fields: { event: 'type', campaign: 'data.campaign' },
      },
    ]);
    const [hmac, standard] = parse(text);
    expect(hmac).toMatchObject({ name: 'acme-ads', header: 'x-acme-signature', timeFormat: 'iso8601' });
    expect(standard).toMatchObject({ scheme: 'standard-webhooks', toleranceSeconds: 300 });
    expect(parse(JSON.parse(text))).toEqual([hmac, standard]);
    // What synth reads and hands to the functions reads the same again.
    expect(parse(JSON.stringify([hmac, standard]))).toEqual([hmac, standard]);
  });

  it('reads nothing as no providers', () => {
    expect(parse(undefined)).toEqual([]);
    expect(parse('')).toEqual([]);
    expect(parse('[]')).toEqual([]);
  });

  it.each([
    ['not JSON', '[{', /customProviders is not JSON/],
    ['not an array', '{"name":"acme"}', /customProviders: expected a JSON array of providers/],
    [
      'a built-in name',
      [{ ...ACME, name: 'sori' }],
      /provider "sori", name: is the name of a built-in provider/,
    ],
    [
      'a name unfit for a path',
      [{ ...ACME, name: 'Acme Ads' }],
      /provider "Acme Ads", name: expected 2 to 32 lower-case/,
    ],
    ['no scheme', [{ ...ACME, scheme: undefined }], /provider "acme-ads", scheme: required/],
    [
      'an unknown algorithm',
      [{ ...ACME, algorithm: 'md5' }],
      /provider "acme-ads", algorithm: expected \("sha256" \| "sha1" \| "sha512"\), received "md5"/,
    ],
    ['an unknown encoding', [{ ...ACME, encoding: 'base32' }], /provider "acme-ads", encoding: /],
    [
      'a header that is no header name',
      [{ ...ACME, header: 'x signature' }],
      /provider "acme-ads", header: expected a header name/,
    ],
    [
      'a field path with an empty segment',
      [{ ...ACME, fields: { ...ACME.fields, campaign: 'data..id' } }],
      /provider "acme-ads", fields.campaign: expected a dot path/,
    ],
    [
      'no campaign field',
      [{ ...ACME, fields: { ...ACME.fields, campaign: undefined } }],
      /provider "acme-ads", fields.campaign: required/,
    ],
    [
      'no event field',
      [{ ...ACME, fields: { ...ACME.fields, event: undefined } }],
      /provider "acme-ads", fields.event: required/,
    ],
    [
      'a misspelt field',
      [{ ...ACME, feilds: {} }],
      /provider "acme-ads", feilds: unknown field for this scheme/,
    ],
    [
      'an unknown placeholder',
      [{ ...ACME, signedContent: '{ts}.{body}' }],
      /provider "acme-ads", signedContent: unknown placeholder \{ts\}/,
    ],
    [
      'signed content without the body',
      [{ ...ACME, signedContent: '{timestamp}' }],
      /provider "acme-ads", signedContent: expected \{body\}/,
    ],
    [
      'a timestamp header left unsigned',
      [{ ...ACME, signedContent: undefined }],
      /provider "acme-ads", signedContent: expected \{timestamp\}: the timestamp must be signed/,
    ],
    [
      '{timestamp} without its header',
      [{ ...ACME, timestampHeader: undefined }],
      /provider "acme-ads", timestampHeader: required by \{timestamp\}/,
    ],
    [
      '{id} without its header',
      [{ ...ACME, signedContent: '{id}.{timestamp}.{body}' }],
      /provider "acme-ads", idHeader: required by \{id\}/,
    ],
    [
      'a tolerance without a timestamp header',
      [{ ...ACME, signedContent: undefined, timestampHeader: undefined, toleranceSeconds: 60 }],
      /provider "acme-ads", toleranceSeconds: applies to a timestampHeader/,
    ],
    [
      'a tolerance of no seconds',
      [{ ...ACME, toleranceSeconds: 0 }],
      /provider "acme-ads", toleranceSeconds: expected at least 1 second/,
    ],
    [
      'no id field and no id header',
      [{ ...ACME, fields: { ...ACME.fields, id: undefined } }],
      /provider "acme-ads", fields.id: required \(or idHeader\)/,
    ],
    [
      'a counted event that is not one of its events',
      [{ ...ACME, events: ['ad.viewed'] }],
      /provider "acme-ads", counted.clicks: "ad.clicked" is not one of events/,
    ],
    [
      'an event counted twice',
      [{ ...ACME, counted: { impressions: ['ad.viewed'], clicks: ['ad.viewed'] } }],
      /provider "acme-ads", counted.clicks: "ad.viewed" is counted as impressions too/,
    ],
    [
      'an hmac field on a standard-webhooks provider',
      [{ name: 'svix-sender', scheme: 'standard-webhooks', header: 'x', fields: ACME.fields }],
      /provider "svix-sender", header: unknown field for this scheme/,
    ],
    ['a name twice', [ACME, ACME], /provider "acme-ads", name: is configured twice/],
  ])('refuses %s, naming the provider and the field', (_, value, message) => {
    expect(() => parse(value)).toThrow(ConfigError);
    expect(() => parse(value)).toThrow(message);
  });

  it('names the environment variable at cold start, and the entry by its place when it has no name', () => {
    expect(() => registerCustomProviders(JSON.stringify([{ ...ACME, name: undefined }]))).toThrow(
      /^CUSTOM_PROVIDERS: provider #1, name: /,
    );
  });
});

describe('registering the configured providers', () => {
  it('serves them beside the built-in ones, and replaces those registered before', () => {
    registerCustomProviders(JSON.stringify([ACME]));
    expect(providerNames()).toEqual(['sori', 'symphony', 'adreform', 'optimizely', 'acme-ads']);
    expect(findProvider('acme-ads')?.auth.scheme).toMatchObject({ kind: 'hmac', header: 'x-acme-signature' });
    registerCustomProviders(JSON.stringify([{ ...ACME, name: 'other-ads' }]));
    expect(findProvider('acme-ads')).toBeUndefined();
    expect(findProvider('other-ads')?.name).toBe('other-ads');
    registerCustomProviders(undefined);
    expect(providerNames()).toEqual(['sori', 'symphony', 'adreform', 'optimizely']);
  });

  it('registers nothing when the configuration is refused', () => {
    registerCustomProviders(JSON.stringify([ACME]));
    expect(() => registerCustomProviders(JSON.stringify([{ ...ACME, algorithm: 'md5' }]))).toThrow(
      ConfigError,
    );
    expect(findProvider('acme-ads')?.name).toBe('acme-ads');
  });

  it("reads the local stack's secrets of the configured providers from <NAME>_SECRET_KEY", () => {
    registerCustomProviders(JSON.stringify([ACME, { ...ACME, name: 'other-ads' }]));
    expect(
      customProviderSecrets({
        ACME_ADS_SECRET_KEY: 'acme-current',
        ACME_ADS_PREVIOUS_SECRET_KEY: 'acme-previous',
        SORI_SECRET_KEY: 'not-for-a-configured-provider',
      }),
    ).toEqual({ 'acme-ads': { current: 'acme-current', previous: 'acme-previous' } });
  });
});

describe("a configured provider's authentication", () => {
  const secret = 'acme-signing-secret';
  const body = JSON.stringify(acmeBody());
  const now = Date.parse(RECEIVED);
  const seconds = String(Math.floor(now / 1000));
  const sign = (content: string, key = secret) =>
    `sha256=${createHmac('sha256', key).update(content).digest('hex')}`;
  const check = (headers: Record<string, string | undefined>, raw = body, at = now) =>
    authenticate(
      acme().auth,
      {
        raw: Buffer.from(raw),
        header: (name) => headers[name],
        token: undefined,
        sourceIp: undefined,
        now: at,
      },
      { secrets: [secret], urlToken: undefined, basic: undefined },
    );

  it('verifies the HMAC of <timestamp>.<body> in its header, with its prefix', () => {
    expect(() =>
      check({ 'x-acme-signature': sign(`${seconds}.${body}`), 'x-acme-timestamp': seconds }),
    ).not.toThrow();
  });

  it.each([
    [
      'a signature of the body alone',
      () => ({ 'x-acme-signature': sign(body), 'x-acme-timestamp': seconds }),
    ],
    [
      'a signature without its prefix',
      () => ({ 'x-acme-signature': sign(`${seconds}.${body}`).slice(7), 'x-acme-timestamp': seconds }),
    ],
    [
      'a base64 signature where hex is configured',
      () => ({
        'x-acme-signature': `sha256=${createHmac('sha256', secret).update(`${seconds}.${body}`).digest('base64')}`,
        'x-acme-timestamp': seconds,
      }),
    ],
    [
      'another timestamp than the one signed',
      () => ({
        'x-acme-signature': sign(`${seconds}.${body}`),
        'x-acme-timestamp': String(Number(seconds) + 1),
      }),
    ],
    ['no timestamp', () => ({ 'x-acme-signature': sign(`${seconds}.${body}`) })],
    [
      'another secret',
      () => ({ 'x-acme-signature': sign(`${seconds}.${body}`, 'other'), 'x-acme-timestamp': seconds }),
    ],
  ])('refuses %s', (_, headers) => {
    expect(() => check(headers())).toThrow(SignatureError);
  });

  it('refuses a delivery signed more than its tolerance (5 minutes by default) before its receipt', () => {
    const old = String(Number(seconds) - 301);
    expect(() => check({ 'x-acme-signature': sign(`${old}.${body}`), 'x-acme-timestamp': old })).toThrow(
      /over the tolerance of 300 s/,
    );
  });
});

describe("a configured provider's records", () => {
  it('normalizes the configured fields into a record, keyed by the id field', () => {
    const message = messageOf(acmeBody());
    expect(message).toMatchObject({
      kind: 'event',
      record: {
        provider: 'acme-ads',
        event: 'ad.viewed',
        campaign_id: 'cmp_9',
        campaign_name: 'Spring',
        device_id: 'dev_7',
        activity_id: 'evt_001',
        created_at: '2026-05-04T10:00:00.000Z',
        received_at: RECEIVED,
      },
      policy: { counted: true, keyed_by_id: false, state: null },
    });
    // A retry (received later, keys in another order) is the same record.
    const retry = buildQueueMessage(
      acme(),
      Buffer.from(JSON.stringify(Object.fromEntries(Object.entries(acmeBody()).reverse()))),
      '2026-05-04T10:07:00.000Z',
    );
    expect(retry.record.id).toBe(message.record.id);
    expect(messageOf(acmeBody({ event_id: 'evt_002' })).record.id).not.toBe(message.record.id);
  });

  it('counts only its configured impression and click events', () => {
    const provider = acme();
    const record = (event: string) => {
      const message = messageOf(acmeBody({ type: event }));
      if (message.kind !== 'event') throw new Error(`quarantined: ${message.record.reason}`);
      return message.record;
    };
    expect(policyFor(provider, record('ad.clicked')).counted).toBe(true);
    expect(policyFor(provider, record('ad.hovered')).counted).toBe(false);
    expect(provider.counted).toEqual({ 'ad.viewed': 'impressions', 'ad.clicked': 'clicks' });
  });

  it.each([
    ['its campaign id is missing', { data: {} }, 'data.campaign.id: missing (the campaign id)'],
    ['its event name is missing', { type: undefined }, 'type: missing (the event name)'],
    ['its event id is missing', { event_id: null }, 'event_id: missing (the event id)'],
    [
      'its event time is not a date-time',
      { occurred_at: 'yesterday' },
      'occurred_at: expected an ISO 8601 date-time',
    ],
    [
      'its event time is a day after its receipt',
      { occurred_at: '2026-05-05T10:00:06Z' },
      'occurred_at 2026-05-05T10:00:06.000Z is after',
    ],
    [
      'its campaign id is an object',
      { data: { campaign: { id: { a: 1 } } } },
      'data.campaign.id: expected a string or an integer, received an object',
    ],
    [
      'its campaign name is a number',
      { data: { campaign: { id: 'cmp_9', name: 4 } } },
      'data.campaign.name: expected a string, received a number',
    ],
  ])('quarantines a delivery when %s, naming the field', (_, overrides, reason) => {
    const message = messageOf(acmeBody(overrides));
    expect(message.kind).toBe('quarantine');
    expect(message.record).toMatchObject({ provider: 'acme-ads', reason: expect.stringContaining(reason) });
  });

  it('leaves the optional fields null when absent', () => {
    const message = messageOf(acmeBody({ data: { campaign: { id: 42 } } }));
    expect(message.record).toMatchObject({ campaign_id: '42', campaign_name: null, device_id: null });
  });

  it('keeps an integer id above 2^53 exact when it is a top-level member, and refuses a rounded one elsewhere', () => {
    const provider = customProvider(
      parse([
        { ...ACME, fields: { ...ACME.fields, id: 'event_id', campaign: 'campaign' } },
      ])[0] as CustomProviderConfig,
    );
    const text = (id: string) =>
      `{"event_id":${id},"type":"ad.viewed","occurred_at":"2026-05-04T10:00:00Z","campaign":"c"}`;
    const a = buildQueueMessage(provider, Buffer.from(text('9007199254740993')), RECEIVED);
    const b = buildQueueMessage(provider, Buffer.from(text('9007199254740992')), RECEIVED);
    expect(a.kind === 'event' && a.record.activity_id).toBe('9007199254740993');
    expect(a.record.id).not.toBe(b.record.id);
    const nested = buildQueueMessage(
      acme(),
      Buffer.from(
        '{"event_id":"evt_1","type":"ad.viewed","occurred_at":"2026-05-04T10:00:00Z","data":{"campaign":{"id":9007199254740993}}}',
      ),
      RECEIVED,
    );
    expect(nested.kind === 'quarantine' && nested.record.reason).toContain(
      'expected an integer of at most 2^53',
    );
  });

  it('reads a time in Unix seconds or milliseconds when configured so', () => {
    const at = (timeFormat: string, value: unknown) =>
      buildQueueMessage(
        customProvider(parse([{ ...ACME, timeFormat }])[0] as CustomProviderConfig),
        Buffer.from(JSON.stringify(acmeBody({ occurred_at: value }))),
        RECEIVED,
      ).record;
    expect(at('unix-seconds', 1777888800)).toMatchObject({ created_at: '2026-05-04T10:00:00.000Z' });
    expect(at('unix-milliseconds', 1777888800123)).toMatchObject({ created_at: '2026-05-04T10:00:00.123Z' });
    expect(at('unix-seconds', '1777888800')).toMatchObject({ created_at: '2026-05-04T10:00:00.000Z' });
    expect(at('unix-seconds', 'soon')).toMatchObject({
      reason: expect.stringContaining('expected Unix seconds'),
    });
  });

  it('quarantines an event name it does not list when its events are listed', () => {
    const provider = customProvider(
      parse([{ ...ACME, events: ['ad.viewed', 'ad.clicked'] }])[0] as CustomProviderConfig,
    );
    const message = buildQueueMessage(
      provider,
      Buffer.from(JSON.stringify(acmeBody({ type: 'ad.hovered' }))),
      RECEIVED,
    );
    expect(message.record).toMatchObject({ reason: 'unknown type "ad.hovered"' });
    expect(provider.events).toEqual(['ad.viewed', 'ad.clicked']);
  });

  it('dates an event by its receipt and keys it by id alone when no time field is configured', () => {
    const provider = customProvider(
      parse([{ ...ACME, fields: { ...ACME.fields, time: undefined } }])[0] as CustomProviderConfig,
    );
    const message = buildQueueMessage(provider, Buffer.from(JSON.stringify(acmeBody())), RECEIVED);
    expect(message).toMatchObject({ record: { created_at: RECEIVED }, policy: { keyed_by_id: true } });
  });
});

describe('a standard-webhooks provider', () => {
  const provider = () =>
    customProvider(
      parse([
        {
          name: 'svix-sender',
          scheme: 'standard-webhooks',
          fields: { event: 'type', time: 'timestamp', campaign: 'data.campaign' },
        },
      ])[0] as CustomProviderConfig,
    );
  // The specification's example payload, with a campaign.
  const body = Buffer.from(
    '{"type":"contact.created","timestamp":"2022-11-03T20:26:10.344522Z","data":{"id":"1f81eb52-5198-4599-803e-771906343485","campaign":"cmp_1"}}',
  );

  it('keys its records by webhook-id: the same id is the same record, another id another record', () => {
    const first = buildQueueMessage(provider(), body, '2022-11-03T20:26:11.000Z', {
      id: 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W',
    });
    const retry = buildQueueMessage(provider(), body, '2022-11-03T20:31:11.000Z', {
      id: 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W',
    });
    const other = buildQueueMessage(provider(), body, '2022-11-03T20:26:11.000Z', { id: 'msg_other' });
    expect(first).toMatchObject({
      kind: 'event',
      record: {
        event: 'contact.created',
        campaign_id: 'cmp_1',
        activity_id: 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W',
        created_at: '2022-11-03T20:26:10.344Z',
      },
    });
    expect(retry.record.id).toBe(first.record.id);
    expect(other.record.id).not.toBe(first.record.id);
    expect(provider().deliveryIdHeader).toBe('webhook-id');
  });

  it('keeps the webhook-id with a quarantined delivery: one entry per id, the same one on a retry', () => {
    const unfit = Buffer.from(
      '{"type":"contact.created","timestamp":"2022-11-03T20:26:10.344522Z","data":{}}',
    );
    const at = '2022-11-03T20:26:11.000Z';
    const first = buildQueueMessage(provider(), unfit, at, { id: 'msg_a' });
    const retry = buildQueueMessage(provider(), unfit, '2022-11-03T20:40:00.000Z', { id: 'msg_a' });
    const other = buildQueueMessage(provider(), unfit, at, { id: 'msg_b' });
    expect(first).toMatchObject({ kind: 'quarantine', record: { delivery_id: 'msg_a' } });
    expect(retry.record.id).toBe(first.record.id);
    expect(other.record.id).not.toBe(first.record.id);
    // A provider not keyed by a delivery id keeps the body's own quarantine id, and no delivery id.
    const acmeQuarantined = messageOf(acmeBody({ data: {} }), { id: 'msg_a' });
    expect(acmeQuarantined.record).not.toHaveProperty('delivery_id');
    expect(acmeQuarantined.record.id).toBe(messageOf(acmeBody({ data: {} })).record.id);
  });

  it('quarantines a body whose webhook-id is not known (processed again from the body alone), never keying it otherwise', () => {
    const message = buildQueueMessage(provider(), body, '2022-11-03T20:26:11.000Z');
    expect(message.record).toMatchObject({
      reason: expect.stringContaining('no webhook-id known for this delivery'),
    });
  });
});
