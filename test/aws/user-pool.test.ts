/**
 * The stack's Cognito resources as `deployToMoto` makes them in moto: the user pool, its page client and its
 * managed login domain, each from the template's properties with their references resolved, and the dashboard
 * function's environment resolved to them as CloudFormation resolves it. The other tests sign in to this pool
 * (`dashboard.test.ts`); these hold the deployment to the template.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsServiceError } from '../../lib/aws/aws-json-client';
import { uniqueName } from '../support/local-aws';
import { MOTO_ACCOUNT, MOTO_REGION } from './support/iam';
import { moto } from './support/moto';
import { type Deployment, deployToMoto } from './support/stack';

let stack: Deployment;
beforeAll(async () => {
  stack = await deployToMoto();
});
afterAll(() => stack?.close());

const cognito = <T>(operation: string, input: unknown) => moto().cognito.call<T>(operation, input);
const ofType = (type: string) =>
  Object.entries(stack.resources).filter(([, resource]) => resource.Type === type);

describe("the stack's user pool in moto", () => {
  it('is made from the template: e-mail sign-in, users created by admins only, its password policy (enforced by moto), optional authenticator-app MFA, its domain', async () => {
    expect(ofType('AWS::Cognito::UserPool')).toHaveLength(1);
    const { UserPool } = await cognito<{ UserPool: Record<string, unknown> }>('DescribeUserPool', {
      UserPoolId: stack.names.userPoolId,
    });
    expect(UserPool).toMatchObject({
      Id: stack.names.userPoolId,
      Arn: `arn:aws:cognito-idp:${MOTO_REGION}:${MOTO_ACCOUNT}:userpool/${stack.names.userPoolId}`,
      UsernameAttributes: ['email'],
      AutoVerifiedAttributes: ['email'],
      AdminCreateUserConfig: {
        AllowAdminCreateUserOnly: true,
        InviteMessageTemplate: {
          // The invitation names the page, at the stand-in API's endpoint.
          EmailMessage: expect.stringMatching(
            /^You can now sign in to the campaign dashboard at https:\/\/\w+\.execute-api\.[a-z0-9-]+\.amazonaws\.com\/dashboard /,
          ),
        },
      },
      Policies: { PasswordPolicy: expect.objectContaining({ MinimumLength: 12, RequireSymbols: true }) },
      MfaConfiguration: 'OPTIONAL',
      Domain: stack.names.userPoolDomain,
    });
    const { SoftwareTokenMfaConfiguration } = await cognito<{
      SoftwareTokenMfaConfiguration?: { Enabled: boolean };
    }>('GetUserPoolMfaConfig', { UserPoolId: stack.names.userPoolId });
    expect(SoftwareTokenMfaConfiguration).toEqual({ Enabled: true });

    // moto's own default would take an 11-character password; the template's policy asks for 12.
    const email = `${uniqueName('policy')}@example.com`;
    await cognito('AdminCreateUser', {
      UserPoolId: stack.names.userPoolId,
      Username: email,
      MessageAction: 'SUPPRESS',
      UserAttributes: [{ Name: 'email', Value: email }],
    });
    const set = (Password: string) =>
      cognito('AdminSetUserPassword', {
        UserPoolId: stack.names.userPoolId,
        Username: email,
        Password,
        Permanent: true,
      });
    const short = await set('Short-Pass1').catch((error: unknown) => error);
    expect(short).toBeInstanceOf(AwsServiceError);
    expect((short as AwsServiceError).code).toBe('InvalidPasswordException');
    await expect(set('Twelve-Pass1')).resolves.toBeDefined();
  });

  it("has the template's page client: public (no secret), its sign-in flows, code grant with openid and email, returning to the page", async () => {
    const { UserPoolClient } = await cognito<{ UserPoolClient: Record<string, unknown> }>(
      'DescribeUserPoolClient',
      { UserPoolId: stack.names.userPoolId, ClientId: stack.names.userPoolClientId },
    );
    expect(UserPoolClient.ClientSecret).toBeUndefined();
    expect(UserPoolClient).toMatchObject({
      ExplicitAuthFlows: ['ALLOW_REFRESH_TOKEN_AUTH'],
      AllowedOAuthFlows: ['code'],
      AllowedOAuthScopes: ['openid', 'email'],
      CallbackURLs: [expect.stringMatching(/^https:\/\/\w+\.execute-api\..*\/dashboard$/)],
      SupportedIdentityProviders: ['COGNITO'],
    });
  });

  it("gives the dashboard function the environment CloudFormation would: the pool's issuer, its client's id, the domain's sign-in address, the table", () => {
    const { environment } = stack.functions.dashboard;
    expect(environment).toMatchObject({
      TOKEN_ISSUER: `https://cognito-idp.${MOTO_REGION}.amazonaws.com/${stack.names.userPoolId}`,
      TOKEN_CLIENT_ID: stack.names.userPoolClientId,
      SIGN_IN_URL: `https://${stack.names.userPoolDomain}.auth.${MOTO_REGION}.amazoncognito.com`,
      TABLE_NAME: stack.names.tableName,
    });
    // The prefix as the construct builds it: the stack's name, a hash, and the last 12 hex digits of the
    // stack id's UUID (new for each stack CloudFormation creates).
    const stackId = stack.physical['AWS::StackId']?.ref ?? '';
    expect(stackId).toMatch(/^arn:aws:cloudformation:[^:]+:\d{12}:stack\/[^/]+\/[0-9a-f-]{36}$/);
    expect(stack.names.userPoolDomain).toMatch(
      new RegExp(`^conformancetest-[0-9a-f]{6}-${stackId.slice(-12)}$`),
    );
  });
});
