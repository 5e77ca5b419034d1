import type { EventRecord, QueueMessage } from '../events/event-record';
import type { SignalFact } from '../table/journal-facts';
import { placementOf } from '../table/records-table';

/**
 * The event types that are a device signing in: SORI's `authentication`, "sent after a device completes
 * authentication with SORI", which carries the account and the device.
 */
export const LOGIN_EVENTS: ReadonlySet<string> = new Set(['authentication']);

/** `true` for a record of a device signing in to an account. */
export const isLogin = (record: EventRecord) => LOGIN_EVENTS.has(record.event) && !record.campaign_id;

/**
 * GeoIP gives `Unknown` when it cannot tell the country: such a login is in no country, rather than in one
 * country called Unknown.
 */
export function countryOf(record: EventRecord): string | null {
  const country = record.geolocation?.viewer_country;
  return country && country !== 'Unknown' ? country : null;
}

/**
 * The fact a first insert journals for the signals, `undefined` when it tells them nothing.
 * @param group the index of the record's campaign-day in its batch's journal entry (campaign events only).
 */
export function signalFactOf(record: EventRecord, group: number | undefined): SignalFact | undefined {
  if (group !== undefined) {
    if (!record.activity_id && !record.device_id) return undefined;
    return ['c', group, record.event, record.activity_id, record.device_id, record.created_at];
  }
  if (!isLogin(record) || !record.device_id) return undefined;
  return ['l', record.provider, record.device_id, record.account_id, countryOf(record), record.created_at];
}

/**
 * The partition families of a batch's logins (without their shard): a batch's journal entry names them when
 * it opens, so that a batch killed before it closed has its logins counted from its own writes.
 */
export function loginFamiliesOf(messages: readonly QueueMessage[]): string[] {
  const families = new Set<string>();
  for (const message of messages) {
    if (message.kind !== 'event' || !isLogin(message.record) || !message.record.device_id) continue;
    const family = placementOf(message.record, message.policy?.keyed_by_id);
    if (family) families.add(family);
  }
  return [...families];
}

/**
 * The facts of a batch's first inserts, in message order.
 * @param groupOf each message's campaign-day index in the journal entry (`undefined` for none).
 * @param stored what each message's record write answered.
 */
export function signalFactsOf(
  messages: readonly QueueMessage[],
  groupOf: readonly (number | undefined)[],
  stored: ReadonlyArray<'stored' | 'duplicate' | undefined>,
): SignalFact[] {
  const facts: SignalFact[] = [];
  messages.forEach((message, i) => {
    if (message.kind !== 'event' || stored[i] !== 'stored') return;
    const fact = signalFactOf(message.record, groupOf[i]);
    if (fact) facts.push(fact);
  });
  return facts;
}
