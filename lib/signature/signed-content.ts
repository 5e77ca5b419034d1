import type { SignedContent } from './verify-signature';

/** One piece of a signed-content template: literal text, the raw body, or a header's value. */
export type SignedPart = { text: string } | { value: 'body' | 'timestamp' | 'id' };

/** The signed content of a scheme that signs the raw body alone. */
export const BODY_ONLY = '{body}';

/** Longest template accepted: a few separators and three placeholders, with room to spare. */
const MAX_TEMPLATE_LENGTH = 200;

const PLACEHOLDER = /\{([^{}]*)\}/g;

/**
 * Reads a signed-content template (`{id}.{timestamp}.{body}`, `v0:{timestamp}:{body}`): literal text and the
 * placeholders `{body}` (exactly once), `{timestamp}` and `{id}`, each at most once.
 * @returns the parts in order, or why the template is not one (for a configuration error).
 */
export function parseSignedContent(template: string): SignedPart[] | { error: string } {
  if (template.length > MAX_TEMPLATE_LENGTH)
    return { error: `expected at most ${MAX_TEMPLATE_LENGTH} characters` };
  const parts: SignedPart[] = [];
  const seen = new Set<string>();
  let at = 0;
  for (const match of template.matchAll(PLACEHOLDER)) {
    const name = match[1] ?? '';
    if (name !== 'body' && name !== 'timestamp' && name !== 'id')
      return { error: `unknown placeholder {${name}}: expected {body}, {timestamp} or {id}` };
    if (seen.has(name)) return { error: `{${name}} appears more than once` };
    seen.add(name);
    if (match.index > at) parts.push({ text: template.slice(at, match.index) });
    parts.push({ value: name });
    at = match.index + match[0].length;
  }
  if (at < template.length) parts.push({ text: template.slice(at) });
  if (parts.some((part) => 'text' in part && /[{}]/.test(part.text)))
    return { error: 'a brace outside a placeholder' };
  if (!seen.has('body')) return { error: 'expected {body} in it' };
  return parts;
}

/** The placeholders a template uses (none for one that is not a template). */
export function placeholdersOf(template: string): Set<string> {
  const parts = parseSignedContent(template);
  return new Set(Array.isArray(parts) ? parts.flatMap((part) => ('value' in part ? [part.value] : [])) : []);
}

/**
 * What a sender signed, from the template's parts, the raw body and the headers' values: the body alone is
 * handed over as it is, a composed string as its parts (the body never copied).
 */
export function composeSignedContent(
  parts: readonly SignedPart[],
  raw: Uint8Array,
  values: { timestamp?: string | undefined; id?: string | undefined },
): SignedContent {
  if (parts.length === 1) return raw;
  return parts.map((part) => {
    if ('text' in part) return part.text;
    if (part.value === 'body') return raw;
    return values[part.value] ?? '';
  });
}
