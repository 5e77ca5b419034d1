import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { CampaignInboxStack } from '../../infra/campaign-inbox-stack';
import { DEFAULT_CONFIG } from '../../infra/config';
import { bundledFunction, deliverThroughBundles, invokeBundle } from '../support/bundles';

type Resource = { Type: string; Properties: Record<string, unknown> };

describe('the bundles `cdk synth` produces', () => {
  it('carry a signed SORI delivery from the bundled receive function, through the queue, into the table by the bundled process function, and on to the bundled reaction', async () => {
    // The stack as `cdk synth` builds it, esbuild bundling on.
    const outdir = await mkdtemp(join(tmpdir(), 'campaign-inbox-assembly-'));
    const app = new App({ outdir, builtinCloudFormationValidation: false });
    const stack = new CampaignInboxStack(app, 'BundleTest', {
      config: DEFAULT_CONFIG,
      // A reaction, so its bundle (the user's module inside) is built and run too.
      onEvent: {
        module: resolvePath('test/fixtures/reactions/record-ids.ts'),
        events: ['campaign.click'],
        providers: [],
      },
    });
    const artifact = app.synth().getStackArtifact(stack.artifactId);
    const resources = (artifact.template as { Resources: Record<string, Resource> }).Resources;
    const { id, events, aws } = await deliverThroughBundles(outdir, resources, {
      receive: 'InboxReceiveFunction',
      process: 'InboxProcessFunction',
    });
    expect(events.map((item) => item.id?.S)).toEqual([id]);

    // The stream hands the reaction the new item; the bundled user module gets the stored event.
    const reaction = await bundledFunction(outdir, resources, 'OnEventFunction');
    const reactions = join(outdir, 'reactions.jsonl');
    const reacted = (await invokeBundle(
      reaction.file,
      { ...aws, REACTIONS_FILE: reactions },
      { Records: [{ eventName: 'INSERT', dynamodb: { NewImage: events[0], SequenceNumber: '1' } }] },
    )) as { batchItemFailures: unknown[] };
    expect(reacted.batchItemFailures).toEqual([]);
    expect(JSON.parse(await readFile(reactions, 'utf8'))).toEqual({ id, event: 'campaign.click' });
  });
});
