/**
 * A CloudFormation stack in moto whose outputs are the synthesized template's, each resolved to the resource the
 * suite made in moto from that template, so the tools' `--stack` path reads them as it reads a deployed stack's.
 *
 * moto's CloudFormation cannot make the template's resources as the deploy does (the records table is an
 * `AWS::DynamoDB::GlobalTable`, the webhook an API Gateway HTTP API, which moto cannot run), and resources it
 * made itself would not be the ones the bundles here write to. So the stack holds one placeholder resource
 * (CloudFormation refuses a template without resources; moto answers such a `CreateStack` with an error page)
 * and the template's `Outputs` section, values resolved: what `DescribeStacks` gives the tools is what it would
 * give after a deploy, names of moto's table and queues in place of AWS's.
 */
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { uniqueName } from '../../support/local-aws';
import { MOTO_REGION } from './iam';
import { moto } from './moto';
import { type Physical, resolveValue } from './policy';
import type { Deployment } from './stack';

/**
 * The one resource an output names that has no counterpart in moto and no stand-in in the deployment: the
 * CloudWatch dashboard (only `DashboardUrl`, which the tools never read). The HTTP API's stand-in is the
 * deployment's (`WebhookUrl`, `CampaignDashboardUrl`); nothing serves either.
 */
function standIns(stack: Deployment): Record<string, Physical> {
  const made: Record<string, Physical> = {};
  for (const [id, resource] of Object.entries(stack.resources)) {
    if (resource.Type === 'AWS::CloudWatch::Dashboard')
      made[id] = { ref: uniqueName('dashboard'), attributes: {} };
  }
  return made;
}

export interface OutputsStack {
  stackName: string;
  stackId: string;
  /** The outputs `DescribeStacks` answers with, by key. */
  outputs: Record<string, string>;
}

/** Creates the stack as moto's administrator; its outputs as `DescribeStacks` gives them back. */
export async function createOutputsStack(stack: Deployment): Promise<OutputsStack> {
  const physical = { ...standIns(stack), ...stack.physical };
  const Outputs = Object.fromEntries(
    Object.entries(stack.outputs).map(([key, output]) => [
      key,
      { Value: resolveValue(output.Value, physical) },
    ]),
  );
  const aws = moto();
  const client = new CloudFormationClient({
    region: MOTO_REGION,
    endpoint: aws.endpoint,
    credentials: aws.admin,
  });
  try {
    const stackName = uniqueName('CampaignInbox').replace(/[^A-Za-z0-9-]/g, '-');
    const { StackId = '' } = await client.send(
      new CreateStackCommand({
        StackName: stackName,
        TemplateBody: JSON.stringify({
          Resources: { Placeholder: { Type: 'AWS::CloudFormation::WaitConditionHandle' } },
          Outputs,
        }),
      }),
    );
    const { Stacks = [] } = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    const outputs = Object.fromEntries(
      (Stacks[0]?.Outputs ?? []).map((output) => [output.OutputKey ?? '', output.OutputValue ?? '']),
    );
    return { stackName, stackId: StackId, outputs };
  } finally {
    client.destroy();
  }
}
