import * as v from 'valibot';
import { afterEach, describe, expect, it } from 'vitest';
import { QueueMessageSchema } from '../../lib/events/event-record';
import { normalizerOf, parseNormalizer } from '../../lib/events/normalizer';
import { ADREFORM_NORMALIZER_VERSION, adreform } from '../../lib/providers/adreform';
import { customProvider, parseCustomProviders } from '../../lib/providers/declarative';
import { OPTIMIZELY_NORMALIZER_VERSION, optimizely } from '../../lib/providers/optimizely';
import { SORI_NORMALIZER_VERSION, sori } from '../../lib/providers/sori';
import { SYMPHONY_NORMALIZER_VERSION, symphony } from '../../lib/providers/symphony';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { withPolicy } from '../../lib/receive/event-policy';
import { fromEventItem, toItem } from '../../lib/table/records-table';
import { soriBody } from '../support/deliveries';

const RECEIVED = '2026-11-22T10:00:05.000Z';
const version = sori.normalizerVersion;

afterEach(() => {
  Object.assign(sori, { normalizerVersion: version });
});

const acme = (extra: object = {}) =>
  customProvider(
    parseCustomProviders([
      {
        name: 'acme-labels',
        scheme: 'hmac',
        header: 'x-acme-signature',
        algorithm: 'sha256',
        fields: { id: 'id', event: 'type', campaign: 'campaign' },
        ...extra,
      },
    ])[0] as never,
  );

describe('the normalizer version of a record', () => {
  it('is an integer constant beside each built-in mapping, which the provider serves as its version', () => {
    expect(
      [
        [sori, SORI_NORMALIZER_VERSION],
        [symphony, SYMPHONY_NORMALIZER_VERSION],
        [adreform, ADREFORM_NORMALIZER_VERSION],
        [optimizely, OPTIMIZELY_NORMALIZER_VERSION],
      ].map(([provider, constant]) => [
        Number.isSafeInteger(constant),
        (provider as typeof sori).normalizerVersion === constant,
      ]),
    ).toEqual([
      [true, true],
      [true, true],
      [true, true],
      [true, true],
    ]);
  });

  it('is set on the record when the queue message is built: <provider>@<version>, the current one', () => {
    expect(buildQueueMessage(sori, Buffer.from(soriBody('impression')), RECEIVED).record).toMatchObject({
      normalizer: `sori@${SORI_NORMALIZER_VERSION}`,
      app: 'default',
    });
    Object.assign(sori, { normalizerVersion: 7 });
    expect(buildQueueMessage(sori, Buffer.from(soriBody('click')), RECEIVED).record).toMatchObject({
      normalizer: 'sori@7',
    });
  });

  it('of a provider added by configuration is its normalizerVersion, or 1 when it gives none; anything but a positive integer is refused', () => {
    const body = Buffer.from(JSON.stringify({ id: 'e1', type: 'view', campaign: 'c1' }));
    expect(buildQueueMessage(acme(), body, RECEIVED).record).toMatchObject({ normalizer: 'acme-labels@1' });
    expect(buildQueueMessage(acme({ normalizerVersion: 3 }), body, RECEIVED).record).toMatchObject({
      normalizer: 'acme-labels@3',
    });
    for (const wrong of [0, 1.5, '2', -1])
      expect(() => acme({ normalizerVersion: wrong })).toThrow(/provider "acme-labels", normalizerVersion: /);
  });

  it('is kept on the stored item and read back; an item stored before records named it reads as <provider>@1 of the default app', () => {
    Object.assign(sori, { normalizerVersion: 4 });
    const message = buildQueueMessage(sori, Buffer.from(soriBody('impression')), RECEIVED);
    const item = toItem(message);
    expect(item.normalizer).toEqual({ S: 'sori@4' });
    expect(fromEventItem(item)).toMatchObject({ normalizer: 'sori@4', app: 'default' });
    const { normalizer: _n, app: _a, ...older } = item;
    expect(fromEventItem(older)).toMatchObject({ normalizer: 'sori@1', app: 'default' });
  });

  it('of a queue message sent before it was set is <provider>@1, never the current version: the message parses, and the consumer completes it', () => {
    Object.assign(sori, { normalizerVersion: 2 });
    const sent = buildQueueMessage(sori, Buffer.from(soriBody('impression')), RECEIVED);
    if (sent.kind !== 'event') throw new Error('expected an event');
    const { normalizer: _n, app: _a, ...record } = sent.record;
    const { policy: _p, ...withoutPolicy } = sent;
    for (const older of [
      { ...sent, record },
      { ...withoutPolicy, v: 1, record },
    ]) {
      const parsed = v.parse(QueueMessageSchema, JSON.parse(JSON.stringify(older)));
      expect(withPolicy(parsed).record).toMatchObject({ normalizer: 'sori@1', app: 'default' });
    }
    expect(withPolicy(sent).record).toMatchObject({ normalizer: 'sori@2' });
  });

  it('is read back from its label, and a label that is not <provider>@<positive integer> is refused', () => {
    expect(parseNormalizer(normalizerOf(sori))).toEqual({
      provider: 'sori',
      version: sori.normalizerVersion,
    });
    expect(parseNormalizer('acme-ads@12')).toEqual({ provider: 'acme-ads', version: 12 });
    for (const wrong of ['sori', 'sori@', 'sori@0', 'sori@01', '@1', 'Sori@1', 'sori@1.5', 'sori@1 '])
      expect(parseNormalizer(wrong)).toBeUndefined();
  });
});
