import { RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface ReceiverApiProps {
  handler: lambda.IFunction;
  throttleRateLimit: number;
  throttleBurstLimit: number;
  logRetentionDays: number;
}

/**
 * The HTTP API in front of the receive function: `ANY /webhooks/{provider}` (the function answers 405 to
 * anything but POST, so senders get a precise status), stage throttling, JSON access logs. Access logs name the
 * route, never the path, so a URL token is not written to them.
 */
export class ReceiverApi extends Construct {
  readonly api: apigw.HttpApi;
  readonly stage: apigw.HttpStage;

  constructor(scope: Construct, id: string, props: ReceiverApiProps) {
    super(scope, id);
    this.api = new apigw.HttpApi(this, 'Api', {
      createDefaultStage: false,
      description: 'campaign-inbox webhooks',
    });
    const integration = new HttpLambdaIntegration('Receive', props.handler, {
      payloadFormatVersion: apigw.PayloadFormatVersion.VERSION_2_0,
    });
    // The token route serves providers that authenticate by URL token (and SORI only with allowUnsigned on);
    // the receive function refuses it for any other.
    const paths = ['/webhooks/{provider}', '/webhooks/{provider}/{token}'];
    for (const path of paths) this.api.addRoutes({ path, methods: [apigw.HttpMethod.ANY], integration });

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = new apigw.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRateLimit, burstLimit: props.throttleBurstLimit },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            time: '$context.requestTime',
            ip: '$context.identity.sourceIp',
            route: '$context.routeKey',
            status: '$context.status',
            length: '$context.responseLength',
            latencyMs: '$context.responseLatency',
            integrationLatencyMs: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });
  }

  /** The base URL of the stage, without a trailing slash. */
  get url(): string {
    return this.api.apiEndpoint;
  }
}
