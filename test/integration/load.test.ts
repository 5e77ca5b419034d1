import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/local-stack';
import { runLoad } from '../../scripts/load';
import { memoryLogger } from '../support/deliveries';

const SECRET = 'sk_load_test';

describe('load (the smaller run of npm run load)', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startLocalStack({
      port: 0,
      secret: SECRET,
      layout: { shards: 2, retentionDays: null },
      logger: memoryLogger().logger,
    });
  });
  afterAll(() => stack.stop());

  it('stores 500 deliveries with 30 % duplicates in random order exactly once, with exact counters', async () => {
    const report = await runLoad(
      {
        webhookUrl: stack.webhookUrl,
        secret: SECRET,
        dynamodb: stack.dynamodb,
        tableName: stack.tableName,
        layout: stack.layout,
      },
      {
        deliveries: 500,
        duplicateRatio: 0.3,
        concurrency: 50,
        campaigns: 5,
        devices: 60,
        timeoutMs: 90_000,
        seed: 7,
      },
    );
    expect(report).toMatchObject({
      deliveries: 500,
      distinct: 350,
      accepted: 500,
      duplicates: 150,
      quarantined: 0,
      errors5xx: 0,
      other: 0,
      stored: 350,
      storedEqualsDistinct: true,
      countersEqualDistinct: true,
    });
    expect((await fetch(`http://127.0.0.1:${stack.port}/healthz`)).status).toBe(200);
  });
});
