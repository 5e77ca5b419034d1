import { App, Stack } from 'aws-cdk-lib';
import type { CfnBucket } from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { CampaignInboxStack } from '../../infra/campaign-inbox-stack';
import { DEFAULT_CONFIG } from '../../infra/config';
import { CampaignInbox } from '../../infra/constructs/campaign-inbox';
import { rawBodiesBucketOf } from '../../scripts/stack-outputs';

/** A stack's resources as CloudFormation lists them once deployed, each bucket named after its logical id. */
function deployedResources(stack: Stack) {
  const template = App.of(stack)?.synth().getStackArtifact(stack.artifactId).template as {
    Resources: Record<string, { Type: string }>;
  };
  return Object.entries(template.Resources).map(([id, resource]) => ({
    LogicalResourceId: id,
    ResourceType: resource.Type,
    PhysicalResourceId: `physical-${id}`,
  }));
}

const unbundled = () =>
  new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });

describe("the deployed stack's raw-bodies bucket, as events reprocess --stack finds it", () => {
  it("is the RawBodies construct's bucket, in the stack the package makes and in a stack of the user's with the construct under another name", () => {
    const app = unbundled();
    const stack = new CampaignInboxStack(app, 'Mine', { config: DEFAULT_CONFIG });
    const id = stack.getLogicalId(stack.inbox.rawBodies.bucket.node.defaultChild as CfnBucket);
    expect(rawBodiesBucketOf(deployedResources(stack))).toBe(`physical-${id}`);

    const theirs = new Stack(unbundled(), 'Theirs');
    const inbox = new CampaignInbox(theirs, 'Webhooks', {});
    const theirId = theirs.getLogicalId(inbox.rawBodies.bucket.node.defaultChild as CfnBucket);
    expect(rawBodiesBucketOf(deployedResources(theirs))).toBe(`physical-${theirId}`);
  });

  it("is not guessed: none when no bucket is the raw bodies', none when two are", () => {
    const bucket = (id: string) => ({
      LogicalResourceId: id,
      ResourceType: 'AWS::S3::Bucket',
      PhysicalResourceId: id,
    });
    expect(rawBodiesBucketOf([bucket('AccessLogs0123ABCD')])).toBeUndefined();
    expect(
      rawBodiesBucketOf([bucket('ARawBodiesBucket0123ABCD'), bucket('BRawBodiesBucket4567CDEF')]),
    ).toBeUndefined();
  });
});
