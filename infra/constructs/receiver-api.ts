import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../../lib/metrics';
import type { RouteThrottle } from '../config';

/** One of a provider's apps given a route of its own (`POST /webhooks/<provider>/<app>`), with its throttle. */
export interface AppRoute extends RouteThrottle {
  name: string;
}

/** A provider served on routes of its own, with their throttle. */
export interface ProviderRoutes extends RouteThrottle {
  name: string;
  /**
   * Its apps given a route of their own, each with its throttle (`providerThrottles` names it
   * `<provider>/<app>`); any other app still comes by the `{token}` route, on the provider's throttle.
   */
  apps?: readonly AppRoute[];
}

export interface ReceiverApiProps {
  handler: lambda.IFunction;
  /** The stage's default throttle: every route without one of its own. */
  throttleRateLimit: number;
  throttleBurstLimit: number;
  logRetentionDays: number;
  /**
   * The providers given `POST /webhooks/<name>` and `POST /webhooks/<name>/{token}`, each route throttled on
   * its own; none: every path is served by the two catch-all routes alone, as before.
   */
  providers?: readonly ProviderRoutes[];
  /**
   * Whether the API takes webhooks at all; default true. False when a function URL is the webhooks' front door:
   * the API then serves the campaign dashboard alone, and no second door leads to the receive function.
   */
  webhookRoutes?: boolean;
}

/** The metric the access logs give of the stage's 429 answers, by API. */
export const THROTTLED_METRIC = 'ThrottledRequests';

/** Route keys name a provider (and an app) in the path: each one whole segment with no template braces. */
const ROUTE_SEGMENT = /^[A-Za-z0-9._~-]+$/;

/**
 * The HTTP API in front of the receive function, JSON access logs, and the throttles:
 *
 * - each served provider has its own `POST /webhooks/<name>` and `POST /webhooks/<name>/{token}`, each with a
 *   route-level throttle, so that a flood on another provider's URL or on any other path takes nothing from
 *   its rate (API Gateway keeps a token bucket per route: the stage's limit is a default for each route, not a
 *   total shared between them); each of its apps given one has `POST /webhooks/<name>/<app>` with its own;
 * - `ANY /webhooks/{provider}` and `ANY /webhooks/{provider}/{token}` take everything else (a provider not
 *   served, any method but POST) on the stage's default throttle, so the function still answers them precisely
 *   (404 for a provider it does not serve, 405 with `allow: POST`).
 *
 * Access logs name the route, never the path, so a URL token is not written to them.
 */
/** The stage's throttle per route key (`POST /webhooks/sori`), as CloudFormation takes it. */
type RouteSettings = Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }>;

export class ReceiverApi extends Construct {
  readonly api: apigw.HttpApi;
  readonly stage: apigw.HttpStage;
  /** The JSON access logs of the stage. */
  readonly accessLogs: logs.LogGroup;
  /** The stage's 429 answers (throttled before the function ran), from the access logs, per 5 minutes. */
  readonly throttledRequests: cw.Metric;
  /** The routes of each served provider, by name: the plain one first, then its `{token}` form, then its apps'. */
  readonly providerRoutes: ReadonlyMap<string, readonly apigw.HttpRoute[]>;

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
    const webhooks = props.webhookRoutes ?? true;
    const paths = webhooks ? ['/webhooks/{provider}', '/webhooks/{provider}/{token}'] : [];
    for (const path of paths) this.api.addRoutes({ path, methods: [apigw.HttpMethod.ANY], integration });

    const routeSettings: RouteSettings = {};
    const providerRoutes = new Map<string, apigw.HttpRoute[]>();
    for (const provider of webhooks ? (props.providers ?? []) : []) {
      if (!ROUTE_SEGMENT.test(provider.name) || providerRoutes.has(provider.name)) {
        throw new Error(
          `provider ${JSON.stringify(provider.name)} cannot have routes of its own: a name is one path segment, given once`,
        );
      }
      providerRoutes.set(provider.name, this.addProviderRoutes(provider, integration, routeSettings));
    }
    this.providerRoutes = providerRoutes;

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = this.addStage(props);
    if (providerRoutes.size > 0) {
      const stage = this.stage.node.defaultChild as apigw.CfnStage;
      stage.routeSettings = {
        ...(stage.routeSettings as Record<string, unknown> | undefined),
        ...routeSettings,
      };
      // The stage names the routes in its settings: CloudFormation must make them first.
      stage.node.addDependency(...[...providerRoutes.values()].flat());
    }
    this.throttledRequests = this.countThrottled();
  }

  /**
   * A provider's own routes, each with its throttle in `settings`: `POST /webhooks/<name>` and its `{token}`
   * form, then one per app given a route of its own.
   */
  private addProviderRoutes(
    provider: ProviderRoutes,
    integration: HttpLambdaIntegration,
    settings: RouteSettings,
  ): apigw.HttpRoute[] {
    const throttle = (rate: { rateLimit: number; burstLimit: number }) => ({
      ThrottlingRateLimit: rate.rateLimit,
      ThrottlingBurstLimit: rate.burstLimit,
    });
    // API Gateway picks the route that matches most exactly: a literal path over a path variable, and a
    // method over ANY, so these take the provider's POSTs and nothing else.
    const routes: apigw.HttpRoute[] = [];
    for (const path of [`/webhooks/${provider.name}`, `/webhooks/${provider.name}/{token}`]) {
      routes.push(...this.api.addRoutes({ path, methods: [apigw.HttpMethod.POST], integration }));
      settings[`POST ${path}`] = throttle(provider);
    }
    // An app's own route: a literal last segment, which API Gateway prefers to `{token}`, so that each app
    // has a rate of its own and one agency's flood takes nothing from another's.
    const apps = new Set<string>();
    for (const app of provider.apps ?? []) {
      if (!ROUTE_SEGMENT.test(app.name) || apps.has(app.name)) {
        throw new Error(
          `app ${JSON.stringify(app.name)} of ${provider.name} cannot have a route of its own: a name is one path segment, given once`,
        );
      }
      apps.add(app.name);
      const path = `/webhooks/${provider.name}/${app.name}`;
      routes.push(...this.api.addRoutes({ path, methods: [apigw.HttpMethod.POST], integration }));
      settings[`POST ${path}`] = throttle(app);
    }
    return routes;
  }

  /** The `$default` stage: the stage-wide throttle, and JSON access logs that name the route, never the path. */
  private addStage(props: ReceiverApiProps): apigw.HttpStage {
    return new apigw.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRateLimit, burstLimit: props.throttleBurstLimit },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            time: '$context.requestTime',
            ip: '$context.identity.sourceIp',
            apiId: '$context.apiId',
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

  /**
   * API Gateway publishes no count of the requests it throttled (they are among its 4xx): the access logs
   * give it, one per 429 line, by API so that two stacks in one account stay apart.
   */
  private countThrottled(): cw.Metric {
    new logs.MetricFilter(this, 'Throttled', {
      logGroup: this.accessLogs,
      filterPattern: logs.FilterPattern.stringValue('$.status', '=', '429'),
      metricNamespace: METRICS_NAMESPACE,
      metricName: THROTTLED_METRIC,
      metricValue: '1',
      dimensions: { ApiId: '$.apiId' },
      unit: cw.Unit.COUNT,
    });
    return new cw.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: THROTTLED_METRIC,
      dimensionsMap: { ApiId: this.api.apiId },
      statistic: cw.Stats.SUM,
      period: Duration.minutes(5),
    });
  }

  /** The base URL of the stage, without a trailing slash. */
  get url(): string {
    return this.api.apiEndpoint;
  }
}
