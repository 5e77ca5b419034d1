import { Stack, Validations } from 'aws-cdk-lib';
import type { CfnBucket } from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';

/** The parts of the inbox whose findings are acknowledged (the construct itself among them, by its scope). */
export interface AcknowledgedParts extends IConstruct {
  api: IConstruct;
  receiveFunction: { role: IConstruct };
  processFunction: { role: IConstruct };
  repairFunction: { role: IConstruct };
  rawBodies: IConstruct & { bucket: IConstruct };
  queue: { deadLetterQueue: IConstruct };
  signingSecret: IConstruct;
  dashboard: { pageRoute: IConstruct; userPool: IConstruct };
  monitoring: { topic: IConstruct | undefined };
}

/** Each cdk-nag AwsSolutions finding this design accepts, with the reason next to it. */
export function acknowledgeFindings(inbox: AcknowledgedParts): void {
  Validations.of(inbox.api).acknowledge({
    id: 'AwsSolutions-APIG4',
    reason:
      'HTTP API authorizers cannot see the body; every request is authenticated in the receive function by an HMAC over the raw body (or a secret URL token compared in constant time).',
  });
  Validations.of(inbox.receiveFunction.role).acknowledge({
    id: 'AwsSolutions-IAM5',
    reason:
      "Two wildcards, both on names made at run time: logs:CreateLogStream/PutLogEvents on the function's own log group (log-group:<name>:*), and s3:PutObject under raw/ in the raw-bodies bucket (raw/<provider>/<sha256>).",
  });
  // cdk-nag names this finding after the bucket's logical id, which depends on where the construct sits.
  const stack = Stack.of(inbox);
  const bucketId = stack.resolve(stack.getLogicalId(inbox.rawBodies.bucket.node.defaultChild as CfnBucket));
  Validations.of(inbox.receiveFunction.role).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/raw/*]`,
    reason:
      's3:PutObject under raw/ only: raw bodies are written as raw/<provider>/<sha256>, names made when a body arrives.',
  });
  for (const fn of [inbox.processFunction, inbox.repairFunction]) {
    Validations.of(fn.role).acknowledge({
      id: 'AwsSolutions-IAM5',
      reason:
        "logs:CreateLogStream/PutLogEvents on the function's own log group; its streams are created at run time, hence log-group:<name>:*.",
    });
  }
  Validations.of(inbox.rawBodies).acknowledge({
    id: 'AwsSolutions-S1',
    reason:
      'Only the receive function writes here (s3:PutObject on raw/*) and nothing reads but operators; CloudTrail records the API calls, and a log bucket would cost more than the bodies.',
  });
  Validations.of(inbox.queue.deadLetterQueue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason: 'This queue is the dead-letter queue.',
  });
  Validations.of(inbox.signingSecret).acknowledge({
    id: 'AwsSolutions-SMG4',
    reason:
      'The secret_key is issued by SORI, not by AWS: it is rotated in SORI Console and put here with npm run set-secret, which keeps the previous one valid.',
  });
  Validations.of(inbox.dashboard.pageRoute).acknowledge({
    id: 'AwsSolutions-APIG4',
    reason:
      'GET /dashboard serves the page only: HTML and the public sign-in settings (the managed login address and the public client id), no figures. It must be open, since sign-in starts there and managed login returns to it with the code; the figures are on GET /api/dashboard, behind the JWT authorizer.',
  });
  Validations.of(inbox.dashboard.userPool).acknowledge({
    id: 'AwsSolutions-COG2',
    reason:
      'MFA is optional, by an authenticator app (TOTP): each user may turn it on. Required, it would make every invited campaign manager enrol a device before seeing read-only campaign figures; nobody can sign up, so only invited addresses have an account, each with a password of at least 12 characters mixing lower- and upper-case letters, digits and symbols.',
  });
  Validations.of(inbox.dashboard.userPool).acknowledge({
    id: 'AwsSolutions-COG8',
    reason:
      'Plus adds threat protection (compromised-credential and risk-based checks) at a price per monthly active user with no free tier. The pool holds only invited users (no sign-up) guarding read-only figures; Essentials, which managed login needs, has its first 10,000 monthly active users free, so an idle stack costs nothing.',
  });
  if (inbox.monitoring.topic) {
    Validations.of(inbox.monitoring.topic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        'Alarm notifications carry no event data; CloudWatch cannot publish to a topic under the AWS-managed SNS key, and a customer key would cost more than the whole pipeline at low volume.',
    });
  }
}
