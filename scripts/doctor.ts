import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  CloudFormationClient,
  paginateListStackResources,
  type StackResourceSummary,
} from '@aws-sdk/client-cloudformation';
import { type AttributeValue, DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { CampaignCounters } from '../lib/ingest/campaign-counters';
import { findProvider } from '../lib/providers';
import { CampaignStats, toCampaignDayStats } from '../lib/queries/campaign-stats';
import { RecordsRepository } from '../lib/queries/records-repository';
import { credentialsOf, parseSigningSecretDocument } from '../lib/signature/signing-secrets';
import { signBody } from '../lib/signature/verify-signature';
import { deviceReachPartitionKey } from '../lib/table/device-reach';
import {
  counterItemKey,
  counterKeyOf,
  deviceMarkerItem,
  eventSortKey,
  placementOf,
  RECORDS_TABLE,
  type StoredEvent,
  shardOf,
} from '../lib/table/records-table';
import { requireRegion } from './aws-region';
import { invocation, isEntry, reportFailure, runAsEntry, UsageError } from './entry';
import { dataDir, findRunningStack, localSecret } from './local-stack-file';
import {
  noLocalStack,
  type QueueTarget,
  resolveQueueTarget,
  resolveTableTarget,
  type TableTarget,
} from './local-target';
import { readStackOutputs, requireOutput } from './stack-outputs';
import { forTerminal } from './terminal-text';

/** The campaign every test delivery belongs to: nothing a provider sends is named so, and cleanup keys on it. */
export const DOCTOR_CAMPAIGN = 'campaign-inbox-doctor';
const PROVIDER = 'sori';

const usage = () => `Usage: ${invocation('doctor')} [--stack <name>] [options]

Checks a stack end to end: signs a test delivery (a SORI campaign.impression of campaign
${DOCTOR_CAMPAIGN}) with the stack's own secret, posts it to the webhook URL, waits until the record is
stored and counted, checks the dead-letter queue is empty and the alarms exist, then deletes the test
record, its device marker and its counter, so no view counts it. One line per check on stdout, progress on
stderr.

  --stack <name>      the deployed stack (webhook URL, secret, table and queues from its outputs)
  --region <name>     its AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, else your AWS profile's)
  --url <url>         webhook URL (default: the local stack's SORI URL on DATA_DIR)
  --endpoint <url>    DynamoDB endpoint (env EVENTS_ENDPOINT); default: the local stack's
  --table <name>      records table (env EVENTS_TABLE)
  --secret <key>      SORI secret_key to sign with (default: the stack's, or the local dev secret)
  --wait <seconds>    how long to wait for the record to be stored and counted (default 60)

Without --stack it checks the local stack running on DATA_DIR (default ./.data), which has no alarms.
A reaction the stack runs on new events (onEvent) sees the test delivery too: its campaign id is
${DOCTOR_CAMPAIGN}, its activity id starts with doctor-.
Exit codes: 0 every check passed, 1 a check failed, 2 usage error.
`;

/** Where the checks go: a deployed stack's resources, or the local stack's (or named) ones. */
interface Target {
  /** How the user names this target to the other commands (`--stack X`, or nothing for the local stack). */
  flags: string;
  stack?: string | undefined;
  region?: string | undefined;
  webhookUrl: string;
  secret: () => Promise<string>;
  table: TableTarget;
  queues?: QueueTarget | undefined;
}

type Outcome = 'ok' | 'FAIL' | 'skip';

/** A check that failed; its message says what failed and what to do next, in one line. */
class CheckFailed extends Error {}

function line(outcome: Outcome, text: string): void {
  process.stdout.write(`${outcome.padEnd(4)} ${text}\n`);
}

const progress = (text: string) => process.stderr.write(`doctor: ${text}\n`);

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The test delivery: a SORI impression whose campaign, activity and device ids say it is a doctor test. */
function testDelivery(now = new Date()) {
  const run = randomUUID();
  const createdAt = now.toISOString();
  const body = JSON.stringify({
    event: 'campaign.impression',
    account_id: 'campaign-inbox-doctor',
    created_at: createdAt,
    activity_id: `doctor-${run}`,
    device_id: `campaign-inbox-doctor-${run}`,
    platform: 'campaign-inbox-doctor',
    metadata: { doctor: true },
    geolocation: null,
    campaign: { id: DOCTOR_CAMPAIGN, name: 'campaign-inbox doctor test', tags: ['doctor'], image: null },
    material: { id: 'campaign-inbox-doctor', name: 'campaign-inbox doctor test', tags: [], image: null },
    timestamp: createdAt,
  });
  return { body, activityId: `doctor-${run}`, day: createdAt.slice(0, 10) };
}

async function stackTarget(stack: string, regionFlag: string | undefined): Promise<Target> {
  const region = await requireRegion(regionFlag);
  let outputs: Record<string, string>;
  try {
    outputs = await readStackOutputs(stack, region);
    for (const key of ['WebhookUrl', 'EventsTableName', 'SigningSecretArn', 'QueueUrl', 'DeadLetterQueueUrl'])
      requireOutput(outputs, key, stack);
  } catch (error) {
    throw new CheckFailed(
      `${errorText(error)} Check its name and region: aws cloudformation describe-stacks --stack-name ${stack} --region ${region}`,
    );
  }
  line('ok', `stack ${stack} in ${region}: outputs read`);
  const secretArn = outputs.SigningSecretArn as string;
  const flags = `--stack ${stack}${regionFlag ? ` --region ${regionFlag}` : ''}`;
  const table = await resolveTableTarget({ stack, region });
  const queues = await resolveQueueTarget({ stack, region });
  return {
    flags,
    stack,
    region,
    webhookUrl: outputs.WebhookUrl as string,
    table,
    queues,
    secret: async () => {
      const client = new SecretsManagerClient({ region });
      try {
        const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
        const [current] = credentialsOf(parseSigningSecretDocument(SecretString ?? '{}'), PROVIDER).secrets;
        if (!current)
          throw new CheckFailed(
            `the stack's signing secret holds no SORI secret_key: set it with printf '%s' "$SORI_SECRET_KEY" | ${invocation('set-secret')} ${flags}`,
          );
        return current;
      } catch (error) {
        if (error instanceof CheckFailed) throw error;
        throw new CheckFailed(
          `could not read the signing secret ${secretArn}: ${errorText(error)}: your AWS identity needs secretsmanager:GetSecretValue on it`,
        );
      } finally {
        client.destroy();
      }
    },
  };
}

async function localTarget(values: {
  url?: string | undefined;
  endpoint?: string | undefined;
  table?: string | undefined;
  region?: string | undefined;
}): Promise<Target> {
  const dir = dataDir();
  const running = await findRunningStack(dir);
  const webhookUrl = values.url ?? running?.webhookUrls?.[PROVIDER];
  if (!webhookUrl) throw noLocalStack('--stack <name> (or --url with --endpoint and --table)', dir);
  const named = Boolean(
    values.endpoint || values.table || process.env.EVENTS_ENDPOINT || process.env.EVENTS_TABLE,
  );
  if (!named && !running)
    throw new UsageError(
      'with --url and no local stack running, name the records table with --endpoint and --table',
    );
  const table = await resolveTableTarget({
    endpoint: values.endpoint,
    table: values.table,
    region: values.region,
  });
  // The queues are the local stack's only when the table is too: a named table belongs to some other setup.
  const queues = running && !named ? await resolveQueueTarget({}) : undefined;
  line(
    'ok',
    running && !named
      ? `local stack on ${forTerminal(dir)} is running`
      : `table ${forTerminal(table.tableName)}`,
  );
  return {
    flags: '',
    webhookUrl,
    table,
    queues,
    secret: async () => {
      const secret = await localSecret(dir);
      if (!secret)
        throw new CheckFailed(`no SORI secret found in ${dir}: pass --secret <key> or set SORI_SECRET_KEY`);
      return secret;
    },
  };
}

function errorText(error: unknown): string {
  return forTerminal((error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '');
}

/** Posts the signed delivery. @returns the line of the webhook check. */
async function post(target: Target, secret: string, body: string, given: boolean): Promise<string> {
  const provider = findProvider(PROVIDER);
  const scheme = provider?.auth.scheme;
  const header = scheme?.kind === 'hmac' ? scheme.header : 'x-sori-signature';
  const started = performance.now();
  const where = URL.canParse(target.webhookUrl) ? new URL(target.webhookUrl).origin : target.webhookUrl;
  const response = await fetch(target.webhookUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [header]: signBody(body, secret).toString('hex') },
    body,
    signal: AbortSignal.timeout(30_000),
  }).catch((error: unknown) => {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new CheckFailed(
      `webhook not reached at ${forTerminal(where)}: ${forTerminal(cause?.code ?? cause?.message ?? errorText(error))}: ${target.stack ? 'check the WebhookUrl output and your network' : 'is the local stack running?'}`,
    );
  });
  const ms = Math.round(performance.now() - started);
  const text = forTerminal((await response.text()).slice(0, 200));
  if (response.status === 202) return `webhook answered 202 in ${ms} ms`;
  const next =
    response.status === 401 || response.status === 403
      ? given
        ? 'the secret given with --secret is not one the stack verifies with'
        : target.stack
          ? `the stack's SORI secret did not verify the signature; set it again with ${invocation('set-secret')} ${target.flags} (the receive function reads a changed secret within 5 minutes)`
          : 'the secret signed with is not the one the local stack verifies with (SORI_SECRET_KEY or its dev secret)'
      : response.status >= 500
        ? `check the receive function's logs${target.stack ? ` (stack ${target.stack})` : ''}`
        : 'check the webhook URL';
  throw new CheckFailed(`webhook answered ${response.status}, not 202 (${text}): ${next}`);
}

/** The doctor campaign's stored events with their days, newest first (every test delivery still stored). */
async function doctorEvents(table: TableTarget): Promise<StoredEvent[]> {
  const repository = new RecordsRepository(table.client, table.tableName, table.layout);
  return repository.queryEvents({ provider: PROVIDER, campaign: DOCTOR_CAMPAIGN, limit: 10_000 });
}

async function impressionsOn(table: TableTarget, day: string): Promise<number> {
  const items = await new CampaignStats(table.client, table.tableName).counterItems(
    PROVIDER,
    DOCTOR_CAMPAIGN,
    day,
    day,
  );
  return items.map(toCampaignDayStats).reduce((sum, row) => sum + row.impressions, 0);
}

/** One repair pass on the table, as the scheduled function runs it; a pass that gives way is retried next poll. */
async function foldNow(table: TableTarget): Promise<void> {
  await new CampaignCounters(table.client, table.tableName, table.layout)
    // Never takes over a fold another pass left: this machine's clock may be off.
    .repair(Date.now(), { takeOver: false })
    .catch(() => undefined);
}

/** Waits until the test record can be queried and its campaign-day counts it. @returns the check's line. */
async function awaitRecord(target: Target, activityId: string, day: string, waitMs: number): Promise<string> {
  const started = Date.now();
  let lastReport = started;
  for (;;) {
    const events = await doctorEvents(target.table);
    const stored = events.some((event) => event.activity_id === activityId);
    // The scheduled repair folds the batches' journal into the counters once a minute; the doctor runs a pass
    // itself rather than wait for it (a pass running at the same time makes this one give way: no harm).
    if (stored) await foldNow(target.table);
    const impressions = stored ? await impressionsOn(target.table, day) : 0;
    if (stored && impressions >= 1)
      return `record stored and counted after ${seconds(Date.now() - started)} (campaign ${DOCTOR_CAMPAIGN} on ${day}: ${impressions} impression${impressions === 1 ? '' : 's'})`;
    const elapsed = Date.now() - started;
    if (elapsed >= waitMs) {
      const state = stored ? 'queryable but not counted' : 'not queryable';
      const logs = stored ? "the repair-counters function's logs" : "the process function's logs";
      throw new CheckFailed(
        `record ${state} after ${Math.round(waitMs / 1000)} s: check ${logs} and the DLQ (${invocation('events')} dlq list${target.flags ? ` ${target.flags}` : ''})`,
      );
    }
    if (Date.now() - lastReport >= 5_000) {
      lastReport = Date.now();
      progress(
        `waiting for the test record (${Math.round(elapsed / 1000)} s of ${Math.round(waitMs / 1000)} s)`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function checkDeadLetters(target: Target): Promise<[Outcome, string]> {
  if (!target.queues)
    return ['skip', 'dead-letter queue: none to check here (pass --stack, or run against the local stack)'];
  const { Attributes = {} } = await target.queues.client.send(
    new GetQueueAttributesCommand({
      QueueUrl: target.queues.dlqUrl,
      AttributeNames: ['ApproximateNumberOfMessages'],
    }),
  );
  const count = Number(Attributes.ApproximateNumberOfMessages ?? 0);
  if (count === 0) return ['ok', 'dead-letter queue is empty'];
  const where = target.flags ? ` ${target.flags}` : '';
  throw new CheckFailed(
    `dead-letter queue holds ${count} message${count === 1 ? '' : 's'}: see why with ${invocation('events')} dlq list${where}, then after a fix ${invocation('events')} redrive${where}`,
  );
}

async function checkAlarms(target: Target): Promise<[Outcome, string]> {
  if (!target.stack)
    return ['skip', 'alarms: the local stack has none (only a deployed stack has CloudWatch alarms)'];
  const client = new CloudFormationClient({ region: target.region });
  const resources: StackResourceSummary[] = [];
  try {
    for await (const page of paginateListStackResources({ client }, { StackName: target.stack }))
      resources.push(...(page.StackResourceSummaries ?? []));
  } catch (error) {
    throw new CheckFailed(
      `could not list the resources of stack ${target.stack}: ${errorText(error)}: your AWS identity needs cloudformation:ListStackResources`,
    );
  } finally {
    client.destroy();
  }
  const alarms = resources.filter((resource) => resource.ResourceType === 'AWS::CloudWatch::Alarm');
  const broken = alarms.filter(
    (alarm) => !/_COMPLETE$/.test(alarm.ResourceStatus ?? '') || /DELETE/.test(alarm.ResourceStatus ?? ''),
  );
  if (alarms.length === 0)
    throw new CheckFailed(
      `stack ${target.stack} has no CloudWatch alarms: deploy this version of the stack (npx cdk deploy) so they are created`,
    );
  if (broken.length > 0)
    throw new CheckFailed(
      `${broken.length} of stack ${target.stack}'s ${alarms.length} alarms are not in place (${forTerminal(broken.map((alarm) => `${alarm.LogicalResourceId}: ${alarm.ResourceStatus}`).join(', '))}): see the stack's events in the CloudFormation console`,
    );
  return ['ok', `${alarms.length} alarms exist in stack ${target.stack}`];
}

const S = (value: string): AttributeValue => ({ S: value });

/**
 * Deletes every test delivery of the doctor campaign (this run's and any an earlier run left behind), each
 * one's device marker, and the campaign's counter items, by key. The counter items go last: the campaign's
 * events are found through them.
 * @returns how many items went.
 */
async function removeTestRecords(table: TableTarget): Promise<number> {
  const keys: Record<string, AttributeValue>[] = [];
  for (const event of await doctorEvents(table)) {
    const placement = placementOf(event);
    if (placement === undefined) continue;
    keys.push({
      [RECORDS_TABLE.partitionKey]: S(`${placement}#${shardOf(event.id, table.layout.shards)}`),
      [RECORDS_TABLE.sortKey]: S(eventSortKey(event.created_at, event.id)),
    });
    const marker = deviceMarkerItem(event, table.layout);
    if (marker)
      keys.push({
        [RECORDS_TABLE.partitionKey]: marker[RECORDS_TABLE.partitionKey] as AttributeValue,
        [RECORDS_TABLE.sortKey]: marker[RECORDS_TABLE.sortKey] as AttributeValue,
      });
    const counter = counterKeyOf(event);
    if (counter) keys.push(counterItemKey(counter));
    // The device's days in the doctor campaign, kept by the repair for unique devices over ranges.
    if (event.device_id && event.campaign_id) {
      keys.push({
        [RECORDS_TABLE.partitionKey]: S(deviceReachPartitionKey(event.provider, event.device_id)),
        [RECORDS_TABLE.sortKey]: S(event.campaign_id),
      });
    }
  }
  const counters = await new CampaignStats(table.client, table.tableName).counterItems(
    PROVIDER,
    DOCTOR_CAMPAIGN,
  );
  for (const counter of counters)
    keys.push(counterItemKey({ provider: PROVIDER, campaignId: DOCTOR_CAMPAIGN, day: counter.day }));
  const unique = [...new Map(keys.map((key) => [JSON.stringify(key), key])).values()];
  const isCounter = (key: Record<string, AttributeValue>) =>
    key[RECORDS_TABLE.partitionKey]?.S?.startsWith('STATS#') ?? false;
  unique.sort((a, b) => Number(isCounter(a)) - Number(isCounter(b)));
  for (const Key of unique)
    await table.client.send(new DeleteItemCommand({ TableName: table.tableName, Key }));
  return unique.length;
}

async function cleanUp(table: TableTarget): Promise<string> {
  const removed = await removeTestRecords(table);
  const events = (await doctorEvents(table)).length;
  const counters = (
    await new CampaignStats(table.client, table.tableName).counterItems(PROVIDER, DOCTOR_CAMPAIGN)
  ).length;
  if (events > 0 || counters > 0)
    throw new CheckFailed(
      `campaign ${DOCTOR_CAMPAIGN} still has ${events} events and ${counters} counter items after cleanup: run doctor again to remove them`,
    );
  return `test record, device marker and counter removed (${removed} items; no view counts campaign ${DOCTOR_CAMPAIGN})`;
}

/** The options of `doctor`, parsed and checked: a mistake in them is a usage error (exit code 2). */
function readOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      stack: { type: 'string' },
      region: { type: 'string' },
      url: { type: 'string' },
      endpoint: { type: 'string' },
      table: { type: 'string' },
      secret: { type: 'string' },
      wait: { type: 'string', default: '60' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return { ...values, waitMs: 0 };
  const waitSeconds = Number(values.wait);
  if (!Number.isFinite(waitSeconds) || waitSeconds < 1 || waitSeconds > 900)
    throw new UsageError('--wait must be a number of seconds from 1 to 900');
  if (values.stack && (values.url || values.endpoint || values.table))
    throw new UsageError(
      '--stack takes the URL and table from the stack: leave out --url, --endpoint and --table',
    );
  return { ...values, waitMs: waitSeconds * 1000 };
}
type Options = ReturnType<typeof readOptions>;

/** Runs checks one after another, each printing its line; a failure the user can act on is a FAIL line, not the end. */
class Checks {
  failures = 0;

  /** @returns `true` when the check passed (or was skipped). */
  async run(what: () => Promise<[Outcome, string]>): Promise<boolean> {
    try {
      const [outcome, text] = await what();
      line(outcome, text);
      return true;
    } catch (error) {
      // An unforeseen error (a refused AWS call, a lost connection) fails its check and lets the rest run.
      this.failures++;
      line('FAIL', errorText(error));
      return false;
    }
  }
}

/** The secret to sign with: `--secret`, else the target's, read as a check of its own. */
async function signingSecret(checks: Checks, target: Target, given: string | undefined) {
  if (given !== undefined) return given;
  let secret: string | undefined;
  const read = await checks.run(async () => {
    secret = await target.secret();
    return [
      'ok',
      target.stack
        ? "SORI secret read from the stack's signing secret"
        : 'SORI secret of the local stack read',
    ];
  });
  return read ? secret : undefined;
}

/** Every check on a target whose coordinates were found, then the cleanup, whatever the checks found. */
async function checkTarget(target: Target, options: Options): Promise<number> {
  const checks = new Checks();
  const delivery = testDelivery();
  const secret = await signingSecret(checks, target, options.secret);
  const posted =
    secret !== undefined &&
    (await checks.run(async () => [
      'ok',
      await post(target, secret, delivery.body, options.secret !== undefined),
    ]));
  if (!posted) line('skip', 'record: no test delivery was accepted');
  else
    await checks.run(async () => [
      'ok',
      await awaitRecord(target, delivery.activityId, delivery.day, options.waitMs),
    ]);
  await checks.run(() => checkDeadLetters(target));
  await checks.run(() => checkAlarms(target));
  // Even when the record did not show up in time, what is stored under the doctor campaign is removed: an
  // earlier run's leftovers, or this run's own stored since.
  await checks.run(async () => ['ok', await cleanUp(target.table)]);
  return checks.failures;
}

async function main(argv: string[]): Promise<number> {
  const options = readOptions(argv);
  if (options.help) {
    console.log(usage());
    return 0;
  }
  let target: Target;
  try {
    target = options.stack
      ? await stackTarget(options.stack, options.region)
      : await localTarget({
          url: options.url,
          endpoint: options.endpoint,
          table: options.table,
          region: options.region,
        });
  } catch (error) {
    if (!(error instanceof CheckFailed)) throw error;
    line('FAIL', error.message);
    return 1;
  }
  try {
    return (await checkTarget(target, options)) === 0 ? 0 : 1;
  } finally {
    await target.table.close();
    target.queues?.close();
  }
}

/** The tool: checks a stack end to end. @returns the exit code (0 all passed, 1 a check failed, 2 usage). */
export async function run(argv: string[]): Promise<number> {
  try {
    return await main(argv);
  } catch (error) {
    return reportFailure('doctor', error);
  }
}

if (isEntry(import.meta.url)) runAsEntry(run);
