import { AwsJsonClient, type AwsJsonClientOptions, AwsServiceError } from './aws-json-client';
import type { AwsCredentials } from './signature-v4';

/**
 * Where Cognito user pools' API is reached, the way the AWS SDK finds it: `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER`
 * (the service id "Cognito Identity Provider", upper-cased, spaces as underscores), else `AWS_ENDPOINT_URL`, else
 * the region's `cognito-idp` endpoint. Both are ignored when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is `true`, as
 * the SDK ignores them.
 */
export function cognitoEndpoint(region: string, env: NodeJS.ProcessEnv = process.env): string {
  const ignored = env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() === 'true';
  const override = ignored
    ? undefined
    : env.AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER || env.AWS_ENDPOINT_URL || undefined;
  if (override) return override;
  const suffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://cognito-idp.${region}.${suffix}`;
}

// Cognito takes a user name of 1 to 128 characters, letters, marks, symbols, digits and punctuation only; the
// e-mail address is the user name here.
const MAX_USERNAME = 128;
const EMAIL = /^[^\s@,]+@[^\s@,.]+(?:\.[^\s@,.]+)+$/u;
const NOT_IN_A_USERNAME = /[\p{C}\p{Z}]/u;

/**
 * Checks that `text` can be a dashboard user's e-mail address: plausible rather than RFC 5322 (which the mail
 * server judges when Cognito sends the invitation): one `@`, a dotted domain, no space, comma or control or
 * formatting character, at most 128 characters. Every user the stack can have made from its `dashboardUsers`
 * setting passes (Cognito took the address as a user name), so each can be removed here.
 * @returns what it should be, or `undefined` when it is one.
 */
export function emailAddressProblem(text: string): string | undefined {
  if (text.length > MAX_USERNAME)
    return `an e-mail address of at most ${MAX_USERNAME} characters (Cognito's limit for a user name)`;
  return EMAIL.test(text) && !NOT_IN_A_USERNAME.test(text)
    ? undefined
    : 'an e-mail address such as name@example.com';
}

/** A user of a pool as `list` shows it. */
export interface PoolUser {
  /** The `email` attribute (the user name where a pool signs in by e-mail is an opaque id). */
  email: string;
  /** Cognito's status: `FORCE_CHANGE_PASSWORD` until the first sign-in, then `CONFIRMED`, ... */
  status: string;
  /** When the user was created, as an ISO 8601 instant. */
  created: string;
}

interface CognitoUser {
  Username?: string;
  Attributes?: { Name?: string; Value?: string }[];
  UserStatus?: string;
  UserCreateDate?: number;
}

/** Where and as whom a {@link CognitoUserPool} calls. */
export interface CognitoUserPoolOptions {
  region: string;
  userPoolId: string;
  /** Asked before each call, so temporary credentials are renewed as the SDK's providers renew them. */
  credentials: () => Promise<AwsCredentials>;
  env?: NodeJS.ProcessEnv;
  /** Per try (default 10 s: a person waits, across the internet). */
  timeoutMs?: number;
  transport?: AwsJsonClientOptions['transport'];
}

/**
 * The users of one Cognito user pool, administered with Cognito's JSON API (`AWSCognitoIdentityProviderService`,
 * `application/x-amz-json-1.1`, signed as `cognito-idp`): invite (`AdminCreateUser`), list (`ListUsers`), delete
 * (`AdminDeleteUser`). A user is named by e-mail address, which is the user name given to Cognito.
 */
export class CognitoUserPool {
  private current: AwsCredentials | undefined;
  private readonly reads: AwsJsonClient;
  private readonly writes: AwsJsonClient;
  private readonly endpoint: string;

  constructor(private readonly options: CognitoUserPoolOptions) {
    this.endpoint = cognitoEndpoint(options.region, options.env);
    const client = (maxAttempts: number) =>
      new AwsJsonClient({
        service: 'cognito-idp',
        region: options.region,
        endpoint: this.endpoint,
        targetPrefix: 'AWSCognitoIdentityProviderService',
        jsonVersion: '1.1',
        maxAttempts,
        timeoutMs: options.timeoutMs ?? 10_000,
        credentials: () => {
          if (!this.current) throw new Error('no AWS credentials were resolved before the call');
          return this.current;
        },
        ...(options.transport ? { transport: options.transport } : {}),
      });
    this.reads = client(3);
    // A create or delete whose answer was lost may have been done: tried again, it would be refused as a
    // duplicate or an unknown user and reported so, which would hide that it worked. Such a call is made once.
    this.writes = client(1);
  }

  /** @throws {AwsServiceError} as Cognito refused the call; an error naming the endpoint when none answered. */
  private async call<T>(client: AwsJsonClient, operation: string, input: object): Promise<T> {
    this.current = await this.options.credentials();
    try {
      return await client.call<T>(operation, { UserPoolId: this.options.userPoolId, ...input });
    } catch (error) {
      if (error instanceof AwsServiceError) throw error;
      throw new Error(
        `could not reach Cognito at ${this.endpoint} (${operation}): ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }

  /**
   * Creates the user with a verified `email` and has Cognito e-mail the invitation (a temporary password Cognito
   * generates, which never passes through here).
   * @returns `exists` when the pool has a user of that name already.
   */
  async createUser(email: string): Promise<'created' | 'exists'> {
    try {
      await this.call(this.writes, 'AdminCreateUser', {
        Username: email,
        UserAttributes: [
          { Name: 'email', Value: email },
          { Name: 'email_verified', Value: 'true' },
        ],
        DesiredDeliveryMediums: ['EMAIL'],
      });
      return 'created';
    } catch (error) {
      if (error instanceof AwsServiceError && error.code === 'UsernameExistsException') return 'exists';
      throw refused('AdminCreateUser', error);
    }
  }

  /** Every user of the pool, page by page (60 a page, `ListUsers`' most). */
  async listUsers(): Promise<PoolUser[]> {
    const users: PoolUser[] = [];
    let token: string | undefined;
    do {
      let page: { Users?: CognitoUser[]; PaginationToken?: string };
      try {
        page = await this.call(this.reads, 'ListUsers', {
          Limit: 60,
          ...(token ? { PaginationToken: token } : {}),
        });
      } catch (error) {
        throw refused('ListUsers', error);
      }
      for (const user of page.Users ?? []) users.push(poolUser(user));
      token = page.PaginationToken || undefined;
    } while (token);
    return users;
  }

  /** @returns `unknown` when the pool has no such user. */
  async deleteUser(email: string): Promise<'deleted' | 'unknown'> {
    try {
      await this.call(this.writes, 'AdminDeleteUser', { Username: email });
      return 'deleted';
    } catch (error) {
      if (error instanceof AwsServiceError && error.code === 'UserNotFoundException') return 'unknown';
      throw refused('AdminDeleteUser', error);
    }
  }
}

function poolUser(user: CognitoUser): PoolUser {
  const email = user.Attributes?.find((attribute) => attribute.Name === 'email')?.Value;
  return {
    email: email ?? user.Username ?? '',
    status: user.UserStatus ?? 'UNKNOWN',
    // Cognito's JSON protocol gives a timestamp as seconds since the epoch.
    created:
      typeof user.UserCreateDate === 'number' ? new Date(user.UserCreateDate * 1000).toISOString() : '',
  };
}

/** The service's refusal named by operation and code, in one line. */
function refused(operation: string, error: unknown): unknown {
  if (!(error instanceof AwsServiceError)) return error;
  // Cognito answers in JSON; an XML or HTML answer (an emulator's, a proxy's page) shows here only as its first
  // line, which says nothing.
  const message = error.message.startsWith('<') ? 'an answer that is not JSON' : error.message;
  return new Error(`Cognito refused ${operation}: ${error.code}: ${message}`, { cause: error });
}
