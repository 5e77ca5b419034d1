/**
 * DynamoDB Streams' API (`DescribeStream`, `GetShardIterator`, `GetRecords`) over its JSON protocol, signed with
 * the AWS SDK's own Signature Version 4 signer (this project has no Streams client): what Lambda's poller calls
 * with the reaction function's role. Calls go to `endpoint` (the proxy in front of moto), whose `Host` the
 * signature covers.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { type AwsKey, MOTO_REGION } from './iam';

/** The SDK signer's hash: SHA-256, keyed (HMAC) when given a secret. */
type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: SourceData) =>
  typeof data === 'string'
    ? data
    : ArrayBuffer.isView(data)
      ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data);

class Sha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

export interface StreamRecord {
  eventID: string;
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  eventSource: string;
  eventVersion: string;
  awsRegion: string;
  dynamodb: {
    Keys: Record<string, unknown>;
    NewImage?: Record<string, Record<string, unknown>>;
    SequenceNumber: string;
    StreamViewType: string;
  };
}

/** A client of DynamoDB Streams for one key. */
export function streamsClient(endpoint: string, key: AwsKey) {
  const signer = new SignatureV4({
    service: 'dynamodb',
    region: MOTO_REGION,
    credentials: key,
    sha256: Sha256,
  });
  const url = new URL(endpoint);
  async function call<T>(action: string, input: object): Promise<T> {
    const body = JSON.stringify(input);
    const signed = await signer.sign({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      query: {},
      headers: {
        host: url.host,
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `DynamoDBStreams_20120810.${action}`,
      },
      body,
    });
    const answer = await fetch(new URL('/', url), {
      method: 'POST',
      headers: signed.headers as Record<string, string>,
      body,
    });
    const text = await answer.text();
    if (!answer.ok)
      throw new Error(`DynamoDB Streams ${action} answered ${answer.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  }
  return {
    /** A shard iterator of the stream's one shard (a new table's stream has one) at `position`. */
    async iterator(streamArn: string, position: 'LATEST' | 'TRIM_HORIZON'): Promise<string> {
      const { StreamDescription } = await call<{ StreamDescription: { Shards: { ShardId: string }[] } }>(
        'DescribeStream',
        { StreamArn: streamArn },
      );
      const shards = StreamDescription.Shards;
      if (shards.length !== 1) throw new Error(`the stream has ${shards.length} shards, expected 1`);
      const { ShardIterator } = await call<{ ShardIterator: string }>('GetShardIterator', {
        StreamArn: streamArn,
        ShardId: shards[0]?.ShardId,
        ShardIteratorType: position,
      });
      return ShardIterator;
    },
    /** Every record from `iterator` on, until a read returns none; and the iterator to read on from. */
    async readAll(iterator: string): Promise<{ records: StreamRecord[]; next: string }> {
      const records: StreamRecord[] = [];
      let next = iterator;
      for (;;) {
        const page = await call<{ Records: StreamRecord[]; NextShardIterator: string }>('GetRecords', {
          ShardIterator: next,
          Limit: 1000,
        });
        next = page.NextShardIterator;
        if (page.Records.length === 0) return { records, next };
        records.push(...page.Records);
      }
    },
  };
}
