import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/errors';
import { loadPipelineHealthConfig, queueNameOf, rangeOfDays } from '../../lib/queries/pipeline-health';

const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/Inbox-EventsQueue-AbC_12';

describe('the dashboard function’s delivery health settings', () => {
  it('reads the metrics’ namespace and service, the providers served and both queues', () => {
    expect(
      loadPipelineHealthConfig({
        METRICS_NAMESPACE: 'CampaignInbox',
        RECEIVE_METRICS_SERVICE: 'receive-webhook',
        PROVIDERS: 'sori',
        QUEUE_URL: QUEUE,
        DLQ_URL: `${QUEUE}-dlq`,
        AWS_REGION: 'eu-west-1',
      }),
    ).toEqual({
      region: 'eu-west-1',
      namespace: 'CampaignInbox',
      service: 'receive-webhook',
      providers: ['sori'],
      queueUrl: QUEUE,
      dlqUrl: `${QUEUE}-dlq`,
    });
  });

  it('reads nothing when neither metrics variable is set, and refuses one without the other or a queue URL that names no queue', () => {
    expect(loadPipelineHealthConfig({ TABLE_NAME: 'records' })).toBeUndefined();
    expect(() => loadPipelineHealthConfig({ METRICS_NAMESPACE: 'CampaignInbox' })).toThrow(
      /RECEIVE_METRICS_SERVICE is required/,
    );
    expect(() => loadPipelineHealthConfig({ RECEIVE_METRICS_SERVICE: 'receive-webhook' })).toThrow(
      ConfigError,
    );
    const both = { METRICS_NAMESPACE: 'CampaignInbox', RECEIVE_METRICS_SERVICE: 'receive-webhook' };
    expect(() => loadPipelineHealthConfig({ ...both, DLQ_URL: 'events-dlq' })).toThrow(
      /DLQ_URL must be a queue URL/,
    );
    expect(() => loadPipelineHealthConfig({ ...both, QUEUE_URL: `${QUEUE}/` })).toThrow(/QUEUE_URL/);
    expect(() => loadPipelineHealthConfig({ ...both, PROVIDERS: 'sori,made-up' })).toThrow(ConfigError);
  });

  it('names a queue by the last part of its URL, a local server’s host included', () => {
    expect(queueNameOf(QUEUE)).toBe('Inbox-EventsQueue-AbC_12');
    expect(queueNameOf('http://sqs.us-east-1.127.0.0.1:4566/000000000000/events-dlq')).toBe('events-dlq');
    expect(queueNameOf('https://sqs.us-east-1.amazonaws.com/1/orders.fifo')).toBe('orders.fifo');
  });

  it('covers a range of UTC days from the first midnight to the midnight after the last day', () => {
    expect(rangeOfDays('2026-02-27', '2026-03-01')).toEqual({
      start: new Date('2026-02-27T00:00:00Z'),
      end: new Date('2026-03-02T00:00:00Z'),
    });
    expect(() => rangeOfDays('2026-02-30', '2026-03-01')).toThrow(RangeError);
    expect(() => rangeOfDays('2026-03-02', '2026-03-01')).toThrow(RangeError);
    expect(() => rangeOfDays('20260301', '2026-03-01')).toThrow(RangeError);
  });
});
