import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { iamCall, MOTO_REGION } from './support/iam';
import { moto } from './support/moto';

describe("moto's request authentication, on for the whole suite", () => {
  it("takes calls signed with the administrator's key, and refuses a wrong secret and keys no user has (the one moto's first calls were signed with included)", async () => {
    const aws = moto();
    expect((await aws.dynamodb.send(new ListTablesCommand({}))).TableNames).toBeInstanceOf(Array);

    const wrongSecret = new SQSClient({
      region: MOTO_REGION,
      endpoint: aws.endpoint,
      credentials: { ...aws.admin, secretAccessKey: `${aws.admin.secretAccessKey}x` },
      maxAttempts: 1,
    });
    await expect(wrongSecret.send(new ListQueuesCommand({}))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 403 },
    });
    const unknownKey = new DynamoDBClient({
      region: MOTO_REGION,
      endpoint: aws.endpoint,
      credentials: { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'unknown' },
      maxAttempts: 1,
    });
    await expect(unknownKey.send(new ListTablesCommand({}))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 403 },
    });
    // The key moto's first calls were signed with, before its authentication started, belongs to no user.
    const setupKey = await iamCall(aws.endpoint, undefined, 'ListUsers');
    expect(setupKey.status).toBe(403);
    expect(setupKey.body).toContain('InvalidClientTokenId');
  });
});
