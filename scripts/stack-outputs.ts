import {
  CloudFormationClient,
  DescribeStacksCommand,
  paginateListStackResources,
  type StackResourceSummary,
} from '@aws-sdk/client-cloudformation';
import { requireRegion } from './aws-region';

/**
 * The outputs of a deployed stack, by key (`WebhookUrl`, `EventsTableName`, ...).
 * @param region the stack's region; by default the one the AWS settings give (see `requireRegion`).
 */
export async function readStackOutputs(stackName: string, region?: string): Promise<Record<string, string>> {
  const client = new CloudFormationClient({ region: region ?? (await requireRegion()) });
  try {
    const { Stacks = [] } = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    const outputs = Stacks[0]?.Outputs ?? [];
    return Object.fromEntries(outputs.map((output) => [output.OutputKey ?? '', output.OutputValue ?? '']));
  } catch (error) {
    throw new Error(`could not read the outputs of stack ${stackName}: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    client.destroy();
  }
}

/** @returns the output's value. @throws naming the output when the stack lacks it. */
export function requireOutput(outputs: Record<string, string>, key: string, stackName: string): string {
  const value = outputs[key];
  if (!value) throw new Error(`stack ${stackName} has no output ${key}: is it a campaign-inbox stack?`);
  return value;
}

/**
 * The raw-bodies bucket among a stack's resources: the one S3 bucket whose logical id is the `RawBodies`
 * construct's (`…RawBodiesBucket<hash>`, whatever the construct's parent is called).
 * @returns its name, or `undefined` when the stack has no such bucket or more than one.
 */
export function rawBodiesBucketOf(
  resources: Pick<StackResourceSummary, 'LogicalResourceId' | 'ResourceType' | 'PhysicalResourceId'>[],
): string | undefined {
  const buckets = resources.filter(
    (resource) =>
      resource.ResourceType === 'AWS::S3::Bucket' &&
      /RawBodiesBucket[0-9A-F]{8}$/.test(resource.LogicalResourceId ?? ''),
  );
  return buckets.length === 1 ? buckets[0]?.PhysicalResourceId || undefined : undefined;
}

/** @returns the name of a deployed stack's raw-bodies bucket (see {@link rawBodiesBucketOf}), from its resources. */
export async function readRawBodiesBucket(stackName: string, region?: string): Promise<string | undefined> {
  const client = new CloudFormationClient({ region: region ?? (await requireRegion()) });
  try {
    const resources: StackResourceSummary[] = [];
    for await (const page of paginateListStackResources({ client }, { StackName: stackName }))
      resources.push(...(page.StackResourceSummaries ?? []));
    return rawBodiesBucketOf(resources);
  } catch (error) {
    throw new Error(`could not list the resources of stack ${stackName}: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    client.destroy();
  }
}
