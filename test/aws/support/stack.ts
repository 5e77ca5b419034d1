/**
 * The stack as `cdk synth` builds it (esbuild bundling on), its resources made in moto, and for each function an
 * IAM user carrying exactly what the template grants the function's role, so each bundle runs with its own
 * role's permissions and the environment the template gives it.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SetQueueAttributesCommand,
} from '@aws-sdk/client-sqs';
import { App } from 'aws-cdk-lib';
import { CampaignInboxStack, type CampaignInboxStackProps } from '../../../infra/campaign-inbox-stack';
import { DEFAULT_CONFIG } from '../../../infra/config';
import { rotateSecret } from '../../../lib/signature/rotate-secret';
import { ensureRecordsTable } from '../../../local/create-records-table';
import { bundledFunction } from '../../support/bundles';
import { generatedSecretDocument } from '../../support/deployed-receive';
import { uniqueName } from '../../support/local-aws';
import { type AwsKey, MOTO_ACCOUNT, MOTO_REGION, type PolicyStatement } from './iam';
import { moto } from './moto';
import {
  functionOf,
  motoPolicy,
  type Physical,
  type Resource,
  type Resources,
  resolvedStatements,
  resolveProperties,
  resolveValue,
  templateStatements,
} from './policy';
import { type MotoProxy, startMotoProxy } from './proxy';

const ROOT = join(import.meta.dirname, '../../..');

/** The functions of the stack, by the prefix of their logical ids. */
export const FUNCTIONS = {
  receive: 'InboxReceiveFunction',
  process: 'InboxProcessFunction',
  repair: 'InboxRepairFunction',
  dashboard: 'InboxDashboardFunction',
} as const;
export type FunctionName = keyof typeof FUNCTIONS;

/** The reaction function's logical id prefix: in the template only when a user's module is configured. */
export const REACTION = 'OnEventFunction';

/** The stack's `onEvent` setting (`-c onEventModule=…`): the user's module, its event types and providers. */
export type OnEvent = NonNullable<CampaignInboxStackProps['onEvent']>;

interface Synthesized {
  /** The stack's name in the template's assembly. */
  stackName: string;
  outdir: string;
  resources: Resources;
  outputs: Record<string, { Value: unknown }>;
}

const synthesized = new Map<string, Promise<Synthesized>>();

/**
 * Synthesizes the stack once per test file (and `onEvent` setting). The assembly sits next to a `node_modules`
 * that is the project's: a package the receive bundle leaves to the Lambda runtime (`@aws-sdk/client-s3`)
 * resolves there, as it does from the runtime's own copy in Lambda.
 */
export function synthesize(onEvent?: OnEvent) {
  const key = JSON.stringify(onEvent ?? null);
  let found = synthesized.get(key);
  if (!found) {
    found = (async () => {
      const root = await mkdtemp(join(tmpdir(), 'campaign-inbox-aws-'));
      await symlink(join(ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
      const outdir = join(root, 'assembly');
      const app = new App({ outdir, builtinCloudFormationValidation: false });
      const stack = new CampaignInboxStack(app, 'ConformanceTest', { config: DEFAULT_CONFIG, onEvent });
      const template = app.synth().getStackArtifact(stack.artifactId).template as {
        Resources: Resources;
        Outputs?: Record<string, { Value: unknown }>;
      };
      return {
        stackName: stack.stackName,
        outdir,
        resources: template.Resources,
        outputs: template.Outputs ?? {},
      };
    })();
    synthesized.set(key, found);
  }
  return found;
}

const ofType = (resources: Resources, type: string) =>
  Object.entries(resources).filter(([, resource]) => resource.Type === type);

/**
 * Makes in moto, as the stack's administrator, a counterpart of each of the template's queues, records table,
 * bucket, secret (it holds `document`), user pool, user pool client and domain; log groups get their ARNs (the
 * functions write logs to standard output, and no call reaches CloudWatch Logs), and the HTTP API a stand-in.
 * @returns what `Ref` and `Fn::GetAtt` give for each, by logical id, and the stack's own pseudo parameters.
 */
async function createResources(
  stackName: string,
  resources: Resources,
  document: object,
  proxy: MotoProxy,
): Promise<Record<string, Physical>> {
  const aws = moto();
  // CloudFormation gives each stack it creates an id ending in a new UUID: a template may derive names from it
  // (the user pool's domain prefix does, as a prefix must be unique in the region).
  const physical: Record<string, Physical> = {
    'AWS::StackId': {
      ref: `arn:aws:cloudformation:${MOTO_REGION}:${MOTO_ACCOUNT}:stack/${stackName}/${randomUUID()}`,
      attributes: {},
    },
    'AWS::StackName': { ref: stackName, attributes: {} },
  };
  const queues = ofType(resources, 'AWS::SQS::Queue');
  for (const [id, resource] of queues) {
    const attributes = Object.fromEntries(
      ['VisibilityTimeout', 'MessageRetentionPeriod', 'MaximumMessageSize']
        .filter((name) => resource.Properties[name] !== undefined)
        .map((name) => [name, String(resource.Properties[name])]),
    );
    const { QueueUrl = '' } = await aws.sqs.send(
      new CreateQueueCommand({ QueueName: uniqueName(id.toLowerCase()), Attributes: attributes }),
    );
    const { Attributes = {} } = await aws.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
    );
    // The SDK sends an SQS call to the host of the queue's URL (as it would to sqs.<region>.amazonaws.com), so
    // the URLs name the proxy's host: every call on a queue passes it.
    physical[id] = {
      ref: new URL(new URL(QueueUrl).pathname, proxy.endpoint).href,
      attributes: { Arn: Attributes.QueueArn ?? '' },
    };
  }
  // Once every queue exists, the redrive policies that name one another.
  for (const [id, resource] of queues) {
    const redrive = resource.Properties.RedrivePolicy as {
      deadLetterTargetArn: unknown;
      maxReceiveCount: number;
    };
    if (!redrive) continue;
    await aws.sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: physical[id]?.ref,
        Attributes: {
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: resolveValue(redrive.deadLetterTargetArn, physical),
            maxReceiveCount: redrive.maxReceiveCount,
          }),
        },
      }),
    );
  }
  for (const [id, resource] of ofType(resources, 'AWS::DynamoDB::GlobalTable')) {
    const name = uniqueName('records');
    // As the local stack and the tests make it: the schema is lib/table/records-table.ts's, shared with the
    // construct.
    await ensureRecordsTable(aws.dynamodb, name);
    // Its stream as the template gives it (the view of each change it records).
    const stream = resource.Properties.StreamSpecification as { StreamViewType?: string } | undefined;
    if (stream?.StreamViewType) {
      await aws.dynamodb.send(
        new UpdateTableCommand({
          TableName: name,
          StreamSpecification: {
            StreamEnabled: true,
            StreamViewType: stream.StreamViewType as 'NEW_IMAGE',
          },
        }),
      );
    }
    const { Table } = await aws.dynamodb.send(new DescribeTableCommand({ TableName: name }));
    physical[id] = {
      ref: name,
      attributes: { Arn: Table?.TableArn ?? '', StreamArn: Table?.LatestStreamArn ?? '' },
    };
  }
  for (const [id] of ofType(resources, 'AWS::S3::Bucket')) {
    const name = uniqueName('raw-bodies');
    await aws.s3.send(new CreateBucketCommand({ Bucket: name }));
    physical[id] = { ref: name, attributes: { Arn: `arn:aws:s3:::${name}` } };
  }
  for (const [id] of ofType(resources, 'AWS::SecretsManager::Secret')) {
    const { ARN = '' } = await aws.secrets.send(
      new CreateSecretCommand({ Name: uniqueName('signing-secret'), SecretString: JSON.stringify(document) }),
    );
    physical[id] = { ref: ARN, attributes: {} };
  }
  for (const [id] of ofType(resources, 'AWS::Logs::LogGroup')) {
    const name = `/aws/lambda/${uniqueName(id)}`;
    physical[id] = {
      ref: name,
      attributes: { Arn: `arn:aws:logs:${MOTO_REGION}:${MOTO_ACCOUNT}:log-group:${name}:*` },
    };
  }
  // moto cannot serve an HTTP API with Lambda integrations: a stand-in of AWS's shape, which nothing serves, so
  // that what names its endpoint (the invitation's text, the client's sign-in return address, the outputs)
  // resolves. The bundles are invoked directly.
  for (const [id] of ofType(resources, 'AWS::ApiGatewayV2::Api')) {
    const apiId = uniqueName('api')
      .replace(/[^a-z0-9]/g, '')
      .slice(-10);
    physical[id] = {
      ref: apiId,
      attributes: { ApiEndpoint: `https://${apiId}.execute-api.${MOTO_REGION}.amazonaws.com` },
    };
  }
  await createUserPools(resources, physical);
  return physical;
}

/**
 * The template's user pools, their clients and domains, made in moto with the template's properties, references
 * resolved, as CloudFormation passes them to Cognito's API. Not made: a managed login style
 * (`AWS::Cognito::ManagedLoginBranding`: moto 5.2.1 has no such call, and serves no sign-in pages to style).
 */
async function createUserPools(resources: Resources, physical: Record<string, Physical>) {
  const { cognito } = moto();
  const properties = (resource: Resource) =>
    resolveProperties(resource.Properties, physical) as Record<string, unknown>;
  for (const [id, resource] of ofType(resources, 'AWS::Cognito::UserPool')) {
    // The two properties CloudFormation does not pass to CreateUserPool as they are: the name (a generated one
    // when the template gives none) and the MFA methods, which it sets with SetUserPoolMfaConfig.
    const { UserPoolName, EnabledMfas, ...rest } = properties(resource);
    const { UserPool } = await cognito.call<{ UserPool: { Id: string; Arn: string } }>('CreateUserPool', {
      ...rest,
      PoolName: UserPoolName ?? uniqueName(id),
    });
    const mfas = (EnabledMfas as string[] | undefined) ?? [];
    if (mfas.length > 0) {
      await cognito.call('SetUserPoolMfaConfig', {
        UserPoolId: UserPool.Id,
        MfaConfiguration: rest.MfaConfiguration,
        SoftwareTokenMfaConfiguration: { Enabled: mfas.includes('SOFTWARE_TOKEN_MFA') },
      });
    }
    // As CloudFormation documents them: the provider name and URL are the issuer's host and path, without
    // `https://`.
    const provider = `cognito-idp.${MOTO_REGION}.amazonaws.com/${UserPool.Id}`;
    physical[id] = {
      ref: UserPool.Id,
      attributes: {
        Arn: UserPool.Arn,
        ProviderName: provider,
        ProviderURL: provider,
        UserPoolId: UserPool.Id,
      },
    };
  }
  for (const [id, resource] of ofType(resources, 'AWS::Cognito::UserPoolClient')) {
    // Cognito's API needs a client name, which the template may leave to CloudFormation.
    const { ClientName, ...rest } = properties(resource);
    const { UserPoolClient } = await cognito.call<{
      UserPoolClient: { ClientId: string; ClientName: string };
    }>('CreateUserPoolClient', { ...rest, ClientName: ClientName ?? id });
    physical[id] = {
      ref: UserPoolClient.ClientId,
      attributes: { ClientId: UserPoolClient.ClientId, Name: UserPoolClient.ClientName },
    };
  }
  for (const [id, resource] of ofType(resources, 'AWS::Cognito::UserPoolDomain')) {
    const domain = properties(resource);
    const created = await cognito.call<{ CloudFrontDomain?: string }>('CreateUserPoolDomain', domain);
    physical[id] = {
      ref: String(domain.Domain),
      attributes: created.CloudFrontDomain ? { CloudFrontDistribution: created.CloudFrontDomain } : {},
    };
  }
}

/** A function of the stack as deployed to moto. */
export interface DeployedFunction {
  /** The bundle's entry file. */
  file: string;
  /** Its environment as the template gives it, references resolved to moto's resources. */
  environment: Record<string, string>;
  /** The IAM user standing for its role, and that user's statements as the template gives them. */
  user: string;
  key: AwsKey;
  statements: PolicyStatement[];
  /** The environment to run its bundle with: the template's, the role's key, every service through `proxy`. */
  env(overrides?: Record<string, string>): Record<string, string>;
}

export interface Deployment {
  resources: Resources;
  /** The template's outputs, as written (references unresolved). */
  outputs: Record<string, { Value: unknown }>;
  /** What `Ref` and `Fn::GetAtt` give for each resource, by logical id (see {@link createResources}). */
  physical: Record<string, Physical>;
  names: {
    tableName: string;
    tableArn: string;
    queueUrl: string;
    queueArn: string;
    dlqUrl: string;
    dlqArn: string;
    bucket: string;
    secretArn: string;
    userPoolId: string;
    userPoolClientId: string;
    /** The managed login domain's prefix (`<prefix>.auth.<region>.amazoncognito.com`). */
    userPoolDomain: string;
  };
  /** The SORI signing key in the stack's secret. */
  soriKey: string;
  functions: Record<FunctionName, DeployedFunction>;
  /** The reaction function, when the stack was synthesized with an `onEvent` module. */
  reaction: DeployedFunction | undefined;
  proxy: MotoProxy;
  close(): Promise<void>;
}

/**
 * The synthesized stack's resources made in moto, an IAM user per function carrying its role's statements,
 * and a {@link MotoProxy} the bundles reach moto through.
 */
export async function deployToMoto(onEvent?: OnEvent): Promise<Deployment> {
  const { stackName, outdir, resources, outputs } = await synthesize(onEvent);
  const aws = moto();
  const soriKey = `sk_${uniqueName('moto')}`;
  const proxy = await startMotoProxy(aws.endpoint);
  const physical = await createResources(
    stackName,
    resources,
    rotateSecret(generatedSecretDocument(), 'sori', soriKey),
    proxy,
  );
  const only = (type: string, pick: (p: Physical) => string) => {
    const found = ofType(resources, type).map(([id]) => physical[id] as Physical);
    if (found.length !== 1) throw new Error(`${found.length} resources of type ${type}, expected 1`);
    return pick(found[0] as Physical);
  };
  const [queue, dlq] = (() => {
    // The events queue is the one with a redrive policy, its DLQ the queue that policy names (a reaction's
    // failure queue is neither).
    const queues = ofType(resources, 'AWS::SQS::Queue');
    const main = queues.filter(([, resource]) => resource.Properties.RedrivePolicy);
    const target = (main[0]?.[1].Properties.RedrivePolicy as { deadLetterTargetArn?: unknown } | undefined)
      ?.deadLetterTargetArn as { 'Fn::GetAtt'?: [string, string] } | undefined;
    const dead = target?.['Fn::GetAtt']?.[0];
    if (main.length !== 1 || !dead || !physical[dead])
      throw new Error('expected an events queue and its DLQ');
    return [physical[main[0]?.[0] ?? ''] as Physical, physical[dead] as Physical];
  })();
  const deploy = async (name: string, prefix: string): Promise<DeployedFunction> => {
    const { functionId, roleId } = functionOf(resources, prefix);
    const bundle = await bundledFunction(outdir, resources, functionId);
    const statements = resolvedStatements(templateStatements(resources, roleId), physical);
    const user = uniqueName(name);
    const key = await aws.createUser(user, motoPolicy(statements));
    proxy.grant(key.accessKeyId, statements);
    const environment = Object.fromEntries(
      Object.entries(bundle.properties.Environment?.Variables ?? {}).map(([variable, value]) => [
        variable,
        resolveValue(value, physical),
      ]),
    );
    return {
      file: bundle.file,
      environment,
      user,
      key,
      statements,
      env: (overrides = {}) => ({
        ...environment,
        AWS_REGION: MOTO_REGION,
        AWS_ACCESS_KEY_ID: key.accessKeyId,
        AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
        AWS_ENDPOINT_URL_SQS: proxy.endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: proxy.endpoint,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: proxy.endpoint,
        AWS_ENDPOINT_URL_S3: proxy.endpoint,
        AWS_ENDPOINT_URL_CLOUDWATCH: proxy.endpoint,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        ...overrides,
      }),
    };
  };
  const functions = {} as Record<FunctionName, DeployedFunction>;
  for (const [name, prefix] of Object.entries(FUNCTIONS) as [FunctionName, string][])
    functions[name] = await deploy(name, prefix);
  const reaction = Object.keys(resources).some((id) => id.startsWith(REACTION))
    ? await deploy('reaction', REACTION)
    : undefined;
  return {
    resources,
    outputs,
    physical,
    names: {
      tableName: only('AWS::DynamoDB::GlobalTable', (p) => p.ref),
      tableArn: only('AWS::DynamoDB::GlobalTable', (p) => p.attributes.Arn ?? ''),
      queueUrl: queue.ref,
      queueArn: queue.attributes.Arn ?? '',
      dlqUrl: dlq.ref,
      dlqArn: dlq.attributes.Arn ?? '',
      bucket: only('AWS::S3::Bucket', (p) => p.ref),
      secretArn: only('AWS::SecretsManager::Secret', (p) => p.ref),
      userPoolId: only('AWS::Cognito::UserPool', (p) => p.ref),
      userPoolClientId: only('AWS::Cognito::UserPoolClient', (p) => p.ref),
      userPoolDomain: only('AWS::Cognito::UserPoolDomain', (p) => p.ref),
    },
    soriKey,
    functions,
    reaction,
    proxy,
    close: () => proxy.close(),
  };
}
