/**
 * The synthesized process and repair bundles, with the environment the template gives them, against the run's
 * DynamoDB-API server behind a proxy that refuses every action the function's role is not allowed (the role's
 * policies as synthesized) and, for the process function, fails every update but its claim (a batch killed after
 * its records were stored).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { describe, expect, inject, it } from 'vitest';
import { CampaignInboxStack } from '../../infra/campaign-inbox-stack';
import { DEFAULT_CONFIG } from '../../infra/config';
import { sori } from '../../lib/providers/sori';
import { CampaignStats } from '../../lib/queries/campaign-stats';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { ensureRecordsTable } from '../../local/create-records-table';
import { bundledFunction, invokeBundle, templateEnvironment } from '../support/bundles';
import { soriPayload } from '../support/deliveries';
import { allowedDynamoDbActions, startDynamoDbProxy } from '../support/dynamodb-proxy';
import { createTestQueues, localClients, uniqueName } from '../support/local-aws';

type Resource = { Type: string; Properties: Record<string, unknown> };
const { dynamodb, sqs } = localClients();

async function synth() {
  const outdir = await mkdtemp(join(tmpdir(), 'campaign-inbox-assembly-'));
  const app = new App({ outdir, builtinCloudFormationValidation: false });
  const stack = new CampaignInboxStack(app, 'CountersTest', { config: DEFAULT_CONFIG });
  const artifact = app.synth().getStackArtifact(stack.artifactId);
  return { outdir, resources: (artifact.template as { Resources: Record<string, Resource> }).Resources };
}

describe('the deployed counters', () => {
  it('the bundled repair, allowed only what its role allows, recounts what a killed bundled batch left, and neither function is refused a call', async () => {
    const { outdir, resources } = await synth();
    const processFn = await bundledFunction(outdir, resources, 'InboxProcessFunction');
    const repairFn = await bundledFunction(outdir, resources, 'InboxRepair');
    const tableName = uniqueName('deployed-counters');
    await ensureRecordsTable(dynamodb, tableName);
    const queues = await createTestQueues(sqs);
    const killed = await startDynamoDbProxy({
      allow: allowedDynamoDbActions(resources, 'InboxProcessFunction'),
      // The batch opens its journal entry and stores its records, then the table fails every update (device
      // flags, the listing of its campaign-day, the close of its entry): what a batch killed after its records
      // leaves.
      fault: (call) => (call.action === 'UpdateItem' ? 'fail-before' : undefined),
    });
    const repair = await startDynamoDbProxy({ allow: allowedDynamoDbActions(resources, 'InboxRepair') });
    const aws = (endpoint: string) => ({
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'bundle',
      AWS_SECRET_ACCESS_KEY: 'bundle',
      AWS_ENDPOINT_URL_DYNAMODB: endpoint,
      AWS_ENDPOINT_URL_SQS: inject('sqsEndpoint'),
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    });
    const local = { TABLE_NAME: tableName, DLQ_URL: queues.dlqUrl };
    try {
      const base = soriPayload('click');
      const messages = ['device_a', 'device_b', 'device_a'].map((device, i) =>
        buildQueueMessage(
          sori,
          Buffer.from(JSON.stringify({ ...base, activity_id: `act_killed_${i}`, device_id: device })),
          new Date().toISOString(),
        ),
      );
      const outcome = (await invokeBundle(
        processFn.file,
        {
          ...templateEnvironment(processFn.properties.Environment?.Variables, local),
          ...aws(killed.endpoint),
        },
        { Records: messages.map((message, i) => ({ messageId: `m${i}`, body: JSON.stringify(message) })) },
      )) as { batchItemFailures: unknown[] };
      expect(outcome.batchItemFailures).toHaveLength(3);
      const stats = new CampaignStats(dynamodb, tableName);
      const day = messages[0]?.kind === 'event' ? messages[0].record.created_at.slice(0, 10) : '';
      expect(await stats.campaignStats('sori', 'cmp_1234')).toEqual([]);

      // The repair runs with its template's environment, its batches' staleness lowered to 1 s so that the
      // killed batch's entry is stale without waiting the deployed minute.
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const summary = (await invokeBundle(
        repairFn.file,
        {
          ...templateEnvironment(repairFn.properties.Environment?.Variables, local),
          COUNTER_STALE_SECONDS: '1',
          ...aws(repair.endpoint),
        },
        {},
      )) as { recounted: number; failed: number };
      expect(summary).toMatchObject({ recounted: 1, failed: 0, folded: 1, written: 1 });
      expect(await stats.campaignStats('sori', 'cmp_1234')).toEqual([
        expect.objectContaining({ day, clicks: 3, unique_devices: 2 }),
      ]);
      expect(killed.refused).toEqual([]);
      expect(repair.refused).toEqual([]);
    } finally {
      await Promise.all([killed.close(), repair.close()]);
    }
  });
});
