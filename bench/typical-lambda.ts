// The baseline receive function as a Lambda entry point, for the cold-start comparison.
import { SQSClient } from '@aws-sdk/client-sqs';
import { createTypicalHandler } from './typical-receive';

export const handler = createTypicalHandler(
  new SQSClient({}),
  process.env.QUEUE_URL ?? '',
  process.env.SORI_SECRET_KEY ?? '',
);
