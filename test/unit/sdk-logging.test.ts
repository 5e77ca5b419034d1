/** The dashboard's reads skip the SDK's logger step only where there is no logger to write to. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { withoutUnusedSdkLogging } from '../../lib/table/table-io';

const steps = (client: DynamoDBClient) => client.middlewareStack.identify().join('\n');

describe('withoutUnusedSdkLogging', () => {
  it('takes the logger step out of a client built without a logger', () => {
    const client = new DynamoDBClient({ region: 'us-east-1' });
    expect(steps(client)).toContain('loggerMiddleware');
    expect(withoutUnusedSdkLogging(client)).toBe(client);
    expect(steps(client)).not.toContain('loggerMiddleware');
  });

  it('leaves it in a client given a logger', () => {
    const logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };
    const client = withoutUnusedSdkLogging(new DynamoDBClient({ region: 'us-east-1', logger }));
    expect(steps(client)).toContain('loggerMiddleware');
  });
});
