/**
 * Journaling of the signal facts for tests: the consumer journals each first insert's fact with its tally
 * (`signalFactsOf`) and names its logins' partitions when it opens its entry (`loginFamiliesOf`).
 * {@link JournalingCounters} does that journaling around `storeBatch`, from the batch's own writes (the records
 * whose `writer` names the batch), as the consumer does from the answers of those writes.
 */
import { type DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { QueueMessage } from '../../lib/events/event-record';
import { type BatchTally, CampaignCounters, type CounterGroup } from '../../lib/ingest/campaign-counters';
import type { EventWriter } from '../../lib/ingest/event-writer';
import { storeBatch } from '../../lib/ingest/store-batch';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { loginFamiliesOf, signalFactOf } from '../../lib/signals/facts';
import { DEFAULT_SIGNAL_THRESHOLDS, type SignalThresholds } from '../../lib/signals/thresholds';
import type { SignalFact } from '../../lib/table/journal-facts';
import { counterKeyOf, itemKey, type TableLayout } from '../../lib/table/records-table';
import { soriPayload } from './deliveries';

/** The day the signal tests' events are created on. */
export const SIGNAL_DAY = '2025-10-14';

/** Thresholds a short burst can cross. */
export const TEST_THRESHOLDS: SignalThresholds = {
  ...DEFAULT_SIGNAL_THRESHOLDS,
  clicksPerMinute: 3,
  ctr: 0.5,
  ctrMinImpressions: 10,
  accountsPerDevice: 2,
  countryMinutes: 60,
  impressionMinutes: 10,
};

/** Counters whose batches journal the signal facts of their first inserts (set `batch` before each batch). */
export class JournalingCounters extends CampaignCounters {
  batch: readonly QueueMessage[] = [];
  private readonly groups = new Map<string, CounterGroup[]>();

  constructor(
    client: DynamoDBClient,
    private readonly table: string,
    private readonly tableLayout: TableLayout,
    private readonly reader: DynamoDBClient = client,
  ) {
    super(client, table, tableLayout);
    this.signalThresholds = TEST_THRESHOLDS;
  }

  override open(token: string, groups: CounterGroup[]): Promise<void> {
    this.groups.set(token, groups);
    return super.open(token, groups, loginFamiliesOf(this.batch));
  }

  override async close(token: string, tally: BatchTally): Promise<boolean> {
    const groups = this.groups.get(token) ?? [];
    const signals: SignalFact[] = [];
    for (const message of this.batch) {
      if (message.kind !== 'event') continue;
      const key = itemKey(message, this.tableLayout);
      const { Item } = await this.reader.send(
        new GetItemCommand({
          TableName: this.table,
          Key: { pk: { S: key.pk }, sk: { S: key.sk } },
          ConsistentRead: true,
        }),
      );
      if (!Item?.writer?.S?.startsWith(`${token}.`)) continue;
      const counter = counterKeyOf(message.record);
      const g = counter
        ? groups.findIndex(
            (group) => group.key.campaignId === counter.campaignId && group.key.day === counter.day,
          )
        : -1;
      const fact = signalFactOf(message.record, g >= 0 ? g : undefined);
      if (fact) signals.push(fact);
    }
    return super.close(token, { ...tally, signals });
  }
}

let sequence = 0;
/** A SORI event on {@link SIGNAL_DAY}; every field the signals read given, the rest from SORI's example. */
export function signalEvent(
  kind: 'impression' | 'click' | 'authentication',
  fields: {
    at: string;
    device: string;
    activity?: string;
    campaign?: string;
    account?: string;
    country?: string;
  },
): QueueMessage {
  const base = soriPayload(kind);
  const payload: Record<string, unknown> = {
    ...base,
    created_at: `${SIGNAL_DAY}T${fields.at}Z`,
    device_id: fields.device,
    account_id: fields.account ?? 'acc_1',
    geolocation: { ...(base.geolocation as object), viewer_country: fields.country ?? 'United States' },
    metadata: { n: String(sequence++) },
  };
  if (kind !== 'authentication') {
    payload.activity_id = fields.activity;
    payload.campaign = { ...(base.campaign as object), id: fields.campaign ?? 'cmp_a' };
  }
  return buildQueueMessage(sori, Buffer.from(JSON.stringify(payload)), '2026-01-01T00:00:00.000Z');
}

/** An impression and its click 30 s later, by one device. */
export const viewed = (activity: string, device: string, at: string, campaign = 'cmp_a') => [
  signalEvent('impression', { at: `${at}:00.000`, device, activity, campaign }),
  signalEvent('click', { at: `${at}:30.000`, device, activity, campaign }),
];

/** Clean traffic: 12 impressions (one device each), 2 of them clicked a minute apart; one login per device. */
export function cleanBurst(prefix: string): QueueMessage[] {
  const out: QueueMessage[] = [];
  for (let i = 0; i < 12; i++) {
    const device = `${prefix}_dev_${i}`;
    const at = `10:${String(10 + i).padStart(2, '0')}`;
    if (i < 2) out.push(...viewed(`${prefix}_act_${i}`, device, at));
    else out.push(signalEvent('impression', { at: `${at}:00.000`, device, activity: `${prefix}_act_${i}` }));
    out.push(signalEvent('authentication', { at: `${at}:05.000`, device, account: `${prefix}_acc_${i}` }));
  }
  return out;
}

/**
 * Each fraud pattern crafted once, beside clean traffic: a click without an impression (`o_act` on `cmp_a`), a
 * device clicking 4 times in a minute (`b_dev` on `cmp_b`), a campaign-day whose CTR crosses the threshold
 * (`cmp_h`), a device signed in to 3 accounts (`s_dev`) and one signed in from two countries 20 minutes apart
 * (`x_dev`, its second login in `hops[1]`).
 */
export function fraudPatterns() {
  const clean = cleanBurst('c');
  const orphan = [signalEvent('click', { at: '11:00:00.000', device: 'o_dev', activity: 'o_act' })];
  const burst = [
    ...Array.from({ length: 4 }, (_, i) =>
      signalEvent('impression', {
        at: `12:00:0${i}.000`,
        device: 'b_dev',
        activity: `b_act_${i}`,
        campaign: 'cmp_b',
      }),
    ),
    ...Array.from({ length: 4 }, (_, i) =>
      signalEvent('click', {
        at: `12:00:1${i}.000`,
        device: 'b_dev',
        activity: `b_act_${i}`,
        campaign: 'cmp_b',
      }),
    ),
  ];
  const ctr = Array.from({ length: 10 }, (_, i) =>
    i < 6
      ? viewed(`h_act_${i}`, `h_dev_${i}`, `13:${String(10 + i)}`, 'cmp_h')
      : [
          signalEvent('impression', {
            at: `13:${String(10 + i)}:00.000`,
            device: `h_dev_${i}`,
            activity: `h_act_${i}`,
            campaign: 'cmp_h',
          }),
        ],
  ).flat();
  const shared = ['s_acc_1', 's_acc_2', 's_acc_3'].map((account, i) =>
    signalEvent('authentication', { at: `14:0${i}:00.000`, device: 's_dev', account }),
  );
  const hops = [
    signalEvent('authentication', {
      at: '15:00:00.000',
      device: 'x_dev',
      account: 'x_acc',
      country: 'United States',
    }),
    signalEvent('authentication', {
      at: '15:20:00.000',
      device: 'x_dev',
      account: 'x_acc',
      country: 'France',
    }),
  ];
  return { clean, orphan, burst, ctr, shared, hops };
}

/**
 * Stores each batch through `storeBatch`, journaling it as the consumer does.
 * @throws when a message of a batch is not stored.
 */
export async function storeJournaled(
  counters: JournalingCounters,
  writer: EventWriter,
  batches: QueueMessage[][],
) {
  for (const batch of batches) {
    counters.batch = batch;
    const outcomes = await storeBatch(writer, counters, batch);
    const failed = outcomes.filter((outcome) => !outcome.ok);
    if (failed.length > 0) throw new Error(`${failed.length} of ${batch.length} messages were not stored`);
  }
}
