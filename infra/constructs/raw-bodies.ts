import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface RawBodiesProps {
  /** Days a raw body is kept, as its record (0: for ever). */
  retentionDays: number;
}

/**
 * Where raw bodies too large for a queue message and a DynamoDB item go (Ad Reform's screenshot sets): private,
 * encrypted, TLS only, expiring with the records, kept when the stack is deleted.
 */
export class RawBodies extends Construct {
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: RawBodiesProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules:
        props.retentionDays > 0 ? [{ prefix: 'raw/', expiration: Duration.days(props.retentionDays) }] : [],
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Only the receive function writes here (s3:PutObject on raw/*) and nothing reads but operators; CloudTrail records the API calls, and a log bucket would cost more than the bodies.',
    });
  }
}
