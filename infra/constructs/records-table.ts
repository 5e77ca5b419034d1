import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { PROJECTED_ATTRIBUTES, RECORDS_TABLE, TTL_ATTRIBUTE } from '../../lib/table/records-table';

/**
 * The records table, with the keys and indexes `lib/table/records-table.ts` defines (one schema for AWS,
 * the local stack and the tests): on-demand, point-in-time recovery, deletion protection, kept when the stack
 * is deleted, TTL on `expires_at`.
 */
export class RecordsTable extends Construct {
  readonly table: dynamodb.TableV2;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const string = (name: string) => ({ name, type: dynamodb.AttributeType.STRING });
    this.table = new dynamodb.TableV2(this, 'Table', {
      partitionKey: string(RECORDS_TABLE.partitionKey),
      sortKey: string(RECORDS_TABLE.sortKey),
      billing: dynamodb.Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      timeToLiveAttribute: TTL_ATTRIBUTE,
      encryption: dynamodb.TableEncryptionV2.awsManagedKey(),
      // New items as they were written, for reactions (`CampaignInbox.onEvent`): enabling a stream costs nothing,
      // and Lambda reads it for free. A conditional put that finds a duplicate writes nothing, so it is not in it.
      dynamoStream: dynamodb.StreamViewType.NEW_IMAGE,
      globalSecondaryIndexes: Object.values(RECORDS_TABLE.indexes).map((index) => ({
        indexName: index.name,
        partitionKey: string(index.partitionKey),
        sortKey: string(index.sortKey),
        projectionType: dynamodb.ProjectionType.INCLUDE,
        nonKeyAttributes: PROJECTED_ATTRIBUTES,
      })),
    });
  }
}
