/**
 * What a synthesized template grants each function's role, as IAM policy statements with their references to the
 * stack's resources resolved to the resources made for them in moto; and the policy an IAM user in moto must
 * carry for moto to judge the same calls.
 */
import { MOTO_ACCOUNT, MOTO_REGION, type PolicyDocument, type PolicyStatement } from './iam';

export type Resource = { Type: string; Properties: Record<string, unknown> };
export type Resources = Record<string, Resource>;

/** A resource made in moto for one of the template's: what `Ref` and `Fn::GetAtt` give for it. */
export interface Physical {
  ref: string;
  attributes: Record<string, string>;
}

/**
 * A template value with its intrinsic functions (`Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Select` of an `Fn::Split`
 * or a list) resolved against the resources made in moto and the pseudo parameters of moto's account and region.
 * The stack's own pseudo parameters (`AWS::StackId`, `AWS::StackName`) differ from one deployment to the next:
 * they are entries of `physical`, as its resources are.
 * @throws for a reference to a resource not made in moto, or a function not resolved here.
 */
export function resolveValue(value: unknown, physical: Record<string, Physical>): string {
  if (typeof value === 'string') return value;
  const object = (value ?? {}) as Record<string, unknown>;
  if ('Ref' in object) {
    const id = String(object.Ref);
    const pseudo: Record<string, string> = {
      'AWS::Region': MOTO_REGION,
      'AWS::AccountId': MOTO_ACCOUNT,
      'AWS::Partition': 'aws',
      'AWS::URLSuffix': 'amazonaws.com',
    };
    const found = pseudo[id] ?? physical[id]?.ref;
    if (found === undefined) throw new Error(`no resource in moto for {"Ref":"${id}"}`);
    return found;
  }
  if ('Fn::GetAtt' in object) {
    const [id, attribute] = object['Fn::GetAtt'] as [string, string];
    const found = physical[id]?.attributes[attribute];
    if (found === undefined) throw new Error(`no resource in moto for ${id}.${attribute}`);
    return found;
  }
  if ('Fn::Join' in object) {
    const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
    return parts.map((part) => resolveValue(part, physical)).join(separator);
  }
  if ('Fn::Select' in object) {
    const [index, list] = object['Fn::Select'] as [number | string, unknown];
    const items = resolveList(list, physical);
    const found = items[Number(index)];
    // CloudFormation refuses an index past the list's end rather than give an empty string.
    if (found === undefined) throw new Error(`Fn::Select of item ${index} in a list of ${items.length}`);
    return found;
  }
  throw new Error(`a template value not resolved here: ${JSON.stringify(value)}`);
}

/** A template list: a list of values, or `Fn::Split` of one. */
function resolveList(value: unknown, physical: Record<string, Physical>): string[] {
  if (Array.isArray(value)) return value.map((item) => resolveValue(item, physical));
  const object = (value ?? {}) as Record<string, unknown>;
  if ('Fn::Split' in object) {
    const [separator, source] = object['Fn::Split'] as [string, unknown];
    return resolveValue(source, physical).split(separator);
  }
  throw new Error(`a template list not resolved here: ${JSON.stringify(value)}`);
}

const isIntrinsic = (object: object) => {
  const keys = Object.keys(object);
  return keys.length === 1 && (keys[0] === 'Ref' || String(keys[0]).startsWith('Fn::'));
};

/**
 * A resource's properties as the template gives them, every intrinsic function in them, at any depth, resolved
 * by {@link resolveValue}.
 */
export function resolveProperties(value: unknown, physical: Record<string, Physical>): unknown {
  if (Array.isArray(value)) return value.map((item) => resolveProperties(item, physical));
  if (value === null || typeof value !== 'object') return value;
  if (isIntrinsic(value)) return resolveValue(value, physical);
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key, resolveProperties(item, physical)]),
  );
}

/** The logical ids of a function of the template and of its role. */
export function functionOf(resources: Resources, idPrefix: string): { functionId: string; roleId: string } {
  const entry = Object.entries(resources).find(
    ([id, resource]) => resource.Type === 'AWS::Lambda::Function' && id.startsWith(idPrefix),
  );
  if (!entry) throw new Error(`no function ${idPrefix} in the template`);
  const role = (entry[1].Properties.Role as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt']?.[0];
  if (!role) throw new Error(`${entry[0]}'s role is not one of the template's`);
  return { functionId: entry[0], roleId: role };
}

type TemplateStatement = { Effect: string; Action: unknown; Resource?: unknown; Condition?: unknown };

/**
 * Every statement the template gives a role: those of the `AWS::IAM::Policy` resources attached to it and of the
 * role's own inline policies, as written (references unresolved).
 * @throws when the role has a managed policy (its statements are not in the template) or a statement this
 *   reading does not handle (a condition, a `NotAction`, a `NotResource`).
 */
export function templateStatements(resources: Resources, roleId: string): TemplateStatement[] {
  const role = resources[roleId];
  if (role?.Type !== 'AWS::IAM::Role') throw new Error(`${roleId} is not a role of the template`);
  if (role.Properties.ManagedPolicyArns) {
    throw new Error(`${roleId} has managed policies, whose statements the template does not hold`);
  }
  const documents = [
    ...((role.Properties.Policies as { PolicyDocument: unknown }[] | undefined) ?? []).map(
      (p) => p.PolicyDocument,
    ),
    ...Object.values(resources)
      .filter(
        (resource) =>
          resource.Type === 'AWS::IAM::Policy' &&
          (resource.Properties.Roles as { Ref?: string }[] | undefined)?.some((ref) => ref.Ref === roleId),
      )
      .map((resource) => resource.Properties.PolicyDocument),
  ] as { Statement: TemplateStatement[] }[];
  const statements = documents.flatMap((document) => document.Statement);
  for (const statement of statements) {
    const keys = Object.keys(statement).filter(
      (key) => !['Effect', 'Action', 'Resource', 'Sid'].includes(key),
    );
    if (keys.length > 0) throw new Error(`a statement of ${roleId} has ${keys.join(', ')}, not read here`);
  }
  return statements;
}

const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);

/** A role's statements with every resource reference resolved to moto's resources. */
export function resolvedStatements(
  statements: TemplateStatement[],
  physical: Record<string, Physical>,
): PolicyStatement[] {
  return statements.map((statement) => ({
    Effect: statement.Effect as 'Allow' | 'Deny',
    Action: list(statement.Action).map(String),
    Resource: list(statement.Resource ?? '*').map((resource) => resolveValue(resource, physical)),
  }));
}

/**
 * Services whose calls moto authorizes against no resource (it asks its policy engine about `*`): a statement
 * naming a table, a stream, a secret, a stack or a user pool never matches there, so moto's copy of it names `*`,
 * and {@link resourceDenial} checks the resource in moto's place. Cognito user pools are among them: IAM scopes
 * an administrator's call such as `AdminCreateUser` to the pool it names, moto only to the action.
 */
export const UNSCOPED_IN_MOTO = ['dynamodb', 'secretsmanager', 'cloudformation', 'cognito-idp'] as const;

const serviceOf = (action: string) => action.split(':')[0] ?? '';
const unscoped = (action: string) => (UNSCOPED_IN_MOTO as readonly string[]).includes(serviceOf(action));

/**
 * IAM authorizes each batch call of SQS with its single action (`ChangeMessageVisibilityBatch` needs
 * `sqs:ChangeMessageVisibility`); moto asks its policy engine about an action named after the operation
 * (`sqs:ChangeMessageVisibilityBatch`), which AWS has not. The batch names moto asks for, by the action AWS checks.
 */
const MOTO_BATCH_ACTIONS: Record<string, string> = {
  'sqs:ChangeMessageVisibility': 'sqs:ChangeMessageVisibilityBatch',
  'sqs:DeleteMessage': 'sqs:DeleteMessageBatch',
  'sqs:SendMessage': 'sqs:SendMessageBatch',
};

/**
 * The policy an IAM user in moto carries for a role: its statements as they are, except that the actions of
 * {@link UNSCOPED_IN_MOTO} services go in statements of their own with the resource `*`, and an SQS action that
 * allows a batch call in AWS also names that call as moto names it ({@link MOTO_BATCH_ACTIONS}).
 */
export function motoPolicy(statements: PolicyStatement[]): PolicyDocument {
  const out: PolicyStatement[] = [];
  for (const statement of statements) {
    const actions = list(statement.Action)
      .map(String)
      .flatMap((action) => {
        const batch = MOTO_BATCH_ACTIONS[action];
        // moto's IAM names CloudWatch's actions by the service's endpoint prefix, `monitoring:`.
        const monitoring = action.startsWith('cloudwatch:')
          ? `monitoring:${action.slice('cloudwatch:'.length)}`
          : undefined;
        return [action, ...(batch ? [batch] : []), ...(monitoring ? [monitoring] : [])];
      });
    const scoped = actions.filter((action) => !unscoped(action));
    const widened = actions.filter(unscoped);
    if (scoped.length > 0) out.push({ ...statement, Action: scoped });
    if (widened.length > 0) out.push({ ...statement, Action: widened, Resource: '*' });
  }
  return { Version: '2012-10-17', Statement: out };
}

const matches = (pattern: string, value: string) =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  ).test(value);

/**
 * The resources a call of an {@link UNSCOPED_IN_MOTO} service acts on, as IAM names them: the table (or its index)
 * of a DynamoDB call, every table of a batch, the stream of a DynamoDB Streams call, the secret of a Secrets
 * Manager call, the stack of a CloudFormation call, the user pool of a Cognito call.
 * @returns `undefined` for a service moto authorizes with the resource itself (SQS, S3).
 * @throws for a call whose resource is not read here.
 */
export function resourcesOfCall(
  service: string,
  action: string,
  input: Record<string, unknown>,
): string[] | undefined {
  const table = (name: unknown) => `arn:aws:dynamodb:${MOTO_REGION}:${MOTO_ACCOUNT}:table/${String(name)}`;
  if (service === 'dynamodb') {
    // DynamoDB Streams signs as `dynamodb`; its calls act on a stream. moto's shard iterators are the stream's ARN,
    // `|1|`, then random bytes, so a `GetRecords` names its stream (AWS's iterators are opaque, the resource the
    // same).
    if (typeof input.StreamArn === 'string') return [input.StreamArn];
    if (typeof input.ShardIterator === 'string') return [input.ShardIterator.split('|')[0] ?? ''];
    if (action === 'ListStreams') return ['*'];
    if (input.RequestItems) return Object.keys(input.RequestItems as object).map(table);
    if (typeof input.TableName !== 'string') throw new Error(`no table named in dynamodb:${action}`);
    return [
      input.IndexName ? `${table(input.TableName)}/index/${String(input.IndexName)}` : table(input.TableName),
    ];
  }
  if (service === 'secretsmanager') {
    const id = String(input.SecretId ?? '');
    if (!id.startsWith('arn:')) throw new Error(`secretsmanager:${action} names its secret by name (${id})`);
    return [id];
  }
  if (service === 'cognito-idp') {
    // An administrator's call names its pool by id; IAM checks it against the pool's ARN.
    if (typeof input.UserPoolId !== 'string') throw new Error(`no user pool named in cognito-idp:${action}`);
    return [`arn:aws:cognito-idp:${MOTO_REGION}:${MOTO_ACCOUNT}:userpool/${input.UserPoolId}`];
  }
  if (service === 'cloudformation') {
    // A stack named by its name stands for every stack of that name (its id is the ARN's last part).
    const stack = String(input.StackName ?? '');
    if (!stack) throw new Error(`no stack named in cloudformation:${action}`);
    return [
      stack.startsWith('arn:')
        ? stack
        : `arn:aws:cloudformation:${MOTO_REGION}:${MOTO_ACCOUNT}:stack/${stack}/*`,
    ];
  }
  return undefined;
}

/**
 * The resource half of IAM's decision, for a call moto takes on its action alone: why IAM would refuse
 * `service:action` on `resources` to a user with `statements` although a statement allows the action (an explicit
 * deny, or no allow for one of the resources). `undefined` when IAM would allow it, and when no statement allows
 * the action at all: moto refuses that call itself.
 */
export function resourceDenial(
  statements: PolicyStatement[],
  service: string,
  action: string,
  resources: string[],
): string | undefined {
  const name = `${service}:${action}`;
  const forAction = (statement: PolicyStatement) =>
    list(statement.Action).some((pattern) => matches(String(pattern), name));
  const applies = (statement: PolicyStatement, resource: string) =>
    forAction(statement) && list(statement.Resource).some((pattern) => matches(String(pattern), resource));
  if (!statements.some((s) => s.Effect === 'Allow' && forAction(s))) return undefined;
  for (const resource of resources) {
    if (statements.some((s) => s.Effect === 'Deny' && applies(s, resource))) {
      return `an explicit deny of ${name} on resource: ${resource}`;
    }
    if (!statements.some((s) => s.Effect === 'Allow' && applies(s, resource))) {
      return `no identity-based policy allows ${name} on resource: ${resource}`;
    }
  }
  return undefined;
}
