import type { Provider } from '../providers/provider';
import type { QueueMessage } from './event-record';
import { buildQuarantineId } from './record-id';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function decodeUtf8(raw: Uint8Array): string | undefined {
  try {
    return utf8.decode(raw);
  } catch {
    return undefined;
  }
}

/**
 * Turns an authentic body into the one message the queue carries: the normalized record when the provider's
 * schemas understand it, else a quarantine note with the reason. Nothing authentic is dropped (DESIGN.md
 * decision 3). The raw body travels as text when it is valid UTF-8, else as base64.
 *
 * @returns never throws.
 */
export function buildQueueMessage(provider: Provider, raw: Uint8Array, receivedAt: string): QueueMessage {
  const text = decodeUtf8(raw);
  const body =
    text === undefined
      ? { raw: Buffer.from(raw).toString('base64'), raw_encoding: 'base64' as const }
      : { raw: text, raw_encoding: 'utf8' as const };
  const quarantine = (reason: string): QueueMessage => ({
    v: 1,
    kind: 'quarantine',
    record: {
      id: buildQuarantineId(provider.name, raw),
      provider: provider.name,
      reason,
      received_at: receivedAt,
    },
    ...body,
  });

  if (text === undefined) return quarantine('body is not valid UTF-8');
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (error) {
    return quarantine(`invalid JSON: ${describeJsonError(error)}`);
  }
  const interpretation = provider.interpret(payload, receivedAt);
  if (!interpretation.ok) return quarantine(interpretation.reason);
  return { v: 1, kind: 'event', record: interpretation.record, ...body };
}

/** The parser's complaint without the snippet of body that newer Node versions quote in it. */
function describeJsonError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const position = /position (\d+)/.exec(message);
  if (message.includes('Unexpected end')) return 'unexpected end of input';
  return position ? `unexpected token at position ${position[1]}` : 'unexpected token';
}
