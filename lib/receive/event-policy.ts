import type { EventPolicy, EventRecord, QueueMessage } from '../events/event-record';
import { firstNormalizer } from '../events/normalizer';
import { findProvider } from '../providers';
import { DEFAULT_APP } from '../providers/apps';
import type { Provider } from '../providers/provider';

/** What a provider's code decides about one of its events when it is received (see `EventPolicySchema`). */
export function policyFor(provider: Provider, record: EventRecord): EventPolicy {
  return {
    keyed_by_id: provider.timeIsReceipt === true,
    counted: provider.counted !== undefined && Object.hasOwn(provider.counted, record.event),
    state: provider.stateOf?.(record) ?? null,
  };
}

/**
 * A message with its event's policy, its record's `normalizer` and `app`: a message of the earlier layout
 * (version 1, sent before an upgrade and still in the queue) gets the policy the provider's current code gives.
 * A record without a normalizer was made before records said which made them, by `<provider>@1` (not the current
 * mapping, which may be later), and one without an app came to the provider's own URL. An unknown provider's
 * event keeps no policy.
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
  if (message.policy) return record === message.record ? message : { ...message, record };
  const provider = findProvider(record.provider);
  return provider ? { ...message, record, policy: policyFor(provider, record) } : { ...message, record };
}

/** The event types a provider's current code counts (for journal entries of the earlier layout). */
export const countedEvents = (providerName: string): string[] =>
  Object.keys(findProvider(providerName)?.counted ?? {});

/** The provider of a stored delivery, to interpret its raw body again (`undefined`: no longer served). */
export const providerNamed = (name: string): Provider | undefined => findProvider(name);
