// What a running local stack leaves in DATA_DIR for the command-line tools, kept apart from the stack itself so
// the tools (and the CLI bundle) read it without loading the local servers.
import type { TableLayout } from '../lib/table/records-table';

export const LOCAL_TABLE_NAME = 'campaign-inbox-records';
/** Written to `DATA_DIR` while the stack runs, so `npm run events` and `npm run send` find it. */
export const STACK_FILE = 'local-stack.json';

/** Where a running local stack can be reached; the content of `DATA_DIR/local-stack.json`. */
export interface LocalStackInfo {
  pid: number;
  webhookUrl: string;
  /** Every provider's URL, ready to paste (URL tokens included). */
  webhookUrls: Record<string, string>;
  dynamodbEndpoint: string;
  sqsEndpoint: string;
  tableName: string;
  queueUrl: string;
  dlqUrl: string;
  layout: TableLayout;
}

/** SDK clients for the local servers: fixed dummy credentials, so real ones are never sent anywhere. */
export function localClientConfig(endpoint: string) {
  return { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
}
