import { Aws, CfnRule, Fn, Stack, Token, Validations } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

export interface WebhookFirewallProps {
  /** The HTTP API the distribution forwards to. */
  api: apigw.HttpApi;
  /** Requests one IP address may make in 5 minutes; past it, AWS WAF answers 429 until its rate falls back. */
  rateLimit: number;
}

/** AWS WAF keeps the web ACLs of CloudFront distributions in this Region only. */
export const CLOUDFRONT_WAF_REGION = 'us-east-1';
/** The window AWS WAF counts a rate-based rule's requests over, seconds (its default). */
const RATE_WINDOW_SECONDS = 300;

/**
 * AWS WAF in front of the webhook API. An HTTP API cannot take a web ACL itself, so a CloudFront distribution
 * forwards every request to it unchanged (no caching; every header, the query string and the body's bytes as
 * sent, only the Host header set to the API's own) and carries a web ACL with one rate-based rule: an IP address
 * over `rateLimit` requests in 5 minutes is answered 429 at the edge, before API Gateway counts it against any
 * route's throttle.
 *
 * A web ACL for CloudFront can only be made in us-east-1, so the stack that holds this must be deployed there:
 * synthesis fails when the stack's Region is known and is another one, and CloudFormation refuses the template
 * before creating anything when it is not known until deployment. One stack keeps one `cdk deploy` and no
 * cross-Region custom resources (which would also hold an export a later update could not change).
 *
 * Costs, at list prices, once deployed: $5 a month for the web ACL and $1 for its rule, $0.60 per million
 * requests WAF inspects; CloudFront has no monthly fee, and bills its requests (from $1.00 per million HTTPS
 * requests, beyond its always-free 10 million a month) and the bytes it sends back (answers here are tiny).
 */
export class WebhookFirewall extends Construct {
  readonly webAcl: wafv2.CfnWebACL;
  readonly distribution: cloudfront.Distribution;

  constructor(scope: Construct, id: string, props: WebhookFirewallProps) {
    super(scope, id);
    this.requireUsEast1();
    this.webAcl = this.addWebAcl(props.rateLimit);
    this.distribution = this.addDistribution(props.api);
    acknowledgeDistributionFindings(this.distribution);
  }

  /** CloudFront's web ACLs exist in us-east-1 only: refused at synth when the Region is known, else at deploy. */
  private requireUsEast1(): void {
    const stack = Stack.of(this);
    if (!Token.isUnresolved(stack.region) && stack.region !== CLOUDFRONT_WAF_REGION) {
      throw new Error(
        `wafRateLimit puts AWS WAF in front of the API through CloudFront, whose web ACLs exist in ${CLOUDFRONT_WAF_REGION} only: deploy this stack to ${CLOUDFRONT_WAF_REGION} (it is in ${stack.region}), or leave wafRateLimit unset`,
      );
    }
    if (Token.isUnresolved(stack.region)) {
      new CfnRule(this, 'InUsEast1', {
        assertions: [
          {
            assert: Fn.conditionEquals(Aws.REGION, CLOUDFRONT_WAF_REGION),
            assertDescription: `wafRateLimit needs the stack in ${CLOUDFRONT_WAF_REGION}: AWS WAF keeps the web ACLs of CloudFront distributions there only`,
          },
        ],
      });
    }
  }

  /** One rate-based rule: too many requests from one IP address in the window are answered 429. */
  private addWebAcl(rateLimit: number): wafv2.CfnWebACL {
    return new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'CLOUDFRONT',
      description: 'campaign-inbox webhooks: requests per IP address',
      defaultAction: { allow: {} },
      visibilityConfig: {
        cloudWatchMetricsEnabled: true,
        metricName: 'campaign-inbox-webhooks',
        sampledRequestsEnabled: true,
      },
      rules: [
        {
          name: 'RequestsPerIp',
          priority: 0,
          statement: {
            rateBasedStatement: {
              limit: rateLimit,
              aggregateKeyType: 'IP',
              evaluationWindowSec: RATE_WINDOW_SECONDS,
            },
          },
          // 429, as API Gateway's own throttle answers: a sender retries it as it retries that one.
          action: { block: { customResponse: { responseCode: 429 } } },
          visibilityConfig: {
            cloudWatchMetricsEnabled: true,
            metricName: 'campaign-inbox-requests-per-ip',
            sampledRequestsEnabled: true,
          },
        },
      ],
    });
  }

  private addDistribution(api: apigw.IHttpApi): cloudfront.Distribution {
    // The API's host name: its endpoint is `https://<id>.execute-api.<region>.amazonaws.com`.
    const apiDomain = Fn.select(2, Fn.split('/', api.apiEndpoint));
    return new cloudfront.Distribution(this, 'Distribution', {
      comment: 'campaign-inbox webhooks behind AWS WAF',
      defaultBehavior: {
        origin: new origins.HttpOrigin(apiDomain, {
          protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
          originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
        }),
        allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
        // A redirect would turn a POST into a GET without its body: plain HTTP is refused instead.
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
        cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
        // API Gateway finds the API by its own host name; everything else the sender sent goes through.
        originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      },
      webAclId: this.webAcl.attrArn,
    });
  }

  /** The distribution's base URL, `https://<id>.cloudfront.net`, without a trailing slash. */
  get url(): string {
    return `https://${this.distribution.distributionDomainName}`;
  }
}

/** The findings a distribution in front of webhooks accepts, with the reason next to each. */
function acknowledgeDistributionFindings(distribution: cloudfront.Distribution): void {
  Validations.of(distribution).acknowledge({
    id: 'AwsSolutions-CFR1',
    reason:
      'No geographic restriction: webhook senders deliver from their own cloud Regions, which may change without notice; the rate-based rule limits every address instead.',
  });
  Validations.of(distribution).acknowledge({
    id: 'AwsSolutions-CFR3',
    reason:
      "No CloudFront access logs: every request that reaches the API is in the stage's JSON access logs, and WAF's metrics and sampled requests show what the rule blocked; a log bucket would cost more than the webhooks.",
  });
  Validations.of(distribution).acknowledge({
    id: 'AwsSolutions-CFR4',
    reason:
      'The distribution answers on its own cloudfront.net name, whose certificate and viewer TLS policy CloudFront sets: an oldest TLS version can only be chosen with a custom domain and a certificate of its own. The hop from CloudFront to the API is TLS 1.2 only.',
  });
}
