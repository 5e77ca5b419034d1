import {
  type CountedKinds,
  type EventPolicy,
  type EventRecord,
  kindOf,
  type QueueMessage,
} from '../events/event-record';
import { firstNormalizer } from '../events/normalizer';
import { findProvider } from '../providers';
import { DEFAULT_APP } from '../providers/apps';
import type { Provider } from '../providers/provider';

/** The event types a provider counts, each with what it counts as: its own entries only, never an inherited name. */
export function countedKindsOf(provider: Provider): CountedKinds {
  return Object.fromEntries(Object.entries(provider.counted ?? {}));
}

/** The event types a provider counts as impressions. */
const impressionTypesOf = (provider: Provider) =>
  Object.entries(countedKindsOf(provider))
    .filter(([, kind]) => kind === 'impressions')
    .map(([event]) => event);

/** What a provider's code decides about one of its events when it is received (see `EventPolicySchema`). */
export function policyFor(provider: Provider, record: EventRecord): EventPolicy {
  const kinds = countedKindsOf(provider);
  const countedAs = kindOf(kinds, record.event);
  return {
    keyed_by_id: provider.timeIsReceipt === true,
    counted: countedAs !== undefined,
    ...(countedAs ? { counted_as: countedAs } : {}),
    ...(countedAs === 'clicks' ? { pairs_with: impressionTypesOf(provider) } : {}),
    state: provider.stateOf?.(record) ?? null,
  };
}

/**
 * A policy of a message sent before policies said what a counted event counts as, completed from the
 * provider's current code (the event keeps whether it counts, as received).
 */
function completed(policy: EventPolicy, record: EventRecord): EventPolicy {
  if (!policy.counted || (policy.counted_as && (policy.counted_as !== 'clicks' || policy.pairs_with)))
    return policy;
  const provider = findProvider(record.provider);
  if (!provider) return policy;
  const countedAs = policy.counted_as ?? kindOf(countedKindsOf(provider), record.event);
  if (!countedAs) return policy;
  return {
    ...policy,
    counted_as: countedAs,
    ...(countedAs === 'clicks' ? { pairs_with: policy.pairs_with ?? impressionTypesOf(provider) } : {}),
  };
}

/**
 * A message with its event's policy, its record's `normalizer` and `app`: a message of the earlier layout
 * (version 1, sent before an upgrade and still in the queue) gets the policy the provider's current code gives.
 * A record without a normalizer was made before records said which made them, by `<provider>@1` (not the current
 * mapping, which may be later), and one without an app came to the provider's own URL. A version 2 policy sent
 * before policies said what a counted event counts as (and what a click pairs with) gets that from the
 * provider's current code too. An unknown provider's event keeps no policy.
 */
export function withPolicy(message: QueueMessage): QueueMessage {
  if (message.kind !== 'event') return message;
  const record =
    message.record.normalizer !== undefined && message.record.app !== undefined
      ? message.record
      : {
          ...message.record,
          normalizer: message.record.normalizer ?? firstNormalizer(message.record.provider),
          app: message.record.app ?? DEFAULT_APP,
        };
  if (message.policy) {
    const policy = completed(message.policy, record);
    return record === message.record && policy === message.policy ? message : { ...message, record, policy };
  }
  const provider = findProvider(record.provider);
  return provider ? { ...message, record, policy: policyFor(provider, record) } : { ...message, record };
}

/** The event types a provider's current code counts (for journal entries of the earlier layout). */
export const countedEvents = (providerName: string): string[] =>
  Object.keys(findProvider(providerName)?.counted ?? {});

/**
 * What a provider's current code counts its event types as: for data stored before the upgrade that kept what
 * each event counted as when received (journal entries, counter items, records of the earlier layouts). An
 * unknown provider counts nothing.
 */
export function currentCountedKinds(providerName: string): CountedKinds {
  const provider = findProvider(providerName);
  return provider ? countedKindsOf(provider) : {};
}

/** The provider of a stored delivery, to interpret its raw body again (`undefined`: no longer served). */
export const providerNamed = (name: string): Provider | undefined => findProvider(name);
