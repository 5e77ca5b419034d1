import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { CampaignInboxStack } from '../../infra/campaign-inbox-stack';
import { DEFAULT_CONFIG, type InboxConfig, readConfig } from '../../infra/config';
import { CampaignInbox } from '../../infra/constructs/campaign-inbox';
import { providerNames } from '../../lib/providers';

/** A resource of the template, as `Template.findResources` gives it. */
type Resource = ReturnType<Template['findResources']>[string];

/** Synthesizes without bundling (no esbuild run) and without the slow built-in CloudFormation validation. */
function synth(overrides: Partial<InboxConfig> = {}, stackName = 'Test') {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new CampaignInboxStack(app, stackName, { config: { ...DEFAULT_CONFIG, ...overrides } });
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  return { app, stack, template, resources };
}

const ofType = (resources: Record<string, Resource>, type: string) =>
  Object.entries(resources).filter(([, resource]) => resource.Type === type);

function only(resources: Record<string, Resource>, type: string): [string, Resource] {
  const found = ofType(resources, type);
  expect(found, type).toHaveLength(1);
  return found[0] as [string, Resource];
}

const routes = (resources: Record<string, Resource>) =>
  ofType(resources, 'AWS::ApiGatewayV2::Route').map(([, route]) => route.Properties);

/** The function a route's integration invokes, by logical id. */
function functionOf(resources: Record<string, Resource>, routeKey: string): string {
  const route = routes(resources).find((r) => r.RouteKey === routeKey);
  const integrationId = route?.Target['Fn::Join'][1][1].Ref;
  return resources[integrationId]?.Properties.IntegrationUri['Fn::GetAtt'][0];
}

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };
function statementsOfFunction(resources: Record<string, Resource>, functionId: string): Statement[] {
  const roleId = resources[functionId]?.Properties.Role['Fn::GetAtt'][0];
  return ofType(resources, 'AWS::IAM::Policy')
    .filter(([, policy]) => policy.Properties.Roles.some((role: { Ref: string }) => role.Ref === roleId))
    .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement as Statement[]);
}

/** Evaluates the intrinsic functions a domain prefix is built with, as CloudFormation would at deploy time. */
function evaluate(value: unknown, pseudo: Record<string, string>): string | string[] {
  if (typeof value === 'string') return value;
  const node = value as Resource;
  if ('Ref' in node) return pseudo[node.Ref] ?? `<${node.Ref}>`;
  if ('Fn::Join' in node) {
    const [separator, parts] = node['Fn::Join'];
    return (parts as unknown[]).map((part) => evaluate(part, pseudo)).join(separator);
  }
  if ('Fn::Split' in node) {
    const [separator, text] = node['Fn::Split'];
    return String(evaluate(text, pseudo)).split(separator);
  }
  if ('Fn::Select' in node) {
    const [index, list] = node['Fn::Select'];
    return (evaluate(list, pseudo) as string[])[index] as string;
  }
  throw new Error(`cannot evaluate ${JSON.stringify(value)}`);
}

const stackIdOf = (name: string, uuid: string) =>
  `arn:aws:cloudformation:eu-west-1:123456789012:stack/${name}/${uuid}`;

const WEBHOOK_ROUTES = [
  'ANY /webhooks/{provider}',
  'ANY /webhooks/{provider}/{token}',
  // Each served provider's own routes (test/infra/provider-routes.test.ts).
  ...providerNames().flatMap((name) => [`POST /webhooks/${name}`, `POST /webhooks/${name}/{token}`]),
];

describe('the campaign dashboard in the stack', () => {
  const { template, resources } = synth();
  const [poolId] = only(resources, 'AWS::Cognito::UserPool');
  const [clientId, client] = only(resources, 'AWS::Cognito::UserPoolClient');
  const [apiId] = only(resources, 'AWS::ApiGatewayV2::Api');
  const poolIssuer = { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [poolId, 'ProviderURL'] }]] };
  const pageUrl = { 'Fn::Join': ['', [{ 'Fn::GetAtt': [apiId, 'ApiEndpoint'] }, '/dashboard']] };

  it("routes every GET /api/ request through a JWT authorizer that trusts only the pool's tokens for the page's client", () => {
    const api = routes(resources).filter((route) => String(route.RouteKey).startsWith('GET /api/'));
    expect(api.map((route) => route.RouteKey)).toContain('GET /api/dashboard');
    for (const route of api) {
      expect(route.AuthorizationType, route.RouteKey).toBe('JWT');
      const authorizer = resources[route.AuthorizerId.Ref];
      expect(authorizer?.Properties).toMatchObject({
        AuthorizerType: 'JWT',
        IdentitySource: ['$request.header.Authorization'],
        JwtConfiguration: { Issuer: poolIssuer, Audience: [{ Ref: clientId }] },
      });
    }
  });

  it('leaves only the webhook routes and the page (GET /dashboard) open: no other route is reachable without a token', () => {
    const open = routes(resources)
      .filter((route) => route.AuthorizationType === 'NONE' || !route.AuthorizerId)
      .map((route) => route.RouteKey)
      .sort();
    expect(open).toEqual([...WEBHOOK_ROUTES, 'GET /dashboard'].sort());
    const dashboardRoutes = routes(resources).filter((route) => String(route.RouteKey).includes('dashboard'));
    expect(dashboardRoutes.map((route) => route.RouteKey).sort()).toEqual([
      'GET /api/dashboard',
      'GET /dashboard',
    ]);
  });

  it('serves the page and the figures from one function, which the webhook routes never reach', () => {
    const dashboard = functionOf(resources, 'GET /dashboard');
    expect(functionOf(resources, 'GET /api/dashboard')).toBe(dashboard);
    for (const webhook of WEBHOOK_ROUTES) expect(functionOf(resources, webhook)).not.toBe(dashboard);
    expect(resources[dashboard]?.Properties).toMatchObject({
      Architectures: ['arm64'],
      Runtime: 'nodejs24.x',
    });
    // API Gateway may invoke it on the two dashboard paths only.
    const sources = ofType(resources, 'AWS::Lambda::Permission')
      .filter(([, permission]) => permission.Properties.FunctionName['Fn::GetAtt'][0] === dashboard)
      .map(([, permission]) => permission.Properties.SourceArn['Fn::Join'][1].at(-1))
      .sort();
    expect(sources).toEqual(['/*/*/api/dashboard', '/*/*/dashboard']);
  });

  it("lets the page's public client use only the authorization code flow, back to the API's /dashboard", () => {
    expect(client.Properties).toMatchObject({
      AllowedOAuthFlows: ['code'],
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthScopes: ['openid', 'email'],
      CallbackURLs: [pageUrl],
      LogoutURLs: [pageUrl],
      GenerateSecret: false,
      SupportedIdentityProviders: ['COGNITO'],
      UserPoolId: { Ref: poolId },
    });
    expect(client.Properties.ExplicitAuthFlows).not.toContain('ALLOW_USER_PASSWORD_AUTH');
  });

  it('lets nobody sign up: admins create the users, who sign in by e-mail with a strong password and may add TOTP', () => {
    const [, pool] = only(resources, 'AWS::Cognito::UserPool');
    expect(pool.Properties).toMatchObject({
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      UsernameAttributes: ['email'],
      AutoVerifiedAttributes: ['email'],
      MfaConfiguration: 'OPTIONAL',
      EnabledMfas: ['SOFTWARE_TOKEN_MFA'],
      Policies: {
        PasswordPolicy: {
          MinimumLength: 12,
          RequireLowercase: true,
          RequireUppercase: true,
          RequireNumbers: true,
          RequireSymbols: true,
        },
      },
    });
    // The invitation tells the user where the dashboard is.
    expect(
      JSON.stringify(pool.Properties.AdminCreateUserConfig.InviteMessageTemplate.EmailMessage),
    ).toContain('/dashboard with the user name {username} and the temporary password {####}');
    // Kept when the stack is deleted, as the records table is.
    expect(pool.DeletionPolicy).toBe('Retain');
    template.hasResource('AWS::DynamoDB::GlobalTable', { DeletionPolicy: 'Retain' });
  });

  it('keeps a removed user out: one user per address in any case, no attribute a user may change, no sign-in but managed login, tokens of 15 minutes', () => {
    const { resources } = synth();
    const [, pool] = only(resources, 'AWS::Cognito::UserPool');
    expect(pool.Properties.UsernameConfiguration).toEqual({ CaseSensitive: false });
    expect(pool.Properties.UserAttributeUpdateSettings).toEqual({
      AttributesRequireVerificationBeforeUpdate: ['email'],
    });
    const [, client] = only(resources, 'AWS::Cognito::UserPoolClient');
    expect(client.Properties.WriteAttributes).toEqual([]);
    expect(client.Properties.ExplicitAuthFlows).toEqual(['ALLOW_REFRESH_TOKEN_AUTH']);
    expect(client.Properties).toMatchObject({
      AccessTokenValidity: 15,
      IdTokenValidity: 15,
      RefreshTokenValidity: 60,
      TokenValidityUnits: { AccessToken: 'minutes', IdToken: 'minutes', RefreshToken: 'minutes' },
    });
  });

  it("throttles the dashboard's routes below the stage's rate, so open dashboards never take the webhooks' share", () => {
    const { resources } = synth();
    const [id, stage] = only(resources, 'AWS::ApiGatewayV2::Stage');
    const settings = stage.Properties.RouteSettings as Record<string, { ThrottlingRateLimit: number }>;
    // Besides the webhook providers' own routes (test/infra/provider-routes.test.ts).
    const dashboard = Object.entries(settings).filter(([key]) => !key.startsWith('POST /webhooks/'));
    expect(dashboard.map(([key]) => key).sort()).toEqual(['GET /api/dashboard', 'GET /dashboard']);
    for (const [, route] of dashboard) {
      expect(route.ThrottlingRateLimit).toBeLessThan(DEFAULT_CONFIG.throttleRateLimit);
    }
    // CloudFormation makes the routes before the stage that names them.
    const routeIds = ofType(resources, 'AWS::ApiGatewayV2::Route')
      .filter(([, route]) => String(route.Properties.RouteKey).includes('dashboard'))
      .map(([routeId]) => routeId);
    expect(resources[id]?.DependsOn).toEqual(expect.arrayContaining(routeIds));
  });

  it('signs in on managed login under a domain prefix made from the stack: lower-case, at most 63 characters, different for each stack', () => {
    const name = 'Campaign-Inbox-For-Aws-Amazon-Cognito-Production-Europe-West-Team';
    const { resources: long } = synth({}, name);
    const [, domain] = only(long, 'AWS::Cognito::UserPoolDomain');
    expect(domain.Properties.ManagedLoginVersion).toBe(2);
    const prefix = (uuid: string) =>
      String(evaluate(domain.Properties.Domain, { 'AWS::StackId': stackIdOf(name, uuid) }));
    const first = prefix('51af3dc0-da77-11e4-872e-1234567db123');
    const second = prefix('8c5d2e10-3f4b-11ef-9a1b-0a1b2c3d4e5f');
    for (const value of [first, second]) {
      // Cognito's rules for a prefix: these characters, no leading or trailing hyphen, no reserved word.
      expect(value).toMatch(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/);
      expect(value).not.toMatch(/aws|amazon|cognito/);
    }
    expect(first.startsWith('campaign-inbox-for-')).toBe(true);
    expect(first.endsWith('-1234567db123')).toBe(true);
    expect(first).not.toBe(second);
    // Managed login shows a client's pages only once the client has a style.
    const [, style] = only(long, 'AWS::Cognito::ManagedLoginBranding');
    const [longClient] = only(long, 'AWS::Cognito::UserPoolClient');
    expect(style.Properties).toMatchObject({ ClientId: { Ref: longClient }, UseCognitoProvidedValues: true });
  });

  it("gives the dashboard function the table's layout, the token issuer and client and the managed login address", () => {
    const { resources: sharded } = synth({ shards: 4, recordRetentionDays: 30 });
    const [tableId] = only(sharded, 'AWS::DynamoDB::GlobalTable');
    const [shardedPool] = only(sharded, 'AWS::Cognito::UserPool');
    const [shardedClient] = only(sharded, 'AWS::Cognito::UserPoolClient');
    const [domainId] = only(sharded, 'AWS::Cognito::UserPoolDomain');
    const fn = sharded[functionOf(sharded, 'GET /api/dashboard')];
    expect(fn?.Properties.Environment.Variables).toEqual({
      TABLE_NAME: { Ref: tableId },
      SHARDS: '4',
      RECORD_RETENTION_DAYS: '30',
      TOKEN_ISSUER: { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [shardedPool, 'ProviderURL'] }]] },
      TOKEN_CLIENT_ID: { Ref: shardedClient },
      SIGN_IN_URL: {
        'Fn::Join': [
          '',
          ['https://', { Ref: domainId }, '.auth.', { Ref: 'AWS::Region' }, '.amazoncognito.com'],
        ],
      },
      POWERTOOLS_LOG_LEVEL: 'INFO',
      METRICS_NAMESPACE: 'CampaignInbox',
      RECEIVE_METRICS_SERVICE: 'receive-webhook',
      QUEUE_URL: { Ref: queueOf(sharded, false) },
      DLQ_URL: { Ref: queueOf(sharded, true) },
    });
  });

  it("allows the dashboard function only Query, GetItem and BatchGetItem on the table and Query on gsi3 (no write), metrics reads, and the queues' attributes", () => {
    const [tableId] = only(resources, 'AWS::DynamoDB::GlobalTable');
    const statements = statementsOfFunction(resources, functionOf(resources, 'GET /api/dashboard'));
    const table = { 'Fn::GetAtt': [tableId, 'Arn'] };
    const grants = statements
      .filter((statement) => !JSON.stringify(statement.Action).includes('logs:'))
      .flatMap((statement) =>
        [statement.Action].flat().map((action) => [action, JSON.stringify(statement.Resource)]),
      )
      .sort();
    expect(grants).toEqual(
      [
        ['dynamodb:BatchGetItem', JSON.stringify(table)],
        ['dynamodb:GetItem', JSON.stringify(table)],
        ['dynamodb:Query', JSON.stringify(table)],
        ['dynamodb:Query', JSON.stringify({ 'Fn::Join': ['', [table, '/index/gsi3']] })],
        ['cloudwatch:GetMetricData', '"*"'],
        [
          'sqs:GetQueueAttributes',
          JSON.stringify([
            { 'Fn::GetAtt': [queueOf(resources, false), 'Arn'] },
            { 'Fn::GetAtt': [queueOf(resources, true), 'Arn'] },
          ]),
        ],
      ].sort(),
    );
    for (const statement of statements) expect(statement.Effect).toBe('Allow');
    const logs = statements.filter((statement) => JSON.stringify(statement.Action).includes('logs:'));
    expect(logs.flatMap((statement) => [statement.Action].flat()).sort()).toEqual([
      'logs:CreateLogStream',
      'logs:PutLogEvents',
    ]);
  });

  it('outputs the campaign dashboard, its user pool and client, each described apart from the CloudWatch DashboardUrl', () => {
    const outputs = template.toJSON().Outputs;
    expect(outputs.CampaignDashboardUrl.Value).toEqual(pageUrl);
    expect(outputs.DashboardUserPoolId.Value).toEqual({ Ref: poolId });
    expect(outputs.DashboardUserPoolClientId.Value).toEqual({ Ref: clientId });
    expect(outputs.CampaignDashboardUrl.Description).toMatch(/campaign dashboard.*not the CloudWatch/);
    expect(outputs.DashboardUserPoolId.Description).toMatch(/user pool/);
    expect(outputs.DashboardUserPoolClientId.Description).toMatch(/app client/);
    expect(outputs.DashboardUrl.Description).toMatch(/CloudWatch operations dashboard.*CampaignDashboardUrl/);
    expect(JSON.stringify(outputs.DashboardUrl.Value)).toContain('cloudwatch');
  });
});

describe('dashboard users', () => {
  const users = (resources: Record<string, Resource>) =>
    ofType(resources, 'AWS::Cognito::UserPoolUser').map(
      ([id, user]) => ({ id, ...user.Properties }) as Resource,
    );

  it('creates one invited user with a verified e-mail per configured address, and none by default', () => {
    expect(users(synth().resources)).toEqual([]);
    const { resources } = synth({ dashboardUsers: ['ana@example.com', 'Ben.Lee@example.org'] });
    const [poolId] = only(resources, 'AWS::Cognito::UserPool');
    const created = users(resources);
    expect(created.map((user) => user.Username)).toEqual(['ana@example.com', 'Ben.Lee@example.org']);
    for (const user of created) {
      expect(user).toMatchObject({
        UserPoolId: { Ref: poolId },
        DesiredDeliveryMediums: ['EMAIL'],
        UserAttributes: [
          { Name: 'email', Value: user.Username },
          { Name: 'email_verified', Value: 'true' },
        ],
      });
    }
  });

  it("keeps the other users' resources when one address is taken off the list", () => {
    const before = users(synth({ dashboardUsers: ['ana@example.com', 'ben@example.org'] }).resources);
    const after = users(synth({ dashboardUsers: ['ben@example.org'] }).resources);
    expect(after).toEqual(before.filter((user) => user.Username === 'ben@example.org'));
  });

  it('reads dashboardUsers from context as comma-separated addresses (or a list in cdk.json)', () => {
    const context = (value: unknown) =>
      readConfig({ tryGetContext: (key: string) => (key === 'dashboardUsers' ? value : undefined) });
    expect(context('ana@example.com, ben@example.org').dashboardUsers).toEqual([
      'ana@example.com',
      'ben@example.org',
    ]);
    expect(context(['ana@example.com']).dashboardUsers).toEqual(['ana@example.com']);
    expect(context(undefined).dashboardUsers).toEqual([]);
    expect(context('').dashboardUsers).toEqual([]);
  });

  it.each([
    'ana',
    'ana@example',
    'ana smith@example.com',
    '@example.com',
    'ana@@example.com',
    `${'a'.repeat(120)}@example.com`,
  ])('refuses %j with an error naming dashboardUsers and the address', (email) => {
    const read = () =>
      readConfig({
        tryGetContext: (key: string) => (key === 'dashboardUsers' ? `ok@example.com,${email}` : undefined),
      });
    expect(read).toThrow(/context dashboardUsers must be comma-separated e-mail addresses/);
    expect(read).toThrow(JSON.stringify(email));
  });

  it('refuses an address listed twice, in any case (Cognito would refuse the second user at deploy)', () => {
    expect(() =>
      readConfig({
        tryGetContext: (key: string) =>
          key === 'dashboardUsers' ? 'ana@example.com,Ana@Example.com' : undefined,
      }),
    ).toThrow(/dashboardUsers lists "Ana@Example.com" twice/);
  });

  it('refuses an implausible address given to the construct as a prop, at synth', () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Theirs');
    expect(() => new CampaignInbox(stack, 'Inbox', { dashboardUsers: ['ana at example.com'] })).toThrow(
      'dashboardUsers',
    );
  });
});

describe('the campaign dashboard in a stack of its user', () => {
  it('adds, with addOutputs(), the dashboard outputs the dashboard-users command reads with --stack', () => {
    const app = new App({
      context: { 'aws:cdk:bundling-stacks': [] },
      builtinCloudFormationValidation: false,
    });
    const stack = new Stack(app, 'Theirs');
    new CampaignInbox(stack, 'Webhooks', { dashboardUsers: ['ana@example.com'] }).addOutputs();
    const outputs = Object.keys(Template.fromStack(stack).toJSON().Outputs ?? {});
    expect(outputs).toEqual(
      expect.arrayContaining(['CampaignDashboardUrl', 'DashboardUserPoolId', 'DashboardUserPoolClientId']),
    );
  });
});

describe('cdk-nag AwsSolutions with the dashboard', () => {
  it('reports no unacknowledged finding with dashboard users configured', () => {
    const { app, stack } = synth({ dashboardUsers: ['ana@example.com'] });
    const report = new AwsSolutionsChecks(app).validateScope(stack);
    expect(
      report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath)}`),
    ).toEqual([]);
  });

  it('acknowledges an open route for the page only: another route on the API without an authorizer is caught', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Control');
    const inbox = new CampaignInbox(stack, 'Inbox');
    new apigw.HttpRoute(stack, 'Open', {
      httpApi: inbox.api.api,
      routeKey: apigw.HttpRouteKey.with('/api/other', apigw.HttpMethod.GET),
      integration: new HttpLambdaIntegration('Other', inbox.dashboard.function.function),
    });
    const violations = new AwsSolutionsChecks(app).validateScope(stack).violations;
    expect(
      violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${r.constructPath}`)),
    ).toEqual(['AwsSolutions-APIG4 Control/Open/Resource']);
  });
});

/** The logical id of the events queue, or of its dead-letter queue (the one no other queue redrives to). */
function queueOf(resources: Record<string, Resource>, deadLetter: boolean) {
  const queues = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::SQS::Queue');
  const main = queues.find(([, r]) => r.Properties.RedrivePolicy !== undefined);
  const found = deadLetter ? queues.find(([id]) => id !== main?.[0]) : main;
  if (!found) throw new Error('no such queue in the template');
  return found[0];
}
