import { createHash } from 'node:crypto';
import { Duration, Fn, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { dashboardVariables } from '../../functions/campaign-dashboard/config';
import { definedVariables } from '../../lib/config';
import { METRICS_NAMESPACE, RECEIVE_SERVICE } from '../../lib/metrics';
import { readSignalThresholds } from '../../lib/signals/thresholds';
import { RECORDS_TABLE } from '../../lib/table/records-table';
import { checkDashboardUsers } from '../config';
import { NodeFunction } from './node-function';
import type { ReceiverApi } from './receiver-api';
import type { RecordsTable } from './records-table';

export interface CampaignDashboardProps {
  /** The HTTP API the webhooks arrive on; the dashboard's two routes are added to it. */
  api: ReceiverApi;
  records: RecordsTable;
  /** E-mail addresses to create users for (Cognito mails each an invitation with a temporary password). */
  users: readonly string[];
  shards: number;
  recordRetentionDays: number;
  logRetentionDays: number;
  /** The events queue: the page shows the age of its oldest message (none without it). */
  queue?: sqs.IQueue;
  /** The dead-letter queue: the page counts its messages (no count without it). */
  deadLetterQueue?: sqs.IQueue;
  /** The providers the receive function serves, whose refusals are shown one by one; all when empty or absent. */
  providers?: readonly string[];
  /** The providers added by configuration (checked), which the function serves besides the built-in ones. */
  customProviders?: readonly unknown[];
  /** The fraud and quality signals' thresholds by variable name (see `readSignalThresholds`); unset: defaults. */
  signals?: Readonly<Record<string, number | string>>;
}

/** Cognito's limit on a domain prefix (`<prefix>.auth.<region>.amazoncognito.com`). */
const MAX_DOMAIN_PREFIX = 63;
/** What the dashboard reads: the counter items and a day's newest events, and the day listing on `gsi3`. */
const READ_ACTIONS = ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:BatchGetItem'];
/** An HTTP API waits at most 30 s for its integration: a longer run would go on, billed, for nobody. */
const DASHBOARD_TIMEOUT = Duration.seconds(29);

/**
 * The campaign dashboard, served by the stack itself behind sign-in: `GET /dashboard` (the page, which holds no
 * data and signs the user in with Cognito's managed login, authorization code + PKCE) and `GET /api/dashboard`
 * (the figures, behind a JWT authorizer that accepts only tokens the pool signed for the page's client; the
 * function checks the token again itself, an access token only). Users are created from the `users` prop and by
 * `campaign-inbox dashboard-users add`; nobody can sign up.
 *
 * Idle, it costs nothing: the user pool bills monthly active users (the Essentials plan's first 10,000 a month
 * are free), a Lambda function and HTTP API routes bill only requests, and managed login has no charge of its
 * own.
 */
export class CampaignDashboard extends Construct {
  readonly userPool: cognito.UserPool;
  readonly domain: cognito.UserPoolDomain;
  readonly client: cognito.UserPoolClient;
  readonly function: NodeFunction;
  /** `GET /dashboard`, the page: public, it holds no data. */
  readonly pageRoute: apigw.HttpRoute;
  /** `GET /api/dashboard`, the figures: a valid access token of the pool's client only. */
  readonly dataRoute: apigw.HttpRoute;
  /** The page's address, `<api endpoint>/dashboard`: where managed login sends the user back to. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: CampaignDashboardProps) {
    super(scope, id);
    const users = checkDashboardUsers(props.users);
    this.url = `${props.api.url}/dashboard`;
    this.userPool = this.addUserPool();
    this.domain = this.userPool.addDomain('SignIn', {
      cognitoDomain: { domainPrefix: domainPrefix(this) },
      managedLoginVersion: cognito.ManagedLoginVersion.NEWER_MANAGED_LOGIN,
    });
    this.client = this.addPageClient();
    this.addUsers(users);
    const issuer = `https://${this.userPool.userPoolProviderUrl}`;
    this.function = this.addFunction(props, issuer);
    this.grantReads(props);
    const routes = this.addRoutes(props.api, issuer);
    this.pageRoute = routes.page;
    this.dataRoute = routes.data;
    this.acknowledgeFindings();
  }

  private addUserPool(): cognito.UserPool {
    return new cognito.UserPool(this, 'Users', {
      // Admins create users (the prop, the CLI); a sign-up form would let anyone read the figures.
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      // `Ana@x.com` and `ana@x.com` are one user, whom `dashboard-users remove` finds however it is typed (Cognito
      // fixes this when the pool is made).
      signInCaseSensitive: false,
      autoVerify: { email: true },
      // A changed address takes effect only once verified: a user cannot move to an address the lists do not
      // know (the client lets no user write attributes anyway).
      keepOriginal: { email: true },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      // Managed login (the newer pages) needs Essentials or Plus; Essentials' first 10,000 monthly active users
      // are free, Plus has no free tier.
      featurePlan: cognito.FeaturePlan.ESSENTIALS,
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(7),
      },
      // Each user may add an authenticator app; SMS would bill per message and needs an SNS origination setup.
      mfa: cognito.Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      userInvitation: {
        emailSubject: 'Your sign-in to the campaign dashboard',
        emailBody: `You can now sign in to the campaign dashboard at ${this.url} with the user name {username} and the temporary password {####}; you choose your own password at the first sign-in.`,
      },
      // Kept when the stack is deleted, as the records table is.
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /** The findings of the sign-in and the open page this design accepts, with the reason next to each. */
  private acknowledgeFindings(): void {
    Validations.of(this.pageRoute).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'GET /dashboard serves the page only: HTML and the public sign-in settings (the managed login address and the public client id), no figures. It must be open, since sign-in starts there and managed login returns to it with the code; the figures are on GET /api/dashboard, behind the JWT authorizer.',
    });
    Validations.of(this.userPool).acknowledge({
      id: 'AwsSolutions-COG2',
      reason:
        'MFA is optional, by an authenticator app (TOTP): each user may turn it on. Required, it would make every invited campaign manager enrol a device before seeing read-only campaign figures; nobody can sign up, so only invited addresses have an account, each with a password of at least 12 characters mixing lower- and upper-case letters, digits and symbols.',
    });
    Validations.of(this.userPool).acknowledge({
      id: 'AwsSolutions-COG8',
      reason:
        'Plus adds threat protection (compromised-credential and risk-based checks) at a price per monthly active user with no free tier. The pool holds only invited users (no sign-up) guarding read-only figures; Essentials, which managed login needs, has its first 10,000 monthly active users free, so an idle stack costs nothing.',
    });
  }

  private addPageClient(): cognito.UserPoolClient {
    const client = this.userPool.addClient('Page', {
      // A page in a browser cannot keep a secret: a public client, which proves itself with PKCE instead.
      generateSecret: false,
      // Sign-in on managed login only: no direct API sign-in, whose tokens could change the user's attributes.
      authFlows: { userSrp: false },
      writeAttributes: new cognito.ClientAttributes(),
      // Short-lived tokens: a removed user's token stops working within 15 minutes; managed login's own session
      // signs a user still there in again without a password. The page keeps no refresh token.
      accessTokenValidity: Duration.minutes(15),
      idTokenValidity: Duration.minutes(15),
      refreshTokenValidity: Duration.minutes(60),
      oAuth: {
        flows: { authorizationCodeGrant: true, implicitCodeGrant: false, clientCredentials: false },
        scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL],
        callbackUrls: [this.url],
        logoutUrls: [this.url],
      },
      supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
    });
    // Managed login renders a client's pages only once the client has a style; Cognito's own is enough.
    new cognito.CfnManagedLoginBranding(this, 'SignInStyle', {
      userPoolId: this.userPool.userPoolId,
      clientId: client.userPoolClientId,
      useCognitoProvidedValues: true,
    });
    return client;
  }

  /** Each address keyed by its own hash, so removing one from the list leaves the others' users in place. */
  private addUsers(users: readonly string[]): void {
    for (const email of users) {
      new cognito.CfnUserPoolUser(this, `User${hash(email.toLowerCase())}`, {
        userPoolId: this.userPool.userPoolId,
        username: email,
        userAttributes: [
          { name: 'email', value: email },
          // The address is the one the invitation goes to: verified, so the user can reset a password by it.
          { name: 'email_verified', value: 'true' },
        ],
        desiredDeliveryMediums: ['EMAIL'],
      });
    }
  }

  private addFunction(props: CampaignDashboardProps, issuer: string): NodeFunction {
    return new NodeFunction(this, 'Function', {
      name: 'campaign-dashboard',
      timeout: DASHBOARD_TIMEOUT,
      logRetentionDays: props.logRetentionDays,
      environment: definedVariables(
        dashboardVariables({
          table: {
            tableName: props.records.table.tableName,
            shards: props.shards,
            recordRetentionDays: props.recordRetentionDays,
          },
          tokenIssuer: issuer,
          tokenClientId: this.client.userPoolClientId,
          signInUrl: this.domain.baseUrl(),
          // Delivery health: the receive function's refusal metrics, and the queues now.
          health: {
            namespace: METRICS_NAMESPACE,
            service: RECEIVE_SERVICE,
            queueUrl: props.queue?.queueUrl,
            dlqUrl: props.deadLetterQueue?.queueUrl,
          },
          providers: { customProviders: props.customProviders ?? [], served: props.providers ?? [] },
          ...(props.signals ? { signals: readSignalThresholds(props.signals) } : {}),
        }),
      ),
    });
  }

  /** Reads only: the table's items and day listing, the refusal counts, and the queues' message counts. */
  private grantReads(props: CampaignDashboardProps): void {
    // Reads only: the table's items, and the listing of a type's events by day.
    this.function.role.addToPolicy(
      new iam.PolicyStatement({ actions: READ_ACTIONS, resources: [props.records.table.tableArn] }),
    );
    this.function.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [`${props.records.table.tableArn}/index/${RECORDS_TABLE.indexes.byTypeAndDay.name}`],
      }),
    );
    // Refusals per day and SQS's age of the oldest message. IAM has no resource for GetMetricData: it reads
    // any namespace, which holds counts only, never an event.
    this.function.role.addToPolicy(
      new iam.PolicyStatement({ actions: ['cloudwatch:GetMetricData'], resources: ['*'] }),
    );
    Validations.of(this.function.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'cloudwatch:GetMetricData has no resource type in IAM, so it cannot be scoped: the dashboard reads the refusal counts and the queue age with it, metrics that hold counts only.',
    });
    // The queues' message counts, and nothing else of them: no receive, no delete.
    const queues = [props.queue, props.deadLetterQueue].filter((queue) => queue !== undefined);
    if (queues.length > 0) {
      this.function.role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['sqs:GetQueueAttributes'],
          resources: queues.map((queue) => queue.queueArn),
        }),
      );
    }
  }

  private addRoutes(api: ReceiverApi, issuer: string): { page: apigw.HttpRoute; data: apigw.HttpRoute } {
    const integration = new HttpLambdaIntegration('Dashboard', this.function.function, {
      payloadFormatVersion: apigw.PayloadFormatVersion.VERSION_2_0,
    });
    const get = (path: string) => apigw.HttpRouteKey.with(path, apigw.HttpMethod.GET);
    // Their own throttles, below the stage's, so that open dashboards (one request every 2 s each) and requests
    // for the public page never take the webhooks' share of it.
    const stage = api.stage.node.defaultChild as apigw.CfnStage;
    stage.routeSettings = {
      ...(stage.routeSettings as Record<string, unknown> | undefined),
      'GET /dashboard': { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 },
      'GET /api/dashboard': { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 },
    };
    const page = new apigw.HttpRoute(this, 'PageRoute', {
      httpApi: api.api,
      routeKey: get('/dashboard'),
      integration,
    });
    const data = new apigw.HttpRoute(this, 'DataRoute', {
      httpApi: api.api,
      routeKey: get('/api/dashboard'),
      integration,
      // API Gateway checks the signature against the pool's keys, the issuer, expiry and that `aud` (ID token)
      // or `client_id` (access token) is the page's client.
      authorizer: new HttpJwtAuthorizer('DashboardAuthorizer', issuer, {
        jwtAudience: [this.client.userPoolClientId],
      }),
    });
    // The stage names the routes in its settings: CloudFormation must make them first.
    stage.node.addDependency(page, data);
    return { page, data };
  }
}

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);

/**
 * `<stack name>-<construct hash>-<stack id tail>`, lower-case, at most 63 characters. A prefix is taken for
 * every account in the region, so the stack's name alone could already be someone else's: the last 12 hex digits
 * of the UUID in the stack's id (made by CloudFormation when it creates the stack, so resolved at deploy time)
 * set it apart from every other stack, and a hash of the construct's path keeps two dashboards in one stack
 * apart. Cognito refuses a prefix holding "aws", "amazon" or "cognito", so those are taken out of the name.
 */
function domainPrefix(scope: Construct): string {
  const stack = Stack.of(scope);
  const stackName = Token.isUnresolved(stack.stackName) ? 'campaign-inbox' : stack.stackName;
  const tail = Fn.select(4, Fn.split('-', Fn.select(2, Fn.split('/', stack.stackId))));
  const suffix = `-${hash(scope.node.path).slice(0, 6)}-`;
  const room = MAX_DOMAIN_PREFIX - suffix.length - 12;
  let name = stackName.toLowerCase();
  // Taking a word out can join two halves into another ("aawsws"): again until none is left.
  for (let before = ''; before !== name; ) {
    before = name;
    name = name.replace(/aws|amazon|cognito/g, '');
  }
  name =
    name
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, room)
      .replace(/-+$/, '') || 'dashboard';
  return `${name}${suffix}${tail}`;
}
