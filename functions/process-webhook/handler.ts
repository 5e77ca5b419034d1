import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { loadProcessConfig } from '../../lib/config';
import { createLogger } from '../../lib/log';
import { RecordsRepository } from '../../lib/records/records-repository';
import { createProcessHandler } from './process-webhook';

// Once per container: a missing variable fails the cold start loudly.
const config = loadProcessConfig();

export const handler = createProcessHandler({
  records: new RecordsRepository(new DynamoDBClient({}), config.tableName),
  logger: createLogger('process-webhook'),
});
