import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { METRICS_NAMESPACE, RECEIVE_SERVICE } from '../../lib/metrics';
import { loadPipelineHealthConfig } from '../../lib/queries/pipeline-health';
import { synthesizeDashboardStack } from '../support/dashboard-health-stack';

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

/** The dashboard role's statements, as `[action, resource]` pairs. */
function grantsOf(resources: ReturnType<typeof synthesizeDashboardStack>['resources'], roleId: string) {
  const statements = Object.values(resources)
    .filter(
      (resource) =>
        resource.Type === 'AWS::IAM::Policy' &&
        (resource.Properties.Roles as { Ref: string }[] | undefined)?.some((role) => role.Ref === roleId),
    )
    .flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
  for (const statement of statements) expect(statement.Effect).toBe('Allow');
  return statements.flatMap((statement) =>
    [statement.Action].flat().map((action) => [action, JSON.stringify(statement.Resource)] as const),
  );
}

const arn = (id: string) => JSON.stringify({ 'Fn::GetAtt': [id, 'Arn'] });

describe('the dashboard function and delivery health', () => {
  it('may read metrics (GetMetricData, which IAM cannot scope) and the two queues’ attributes, and no other call of CloudWatch or SQS', () => {
    const { resources, ids } = synthesizeDashboardStack();
    const grants = grantsOf(resources, ids.role).filter(
      ([action]) => !action.startsWith('logs:') && !action.startsWith('dynamodb:'),
    );
    expect(grants.sort()).toEqual(
      [
        ['cloudwatch:GetMetricData', JSON.stringify('*')],
        [
          'sqs:GetQueueAttributes',
          JSON.stringify([
            { 'Fn::GetAtt': [ids.queue, 'Arn'] },
            { 'Fn::GetAtt': [ids.deadLetterQueue, 'Arn'] },
          ]),
        ],
      ].sort(),
    );
    // The table reads are the construct's earlier ones, untouched: no write came with these.
    const table = grantsOf(resources, ids.role).filter(([action]) => action.startsWith('dynamodb:'));
    expect(table.map(([action]) => action).sort()).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:GetItem',
      'dynamodb:Query',
      'dynamodb:Query',
    ]);
    expect(table.every(([, resource]) => resource.includes(ids.table))).toBe(true);
    expect(arn(ids.queue)).not.toBe(arn(ids.deadLetterQueue));
  });

  it('passes the namespace and service of the receive function’s metrics, the providers served and both queue URLs, which the function’s loader reads back', () => {
    const { resources, ids } = synthesizeDashboardStack({ providers: ['sori', 'symphony'] });
    const variables = resources[ids.function]?.Properties.Environment as {
      Variables: Record<string, unknown>;
    };
    expect(variables.Variables).toMatchObject({
      METRICS_NAMESPACE: 'CampaignInbox',
      RECEIVE_METRICS_SERVICE: 'receive-webhook',
      PROVIDERS: 'sori,symphony',
      QUEUE_URL: { Ref: ids.queue },
      DLQ_URL: { Ref: ids.deadLetterQueue },
    });
    // The names the receive function writes its metrics under, not copies of them.
    expect(variables.Variables.METRICS_NAMESPACE).toBe(METRICS_NAMESPACE);
    expect(variables.Variables.RECEIVE_METRICS_SERVICE).toBe(RECEIVE_SERVICE);
    const url = (name: string) => `https://sqs.us-east-1.amazonaws.com/123456789012/${name}`;
    const env = Object.fromEntries(
      Object.entries(variables.Variables).map(([name, value]) => [
        name,
        typeof value === 'string'
          ? value
          : url((value as { Ref: string }).Ref === ids.queue ? 'events' : 'events-dlq'),
      ]),
    );
    expect(loadPipelineHealthConfig({ ...env, AWS_REGION: 'us-east-1' })).toEqual({
      region: 'us-east-1',
      namespace: 'CampaignInbox',
      service: 'receive-webhook',
      providers: ['sori', 'symphony'],
      queueUrl: url('events'),
      dlqUrl: url('events-dlq'),
    });
  });

  it('without the queues, grants no SQS call and passes no queue URL (those figures are then null), and reads every provider’s refusals', () => {
    const { resources, ids } = synthesizeDashboardStack({ queues: false });
    const actions = grantsOf(resources, ids.role).map(([action]) => action);
    expect(actions.filter((action) => action.startsWith('sqs:'))).toEqual([]);
    expect(actions).toContain('cloudwatch:GetMetricData');
    const environment = resources[ids.function]?.Properties.Environment as
      | { Variables: Record<string, unknown> }
      | undefined;
    const variables = environment?.Variables ?? {};
    expect(Object.keys(variables)).not.toContain('QUEUE_URL');
    expect(Object.keys(variables)).not.toContain('DLQ_URL');
    expect(Object.keys(variables)).not.toContain('PROVIDERS');
    const config = loadPipelineHealthConfig(variables as Record<string, string>);
    expect(config?.queueUrl).toBeUndefined();
    expect(config?.dlqUrl).toBeUndefined();
    expect(config?.providers).toEqual(['sori', 'symphony', 'adreform', 'optimizely']);
  });

  // The page route, the MFA and the plan findings are acknowledged by the stack (infra/constructs/
  // acknowledge-findings.ts); the wildcard of GetMetricData is the construct's own to acknowledge.
  it('leaves cdk-nag no wildcard finding on the dashboard role: the unscoped GetMetricData is acknowledged with its reason', () => {
    const { app, stack } = synthesizeDashboardStack();
    const report = new AwsSolutionsChecks(app).validateScope(stack);
    const onRole = report.violations.flatMap((violation) =>
      violation.violatingResources
        .filter((resource) => resource.constructPath?.startsWith('DeliveryHealth/Dashboard/Function/'))
        .map((resource) => `${violation.ruleName} ${resource.constructPath}`),
    );
    expect(onRole).toEqual([]);
  });
});
