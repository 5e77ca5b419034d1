import type { EventPolicy, EventRecord, QueueMessage } from '../events/event-record';
import { findProvider } from '../providers';
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
 * A message with its event's policy: a message of the earlier layout (version 1, sent before an upgrade and
 * still in the queue) gets the one the provider's current code gives. An unknown provider's event keeps none.
 */
export function withPolicy(message: QueueMessage): QueueMessage {
  if (message.kind !== 'event' || message.policy) return message;
  const provider = findProvider(message.record.provider);
  return provider ? { ...message, policy: policyFor(provider, message.record) } : message;
}

/** The event types a provider's current code counts (for journal entries of the earlier layout). */
export const countedEvents = (providerName: string): string[] =>
  Object.keys(findProvider(providerName)?.counted ?? {});

/** The provider of a stored delivery, to interpret its raw body again (`undefined`: no longer served). */
export const providerNamed = (name: string): Provider | undefined => findProvider(name);
