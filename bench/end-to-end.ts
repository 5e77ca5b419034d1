// End to end locally: from POST to queryable (a consistent read finds the record), at a fixed rate, against
// the local stack `npm start` runs (started here in memory). The baseline is the POST's own round trip.
import { randomUUID } from 'node:crypto';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { createLogger } from '../lib/log';
import { sori } from '../lib/providers/sori';
import { buildQueueMessage } from '../lib/receive/build-queue-message';
import { signBody } from '../lib/signature/verify-signature';
import { itemKey } from '../lib/table/records-table';
import { startLocalStack } from '../local/local-stack';
import { percentile } from '../scripts/load';

export interface EndToEndFigures {
  ratePerSecond: number;
  events: number;
  queryableMs: { p50: number; p99: number };
  receiveMs: { p50: number; p99: number };
  ratioP99: number;
}

const quantile = (xs: number[], p: number) => Number(percentile(xs, p).toFixed(1));

export async function measureEndToEnd(ratePerSecond = 40, seconds = 10): Promise<EndToEndFigures> {
  const secret = randomUUID();
  const stack = await startLocalStack({ port: 0, secret, logger: createLogger('bench', 'error') });
  const queryable: number[] = [];
  const receive: number[] = [];
  try {
    const total = ratePerSecond * seconds;
    const runs: Promise<void>[] = [];
    const start = performance.now();
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / ratePerSecond;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
      runs.push(
        (async () => {
          const body = JSON.stringify({
            event: 'campaign.impression',
            account_id: 'acc_123456',
            created_at: new Date().toISOString(),
            activity_id: `act_e2e_${i}_${randomUUID()}`,
            device_id: `device_${i % 20}`,
            platform: 'Android',
            campaign: { id: `cmp_e2e_${i % 4}`, name: 'Fall Promotion' },
          });
          const key = itemKey(buildQueueMessage(sori, Buffer.from(body), ''), stack.layout);
          const t0 = performance.now();
          const response = await fetch(stack.webhookUrl, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'x-sori-signature': signBody(body, secret).toString('hex'),
            },
            body,
          });
          await response.text();
          receive.push(performance.now() - t0);
          for (;;) {
            const found = await stack.dynamodb.send(
              new GetItemCommand({
                TableName: stack.tableName,
                Key: { pk: { S: key.pk }, sk: { S: key.sk } },
                ConsistentRead: true,
              }),
            );
            if (found.Item) break;
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
          queryable.push(performance.now() - t0);
        })(),
      );
    }
    await Promise.all(runs);
  } finally {
    await stack.stop();
  }
  const figures = {
    ratePerSecond,
    events: queryable.length,
    queryableMs: { p50: quantile(queryable, 0.5), p99: quantile(queryable, 0.99) },
    receiveMs: { p50: quantile(receive, 0.5), p99: quantile(receive, 0.99) },
    ratioP99: 0,
  };
  figures.ratioP99 = figures.queryableMs.p99 / figures.receiveMs.p99;
  return figures;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await measureEndToEnd());
}
