import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { BUNDLING } from '../bundling';

const ROOT = join(import.meta.dirname, '../..');

/**
 * The functions the package ships prebuilt (`npm run build`), and the packages each leaves to the Lambda
 * runtime. From the installed package, the stack uses these bundles; from a clone, it bundles the sources.
 */
export const PACKAGED_FUNCTIONS: Record<string, string[]> = {
  'receive-webhook': ['@aws-sdk/client-s3'],
  'process-webhook': [],
  'repair-counters': [],
  'campaign-dashboard': [],
  'write-lake-rows': [],
  'replay-events': [],
  'daily-digest': [],
};

/** Where a prebuilt bundle sits next to the built package's code, when this runs from the package. */
const prebuilt = (name: string) => {
  const folder = join(import.meta.dirname, 'functions', name);
  return existsSync(join(folder, 'index.mjs')) ? folder : undefined;
};

export interface NodeFunctionProps {
  /** Folder under `functions/` holding `handler.ts`. */
  name: string;
  timeout: Duration;
  memorySize?: number;
  environment?: Record<string, string>;
  logRetentionDays: number;
  /** Packages left out of the bundle, loaded from the Lambda runtime's AWS SDK when first used. */
  external?: string[];
  /** Module names the bundler resolves to these files (the user's code for reactions). */
  alias?: Record<string, string>;
  /** AWS X-Ray active tracing (Lambda samples the invocations and records their segments). */
  tracing?: boolean;
}

/**
 * A Lambda function with our defaults baked in: ARM64, the current Node runtime, an esbuild bundle (minified
 * with names kept, tree-shaken, the AWS SDK included so its version is the one tested), a log group of its own
 * with a retention, and a role that may write to that log group and nothing else until granted more.
 */
export class NodeFunction extends Construct {
  readonly function: lambda.Function;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: NodeFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // An explicit role instead of AWSLambdaBasicExecutionRole, whose logs:* reach every log group.
    this.role = new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    const common = {
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      // Lambda's START, END and REPORT lines would be some 300 bytes of logs per invocation; duration and memory
      // are in the function's metrics anyway.
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      ...(props.environment ? { environment: props.environment } : {}),
      ...(props.tracing ? { tracing: lambda.Tracing.ACTIVE } : {}),
    };
    const bundle = prebuilt(props.name);
    if (bundle) {
      this.function = new lambda.Function(this, 'Function', {
        ...common,
        code: lambda.Code.fromAsset(bundle),
        handler: 'index.handler',
      });
      return;
    }
    this.function = new NodejsFunction(this, 'Function', {
      ...common,
      entry: join(ROOT, 'functions', props.name, 'handler.ts'),
      handler: 'handler',
      projectRoot: ROOT,
      depsLockFilePath: join(ROOT, 'package-lock.json'),
      bundling: {
        minify: BUNDLING.minify,
        keepNames: BUNDLING.keepNames,
        sourceMap: BUNDLING.sourceMap,
        format: OutputFormat.ESM,
        target: BUNDLING.target,
        mainFields: [...BUNDLING.mainFields],
        externalModules: props.external ?? [],
        banner: BUNDLING.banner,
        esbuildArgs: Object.fromEntries(
          Object.entries({ ...BUNDLING.alias, ...props.alias }).map(([name, file]) => [
            `--alias:${name}`,
            file,
          ]),
        ),
      },
    });
  }
}
