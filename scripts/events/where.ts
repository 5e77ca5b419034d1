// The one set of options every table-reading command takes to say where the data is.
import type { TargetFlags } from '../local-target';

/** The flags that name where the data is. */
export const WHERE = ['stack', 'endpoint', 'table', 'region'];

/** Their usage, shown under every command's. */
export const WHERE_USAGE = `Where the data is:
  --stack <name>       the deployed stack (tables and queues from its outputs)
  --endpoint <url>     DynamoDB endpoint (env EVENTS_ENDPOINT); default: the local stack on DATA_DIR
  --table <name>       records table (env EVENTS_TABLE)
  --region <name>      the AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, else your AWS profile's)`;

/** The parsed flags' part that says where the data is. */
export const where = (values: TargetFlags): TargetFlags => ({
  endpoint: values.endpoint,
  table: values.table,
  stack: values.stack,
  region: values.region,
});
