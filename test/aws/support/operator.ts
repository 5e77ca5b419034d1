/**
 * The operator who runs the command-line tools against a deployed stack, as an IAM user of moto's carrying only
 * what those tools call: `events query`, `stats`, `export` and `dlq list|show|purge` with `--stack`.
 *
 * docs/cli.md names the permissions of `redrive --stack` (`sqs:StartMessageMoveTask`,
 * `sqs:ListMessageMoveTasks`, `sqs:GetQueueAttributes`) and the `cloudformation:ListStackResources` that
 * `reprocess --stack` adds, but none for these commands; they are read from the calls the tools make:
 * - every `--stack` command reads the stack's outputs: `cloudformation:DescribeStacks` on the stack;
 * - `query`, `stats` and `export` read the records table and its indexes with `dynamodb:Query`; `query` reads
 *   the events an index names with `dynamodb:BatchGetItem` (an index holds their keys only), and `export`
 *   without a filter reads the whole table with `dynamodb:Scan`;
 * - `dlq list` and `dlq show` receive the DLQ's messages and make them visible again at once
 *   (`sqs:ReceiveMessage`, and `sqs:ChangeMessageVisibility`, which IAM checks for
 *   `ChangeMessageVisibilityBatch`), `dlq purge` purges it (`sqs:PurgeQueue`).
 */
import type { AwsKey, PolicyStatement } from './iam';
import { MOTO_ACCOUNT, MOTO_REGION } from './iam';
import { moto } from './moto';
import { motoPolicy } from './policy';
import type { Deployment } from './stack';

/** The operator's statements for a stack named `stackName` whose resources are `stack`'s. */
export function operatorStatements(stack: Deployment, stackName: string): PolicyStatement[] {
  const table = stack.names.tableArn;
  return [
    {
      Effect: 'Allow',
      Action: ['cloudformation:DescribeStacks'],
      Resource: [`arn:aws:cloudformation:${MOTO_REGION}:${MOTO_ACCOUNT}:stack/${stackName}/*`],
    },
    {
      Effect: 'Allow',
      Action: ['dynamodb:Query', 'dynamodb:BatchGetItem', 'dynamodb:Scan'],
      Resource: [table, `${table}/index/*`],
    },
    {
      Effect: 'Allow',
      Action: ['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:PurgeQueue'],
      Resource: [stack.names.dlqArn],
    },
  ];
}

/**
 * Creates the operator in moto with those statements (moto's copy of them, see `motoPolicy`), and has the proxy
 * check the resource half of each call against them.
 */
export async function createOperator(
  stack: Deployment,
  stackName: string,
  name: string,
): Promise<{ key: AwsKey; statements: PolicyStatement[] }> {
  const statements = operatorStatements(stack, stackName);
  const key = await moto().createUser(name, motoPolicy(statements));
  stack.proxy.grant(key.accessKeyId, statements);
  return { key, statements };
}
