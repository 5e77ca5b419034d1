/**
 * Each function of the synthesized stack runs in this suite as an IAM user of moto's that carries its role's
 * statements, read from the template. These tests hold the harness to that, and show that a call outside a
 * role's grant is refused, by moto or (for the resource of a DynamoDB, Secrets Manager or Cognito user-pool call,
 * which moto does not check) by the proxy in front of it.
 */
import {
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsJsonClient, AwsServiceError } from '../../lib/aws/aws-json-client';
import { RECORDS_TABLE } from '../../lib/table/records-table';
import { uniqueName } from '../support/local-aws';
import { type AwsKey, iam, MOTO_ACCOUNT, MOTO_REGION, type PolicyStatement, readTag } from './support/iam';
import { moto } from './support/moto';
import { functionOf, motoPolicy, templateStatements } from './support/policy';
import { type Deployment, deployToMoto, FUNCTIONS, type FunctionName } from './support/stack';

let stack: Deployment;
beforeAll(async () => {
  stack = await deployToMoto();
});
afterAll(() => stack?.close());

/** A Cognito user-pool client signing with `key`, at `endpoint` (the proxy's unless said), one try per call. */
const cognitoAs = (key: AwsKey, endpoint = stack.proxy.endpoint) =>
  new AwsJsonClient({
    service: 'cognito-idp',
    region: MOTO_REGION,
    endpoint,
    targetPrefix: 'AWSCognitoIdentityProviderService',
    jsonVersion: '1.1',
    credentials: () => key,
    maxAttempts: 1,
    timeoutMs: 10_000,
  });

/** SDK clients signing with `key`, through the proxy in front of moto, one try per call. */
function clientsOf(key: AwsKey) {
  const config = { region: MOTO_REGION, endpoint: stack.proxy.endpoint, credentials: key, maxAttempts: 1 };
  return {
    dynamodb: new DynamoDBClient(config),
    sqs: new SQSClient(config),
    s3: new S3Client({ ...config, forcePathStyle: true }),
    secrets: new SecretsManagerClient(config),
    cognito: cognitoAs(key),
  };
}

/** What the proxy saw of the last call: who answered, and how. */
const lastCall = () => {
  const call = stack.proxy.calls.at(-1);
  return { action: call?.action, status: call?.status, code: call?.code, by: call?.by };
};

describe("each function's role, as an IAM user in moto", () => {
  it('carries exactly the statements the template gives the role, each reference resolved to the resource made in moto', async () => {
    const aws = moto();
    // Every function of the template has its user here: a new one would fail this line until it has.
    const functions = Object.entries(stack.resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function');
    expect(functions.map(([id]) => Object.values(FUNCTIONS).find((prefix) => id.startsWith(prefix)))).toEqual(
      expect.arrayContaining(Object.values(FUNCTIONS)),
    );
    expect(functions).toHaveLength(Object.keys(FUNCTIONS).length);
    for (const name of Object.keys(FUNCTIONS) as FunctionName[]) {
      const fn = stack.functions[name];
      const template = templateStatements(
        stack.resources,
        functionOf(stack.resources, FUNCTIONS[name]).roleId,
      );
      // Statement by statement, the template's actions, and its resources as ARNs of moto's resources.
      expect(fn.statements.map((s) => [s.Effect, s.Action])).toEqual(
        template.map((s) => [s.Effect, [s.Action].flat()]),
      );
      for (const statement of fn.statements) {
        // GetMetricData is the one call IAM cannot scope to a resource.
        const unscoped = [statement.Action].flat().every((action) => action === 'cloudwatch:GetMetricData');
        for (const resource of [statement.Resource].flat())
          expect(resource).toMatch(unscoped ? /^\*$/ : /^arn:aws:/);
      }
      // The user in moto carries them (moto's own copy of them, see motoPolicy), and nothing else.
      const policies = await iam(aws.endpoint, aws.admin, 'ListUserPolicies', { UserName: fn.user });
      expect([...policies.matchAll(/<member>([^<]*)<\/member>/g)].map((m) => m[1])).toEqual(['role']);
      const held = await iam(aws.endpoint, aws.admin, 'GetUserPolicy', {
        UserName: fn.user,
        PolicyName: 'role',
      });
      expect(JSON.parse(decodeURIComponent(readTag(held, 'PolicyDocument').replace(/&quot;/g, '"')))).toEqual(
        motoPolicy(fn.statements),
      );
      const attached = await iam(aws.endpoint, aws.admin, 'ListAttachedUserPolicies', { UserName: fn.user });
      expect(attached).not.toContain('<PolicyArn>');
    }
    expect(stack.functions.receive.statements).toEqual(
      expect.arrayContaining([
        {
          Effect: 'Allow',
          Action: ['sqs:SendMessage'],
          Resource: [expect.stringMatching(/^arn:aws:sqs:.*:inboxeventsqueue/)],
        },
        { Effect: 'Allow', Action: ['s3:PutObject'], Resource: [`arn:aws:s3:::${stack.names.bucket}/raw/*`] },
        { Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: [stack.names.secretArn] },
      ]),
    );
    expect(stack.functions.repair.statements).toEqual(
      expect.arrayContaining([
        {
          Effect: 'Allow',
          Action: ['dynamodb:Query'],
          Resource: [
            `${stack.names.tableArn}/index/${RECORDS_TABLE.indexes.byDevice.name}`,
            `${stack.names.tableArn}/index/${RECORDS_TABLE.indexes.byTypeAndDay.name}`,
          ],
        },
      ]),
    );
    // The dashboard reads the table and its day listing, the pipeline's metrics (GetMetricData takes no
    // resource) and the queues' attributes, and nothing else of AWS but its logs.
    const { dashboard } = stack.functions;
    expect(
      dashboard.statements.filter((s) => ![s.Action].flat().every((a) => a.startsWith('logs:'))),
    ).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:BatchGetItem'],
        Resource: [stack.names.tableArn],
      },
      {
        Effect: 'Allow',
        Action: ['dynamodb:Query'],
        Resource: [`${stack.names.tableArn}/index/${RECORDS_TABLE.indexes.byTypeAndDay.name}`],
      },
      { Effect: 'Allow', Action: ['cloudwatch:GetMetricData'], Resource: ['*'] },
      {
        Effect: 'Allow',
        Action: ['sqs:GetQueueAttributes'],
        Resource: [stack.names.queueArn, stack.names.dlqArn],
      },
    ]);
  });

  it('refuses each function a call its role is not granted, as AWS would, and takes the calls it is granted', async () => {
    const { receive, process, repair } = stack.functions;
    const { tableName, queueUrl, dlqUrl, bucket, secretArn } = stack.names;
    const item = { pk: { S: 'role-test' }, sk: { S: 'role-test' } };

    const asReceive = clientsOf(receive.key);
    await asReceive.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'granted' }));
    await asReceive.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'raw/sori/granted', Body: 'x' }));
    await asReceive.secrets.send(new GetSecretValueCommand({ SecretId: secretArn }));
    // Judged by moto: an SQS queue and an S3 key are resources it checks, an action not granted at all too.
    await expect(
      asReceive.sqs.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: 'x' })),
    ).rejects.toThrow();
    expect(lastCall()).toEqual({ action: 'SendMessage', status: 403, code: 'AccessDenied', by: 'moto' });
    await expect(
      asReceive.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'other/x', Body: 'x' })),
    ).rejects.toThrow();
    expect(lastCall()).toMatchObject({ status: 403, code: 'AccessDenied', by: 'moto' });
    await expect(
      asReceive.dynamodb.send(new PutItemCommand({ TableName: tableName, Item: item })),
    ).rejects.toThrow();
    expect(lastCall()).toEqual({ action: 'PutItem', status: 403, code: 'AccessDenied', by: 'moto' });

    const asProcess = clientsOf(process.key);
    await asProcess.sqs.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: 'granted' }));
    await asProcess.dynamodb.send(new PutItemCommand({ TableName: tableName, Item: item }));
    await expect(
      asProcess.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'x' })),
    ).rejects.toThrow();
    expect(lastCall()).toEqual({ action: 'SendMessage', status: 403, code: 'AccessDenied', by: 'moto' });
    await expect(asProcess.dynamodb.send(new ScanCommand({ TableName: tableName }))).rejects.toThrow();
    expect(lastCall()).toEqual({ action: 'Scan', status: 403, code: 'AccessDenied', by: 'moto' });
    await expect(
      asProcess.secrets.send(new GetSecretValueCommand({ SecretId: secretArn })),
    ).rejects.toThrow();
    expect(lastCall()).toEqual({ action: 'GetSecretValue', status: 403, code: 'AccessDenied', by: 'moto' });
    // Judged by the proxy: moto grants `dynamodb:Query` on any table or index once any statement has it.
    const byDevice = RECORDS_TABLE.indexes.byDevice;
    const onIndex = new QueryCommand({
      TableName: tableName,
      IndexName: byDevice.name,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': byDevice.partitionKey },
      ExpressionAttributeValues: { ':pk': { S: 'role-test' } },
    });
    await expect(asProcess.dynamodb.send(onIndex)).rejects.toThrow(
      /no identity-based policy allows dynamodb:Query/,
    );
    expect(lastCall()).toEqual({
      action: 'Query',
      status: 400,
      code: 'AccessDeniedException',
      by: 'resource-check',
    });
    await expect(
      asProcess.dynamodb.send(new PutItemCommand({ TableName: `${tableName}-other`, Item: item })),
    ).rejects.toThrow(/on resource: arn:aws:dynamodb:.*-other$/);

    const asRepair = clientsOf(repair.key);
    await asRepair.dynamodb.send(onIndex);
    expect(lastCall()).toEqual({ action: 'Query', status: 200, code: undefined, by: 'moto' });
    await expect(
      asRepair.sqs.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: 'x' })),
    ).rejects.toThrow();
    expect(lastCall()).toEqual({ action: 'SendMessage', status: 403, code: 'AccessDenied', by: 'moto' });

    // The dashboard reads: the day listing and items are taken, a write, a scan, another index and any call on
    // its user pool are not.
    const asDashboard = clientsOf(stack.functions.dashboard.key);
    const byDay = RECORDS_TABLE.indexes.byTypeAndDay;
    await asDashboard.dynamodb.send(
      new QueryCommand({
        TableName: tableName,
        IndexName: byDay.name,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': byDay.partitionKey },
        ExpressionAttributeValues: { ':pk': { S: 'role-test' } },
      }),
    );
    expect(lastCall()).toEqual({ action: 'Query', status: 200, code: undefined, by: 'moto' });
    await asDashboard.dynamodb.send(new GetItemCommand({ TableName: tableName, Key: item }));
    expect(lastCall()).toEqual({ action: 'GetItem', status: 200, code: undefined, by: 'moto' });
    await expect(
      asDashboard.dynamodb.send(new PutItemCommand({ TableName: tableName, Item: item })),
    ).rejects.toThrow();
    expect(lastCall()).toEqual({ action: 'PutItem', status: 403, code: 'AccessDenied', by: 'moto' });
    await expect(asDashboard.dynamodb.send(new ScanCommand({ TableName: tableName }))).rejects.toThrow();
    expect(lastCall()).toEqual({ action: 'Scan', status: 403, code: 'AccessDenied', by: 'moto' });
    await expect(asDashboard.dynamodb.send(onIndex)).rejects.toThrow(
      /no identity-based policy allows dynamodb:Query/,
    );
    expect(lastCall()).toMatchObject({ action: 'Query', status: 400, by: 'resource-check' });
    await expect(
      asDashboard.cognito.call('ListUsers', { UserPoolId: stack.names.userPoolId }),
    ).rejects.toThrow();
    expect(lastCall()).toEqual({ action: 'ListUsers', status: 403, code: 'AccessDenied', by: 'moto' });
  });
});

describe('a Cognito user-pool call, which moto authorizes against *', () => {
  it("is scoped by the proxy to the pools the caller's statements name: moto alone takes it on any pool, through the proxy only the named pool's", async () => {
    const aws = moto();
    const { UserPool } = await aws.cognito.call<{ UserPool: { Id: string } }>('CreateUserPool', {
      PoolName: uniqueName('not-the-stacks'),
    });
    const statements: PolicyStatement[] = [
      {
        Effect: 'Allow',
        Action: ['cognito-idp:ListUsers'],
        Resource: [`arn:aws:cognito-idp:${MOTO_REGION}:${MOTO_ACCOUNT}:userpool/${stack.names.userPoolId}`],
      },
    ];
    // moto's copy of the statement names every pool: naming the stack's, it would match no call.
    expect(motoPolicy(statements).Statement).toEqual([{ ...statements[0], Resource: '*' }]);
    const key = await aws.createUser(uniqueName('pool-reader'), motoPolicy(statements));
    stack.proxy.grant(key.accessKeyId, statements);

    const direct = cognitoAs(key, aws.endpoint);
    await expect(direct.call('ListUsers', { UserPoolId: UserPool.Id })).resolves.toMatchObject({ Users: [] });

    const through = cognitoAs(key);
    await through.call('ListUsers', { UserPoolId: stack.names.userPoolId });
    expect(lastCall()).toEqual({ action: 'ListUsers', status: 200, code: undefined, by: 'moto' });
    const refused = await through
      .call('ListUsers', { UserPoolId: UserPool.Id })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AwsServiceError);
    expect(String((refused as Error).message)).toContain(
      `no identity-based policy allows cognito-idp:ListUsers on resource: arn:aws:cognito-idp:${MOTO_REGION}:${MOTO_ACCOUNT}:userpool/${UserPool.Id}`,
    );
    expect(lastCall()).toEqual({
      action: 'ListUsers',
      status: 400,
      code: 'AccessDeniedException',
      by: 'resource-check',
    });
  });
});
