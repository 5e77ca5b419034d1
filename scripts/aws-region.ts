// The AWS region of the tools' requests: a deployed stack lives in one region, and the SDK refuses to sign a
// request without one ("Region is missing"), which tells a user nothing about where to give it.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { UsageError } from './entry';

// The SDK warns on stderr on every client it makes under Node 20: the tools' messages are one line each.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** What a tool says when no region is set anywhere it looks. */
export const NO_REGION =
  'no AWS region: pass --region <name> or set AWS_REGION, or give your AWS profile a region';

/**
 * The region the SDK's own chain finds (`AWS_REGION`, then the `region` of the shared config file's profile,
 * `AWS_PROFILE` or `default`), or `undefined` when it finds none.
 */
async function sdkRegion(): Promise<string | undefined> {
  const probe = new DynamoDBClient({});
  try {
    return await probe.config.region();
  } catch {
    return undefined;
  } finally {
    probe.destroy();
  }
}

/**
 * The region to reach AWS in, as the AWS CLI picks it: `--region` (`flag`), else `AWS_REGION`, else
 * `AWS_DEFAULT_REGION` (which the SDK for JavaScript does not read itself), else the profile's region. It is
 * also set as `AWS_REGION` for the rest of the process, so that every client made further on (reading a raw
 * body from the stack's bucket, for one) works in the same region.
 * @returns the region, or `undefined` when none is set.
 */
export async function findRegion(flag?: string): Promise<string | undefined> {
  const region =
    flag || process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || (await sdkRegion()) || undefined;
  if (region) process.env.AWS_REGION = region;
  return region;
}

/** {@link findRegion}, for a request that can only go to AWS. @throws a usage error naming the settings when none is set. */
export async function requireRegion(flag?: string): Promise<string> {
  const region = await findRegion(flag);
  if (!region) throw new UsageError(NO_REGION);
  return region;
}
