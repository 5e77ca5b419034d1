// The baseline: the same receive flow built the way most projects build it. middy with the full HTTP
// middleware set (header and event normalizers, JSON body parser, security headers, error handler),
// Powertools logger and metrics middleware, a Zod schema, and the signature checked over the raw body before
// the JSON parser runs. Same work, same stubbed SQS: only the building blocks differ.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import httpErrorHandler from '@middy/http-error-handler';
import httpEventNormalizer from '@middy/http-event-normalizer';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import httpSecurityHeaders from '@middy/http-security-headers';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { z } from 'zod';

const Geo = z.object({
  viewer_country: z.string().nullish(),
  viewer_region: z.string().nullish(),
  viewer_city: z.string().nullish(),
});
const Entity = z.object({
  id: z.string().min(1).nullish(),
  name: z.string().nullish(),
  tags: z.array(z.string()).nullish(),
  image: z.string().nullish(),
});
const Common = {
  account_id: z.string().min(1),
  created_at: z.iso.datetime({ offset: true }),
  timestamp: z.string().nullish(),
  device_id: z.string().nullish(),
  platform: z.string().nullish(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
  geolocation: Geo.nullish(),
};
const SoriEvent = z.discriminatedUnion('event', [
  z.looseObject({
    ...Common,
    event: z.enum(['campaign.impression', 'campaign.click']),
    activity_id: z.string().min(1),
    campaign: Entity,
    material: Entity.nullish(),
  }),
  z.looseObject({ ...Common, event: z.literal('authentication') }),
  z.looseObject({
    ...Common,
    event: z.enum(['admin.material.created', 'admin.material.updated', 'admin.material.deleted']),
    material: Entity,
  }),
]);

export function createTypicalHandler(sqs: SQSClient, queueUrl: string, secret: string) {
  // Its usual deployed settings: Powertools reads POWERTOOLS_LOG_LEVEL (INFO), metrics flushed every invocation.
  const logger = new Logger({ serviceName: 'typical-receive' });
  const metrics = new Metrics({ namespace: 'Bench', serviceName: 'typical-receive' });
  const verifyRawBody = {
    before: async (request: { event: APIGatewayProxyEventV2 }) => {
      const raw = request.event.isBase64Encoded
        ? Buffer.from(request.event.body ?? '', 'base64')
        : Buffer.from(request.event.body ?? '');
      const given = Buffer.from(
        String(request.event.headers?.['x-sori-signature'] ?? '').replace(/^sha256=/, ''),
        'hex',
      );
      const expected = createHmac('sha256', secret).update(raw).digest();
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw Object.assign(new Error('Unauthorized'), { statusCode: 401, expose: true });
      }
    },
  };
  const handler = async (event: APIGatewayProxyEventV2 & { body: unknown }) => {
    const parsed = SoriEvent.safeParse(event.body);
    if (!parsed.success) {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: JSON.stringify({ kind: 'quarantine', raw: event.body }),
        }),
      );
      return { statusCode: 202, body: JSON.stringify({ status: 'quarantined' }) };
    }
    const data = parsed.data;
    const record = {
      event: data.event,
      account_id: data.account_id,
      campaign_id:
        data.event === 'campaign.impression' || data.event === 'campaign.click'
          ? (data.campaign.id ?? null)
          : null,
      activity_id:
        data.event === 'campaign.impression' || data.event === 'campaign.click' ? data.activity_id : null,
      device_id: data.device_id ?? null,
      created_at: data.created_at,
      metadata: data.metadata ?? null,
    };
    const id = createHmac('sha256', 'id')
      .update(JSON.stringify([record.event, record.campaign_id, record.created_at, record.activity_id]))
      .digest('hex');
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify({ record: { id, ...record }, raw: JSON.stringify(event.body) }),
      }),
    );
    metrics.addMetric('Accepted', MetricUnit.Count, 1);
    return { statusCode: 202, body: JSON.stringify({ status: 'accepted', id }) };
  };
  // biome-ignore lint/suspicious/noExplicitAny: the middleware set types events differently at each step.
  return middy<any, any>(handler)
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics))
    .use(httpHeaderNormalizer())
    .use(httpEventNormalizer())
    .use(verifyRawBody)
    .use(httpJsonBodyParser())
    .use(httpSecurityHeaders())
    .use(httpErrorHandler());
}
