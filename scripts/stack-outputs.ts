import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';

/** The outputs of a deployed stack, by key (`WebhookUrl`, `EventsTableName`, ...). */
export async function readStackOutputs(stackName: string): Promise<Record<string, string>> {
  const client = new CloudFormationClient({});
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
