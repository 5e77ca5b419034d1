import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type Deadline, withinTime } from '../aws/deadline';

/**
 * Where raw bodies too large to travel in a queue message and sit in a DynamoDB item go: the message and the
 * record carry a reference instead (`s3://bucket/key`, or `file://key` locally).
 */
export interface RawStore {
  /**
   * Stores the bytes under a key made of the provider and their hash (a retry overwrites with the same bytes),
   * by `deadline` when one is given (a store that can wait on a remote service does not start after it).
   */
  put(provider: string, raw: Uint8Array, deadline?: Deadline): Promise<string>;
}

/** Raw bodies at or under this size travel inline; larger ones go to the raw store. */
export const INLINE_RAW_BYTES = 96 * 1024;

const keyOf = (provider: string, raw: Uint8Array) =>
  `raw/${provider}/${createHash('sha256').update(raw).digest('hex')}`;

/**
 * How long one S3 put may take: the receive function has 4 s, and a failed put is a 503 SORI retries. It is
 * enforced by aborting the request, as the SDK's own `requestTimeout` only logs a warning in recent versions.
 */
export const S3_PUT_LIMIT_MS = 2_500;

/**
 * Raw bodies in S3 (the deployed stack's bucket: encrypted, TLS only, expiring with the records). The S3 client
 * is loaded on first use, so the receive function's cold start does not pay for it until a large body comes.
 */
export class S3RawStore implements RawStore {
  private client: Promise<{ client: S3Client; PutObjectCommand: typeof PutObjectCommand }> | undefined;

  constructor(
    private readonly bucket: string,
    private readonly makeClient: (s3: typeof import('@aws-sdk/client-s3')) => S3Client = (s3) =>
      // One try: the time limit is the put's (see S3_PUT_LIMIT_MS), a slow connection's a part of it.
      new s3.S3Client({ maxAttempts: 1, requestHandler: { connectionTimeout: 1_000 } }),
  ) {}

  /**
   * Loading the client and the put together take at most {@link S3_PUT_LIMIT_MS}, and end by the deadline.
   * @throws when S3 did not take the body in that time, or without a request when the deadline had passed.
   */
  async put(provider: string, raw: Uint8Array, deadline?: Deadline): Promise<string> {
    const key = keyOf(provider, raw);
    await withinTime(S3_PUT_LIMIT_MS, deadline, async (abortSignal) => {
      this.client ??= import('@aws-sdk/client-s3').then((s3) => ({
        client: this.makeClient(s3),
        PutObjectCommand: s3.PutObjectCommand,
      }));
      const { client, PutObjectCommand: Put } = await this.client;
      if (abortSignal.aborted) return;
      await client.send(new Put({ Bucket: this.bucket, Key: key, Body: raw }), { abortSignal });
    });
    return `s3://${this.bucket}/${key}`;
  }
}

/**
 * Reads back a raw body a reference points to: `file://<key>` under `fileRoot` (the local stack's `DATA_DIR`),
 * `s3://<bucket>/<key>` through S3.
 * @throws when the reference is of another kind, or the body cannot be read.
 */
export async function readRawRef(
  ref: string,
  options: { fileRoot?: string | undefined } = {},
): Promise<Buffer> {
  if (ref.startsWith('file://')) {
    if (!options.fileRoot)
      throw new Error(`${ref} is a local file: it can be read only where the local stack runs`);
    const { readFile } = await import('node:fs/promises');
    return readFile(join(options.fileRoot, ref.slice('file://'.length)));
  }
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(ref);
  if (!match) throw new Error(`unknown raw body reference ${ref}`);
  const s3 = await import('@aws-sdk/client-s3');
  const client = new s3.S3Client({});
  try {
    const object = await client.send(new s3.GetObjectCommand({ Bucket: match[1], Key: match[2] }));
    return Buffer.from((await object.Body?.transformToByteArray()) ?? new Uint8Array());
  } finally {
    client.destroy();
  }
}
