/**
 * The run's `moto_server` (see ../global-setup.ts): its administrator's SDK clients, and IAM users.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { inject } from 'vitest';
import { AwsJsonClient } from '../../../lib/aws/aws-json-client';
import { type AwsKey, iam, MOTO_REGION, type PolicyDocument, readTag } from './iam';

/** The run's moto server, and its administrator (allowed everything). */
export function moto() {
  const endpoint = inject('motoEndpoint');
  const admin = inject('motoAdmin');
  const config = { region: MOTO_REGION, endpoint, credentials: admin };
  return {
    endpoint,
    admin,
    dynamodb: new DynamoDBClient(config),
    sqs: new SQSClient(config),
    s3: new S3Client({ ...config, forcePathStyle: true }),
    secrets: new SecretsManagerClient(config),
    /** Cognito user pools' API (the project has no SDK client for it: its own JSON client signs the calls). */
    cognito: new AwsJsonClient({
      service: 'cognito-idp',
      region: MOTO_REGION,
      endpoint,
      targetPrefix: 'AWSCognitoIdentityProviderService',
      jsonVersion: '1.1',
      credentials: () => admin,
      maxAttempts: 1,
      timeoutMs: 10_000,
    }),
    /** Creates an IAM user with `policy` as its one inline policy, and its access key. */
    async createUser(name: string, policy: PolicyDocument): Promise<AwsKey> {
      await iam(endpoint, admin, 'CreateUser', { UserName: name });
      await this.putPolicy(name, policy);
      const created = await iam(endpoint, admin, 'CreateAccessKey', { UserName: name });
      return {
        accessKeyId: readTag(created, 'AccessKeyId'),
        secretAccessKey: readTag(created, 'SecretAccessKey'),
      };
    },
    /** Replaces a user's inline policy: moto applies it from the next call on. */
    async putPolicy(name: string, policy: PolicyDocument): Promise<void> {
      await iam(endpoint, admin, 'PutUserPolicy', {
        UserName: name,
        PolicyName: 'role',
        PolicyDocument: JSON.stringify(policy),
      });
    },
  };
}
