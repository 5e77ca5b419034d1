import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { loadProcessConfig } from '../../lib/config';
import { CampaignCounters } from '../../lib/ingest/campaign-counters';
import { EventWriter } from '../../lib/ingest/event-writer';
import { createIngest } from '../../lib/ingest/ingest';
import { fromPowertools } from '../../lib/log';
import { METRICS_NAMESPACE } from '../../lib/metrics';
import { PowertoolsMetrics } from '../../lib/powertools-metrics';
import { DeadLetterQueue } from '../../lib/queue/dead-letters';
import { createProcessHandler } from './process-webhook';

// Once per container: a missing variable fails the cold start loudly.
const config = loadProcessConfig();
const logger = new Logger({ serviceName: 'process-webhook' });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'process-webhook' });

const dynamodb = new DynamoDBClient({});
const dlqUrl = config.dlqUrl;

export const handler = createProcessHandler(
  {
    ingest: createIngest({
      writer: new EventWriter(dynamodb, config.tableName, config.layout),
      counters: new CampaignCounters(dynamodb, config.tableName, config.layout, config.staleAfterMs),
    }),
    logger: fromPowertools(logger),
    metrics: new PowertoolsMetrics(metrics),
    ...(dlqUrl ? { deadLetters: new DeadLetterQueue(new SQSClient({}), dlqUrl) } : {}),
  },
  logMetrics(metrics, { captureColdStartMetric: true }),
  injectLambdaContext(logger),
);
